package cluster

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/emltest"
	"github.com/kbpress/kb/internal/mailguntest"
)

// secret is KB_SECRET for every process of a test: instances sharing a
// database must sign links with one key.
const secret = "cluster-test-secret-0123456789abcdef0123456789"

// baseURL is the public address in links; tests swap it for a server's
// own address when they follow a link.
const baseURL = "http://kb.test/"

// env is the environment of one kb process: the shared secret, the given
// database, and the outbox instead of any Mailgun account the developer's
// shell may name. extra overrides.
func env(dsn string, extra map[string]string) map[string]string {
	e := map[string]string{
		"KB_SECRET":                   secret,
		"KB_DATABASE_URL":             dsn,
		"KB_SIGNUP_RATE":              "off",
		"KB_CONFIRM_CAP_DOMAIN":       "off",
		"KB_CONFIRM_CAP_TOTAL":        "off",
		"KB_TRUSTED_PROXIES":          "",
		"MAILGUN_API_KEY":             "",
		"MAILGUN_DOMAIN":              "",
		"MAILGUN_API_BASE":            "",
		"MAILGUN_WEBHOOK_SIGNING_KEY": "",
	}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

// site is a site built once by kb build and served or sent by every
// process of a test.
type site struct{ public, private string }

func buildSite(t *testing.T) site {
	t.Helper()
	dir := t.TempDir()
	s := site{public: filepath.Join(dir, "public"), private: filepath.Join(dir, "private")}
	o := kbproc.Options{Data: filepath.Join(dir, "data"), Env: env("", nil)}
	if out, errOut, err := kbproc.Run(t, o, "build", "--out", s.public, "--private", s.private, "--base-url", baseURL); err != nil {
		t.Fatalf("kb build: %v\n%s%s", err, out, errOut)
	}
	return s
}

// serveArgs serve the shared site as it is.
func (s site) serveArgs(worker string) []string {
	return []string{"--no-build", "--out", s.public, "--private", s.private, "--base-url", baseURL, "--worker-name", worker}
}

// mustRun runs a kb command to completion and returns its stdout.
func mustRun(t *testing.T, o kbproc.Options, args ...string) string {
	t.Helper()
	out, errOut, err := kbproc.Run(t, o, args...)
	if err != nil {
		t.Fatalf("kb %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// proc is a kb process running alongside others (kbproc.Run waits for
// each in turn).
type proc struct {
	cmd    *exec.Cmd
	stdout watchedLog
	stderr watchedLog
	done   chan struct{} // closed when it has exited; err is then set
	err    error
}

// startProc starts `kb ARGS…` with o's data folder and environment.
func startProc(t *testing.T, o kbproc.Options, args ...string) *proc {
	t.Helper()
	if o.Data == "" {
		o.Data = filepath.Join(t.TempDir(), "data")
	}
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(kbproc.Binary(t), append([]string{"--root", kbproc.RepoRoot()}, args...)...)
	environ := append(os.Environ(), "KB_DATA="+o.Data)
	for k, v := range o.Env {
		environ = append(environ, k+"="+v)
	}
	p.cmd.Env = environ
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// wait waits for the process to exit, killing it (and failing the test)
// if it is still running after d.
func (p *proc) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("kb %s still running after %s; killed.\nstderr:\n%s", p.args(), d, p.stderr.String())
	}
}

func (p *proc) args() string { return strings.Join(p.cmd.Args[3:], " ") }

// describe is the process's state and output, for failure messages.
func (p *proc) describe() string {
	state := "still running"
	select {
	case <-p.done:
		state = fmt.Sprint("exited: ", p.err)
		if p.err == nil {
			state = "exited: 0"
		}
	default:
	}
	return fmt.Sprintf("kb %s (pid %d), %s\nstdout:\n%s\nstderr:\n%s", p.args(), p.pid(), state, p.stdout.String(), p.stderr.String())
}

// watchedLog collects a process's output, safe to read while it runs, and
// tells when a text appears.
type watchedLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	watches []logWatch
}

type logWatch struct {
	substr string
	seen   chan struct{}
}

func (l *watchedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.fire()
	return len(p), nil
}

func (l *watchedLog) fire() {
	kept := l.watches[:0]
	for _, w := range l.watches {
		if bytes.Contains(l.buf.Bytes(), []byte(w.substr)) {
			close(w.seen)
		} else {
			kept = append(kept, w)
		}
	}
	l.watches = kept
}

// seen is closed once the log contains substr.
func (l *watchedLog) seen(substr string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := logWatch{substr, make(chan struct{})}
	l.watches = append(l.watches, w)
	l.fire()
	return w.seen
}

func (l *watchedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func (l *watchedLog) Bytes() []byte { return []byte(l.String()) }

// gatedMailgun is the Mailgun-compatible test server behind a proxy that
// holds every messages call until released. A kb send that took the lock
// therefore still holds it, mid-campaign, whenever the other process
// tries: the overlap does not depend on timing.
type gatedMailgun struct {
	*mailguntest.Server
	// APIBase is MAILGUN_API_BASE for the children: the proxy, with /v3.
	APIBase string
	open    chan struct{}
	once    sync.Once
}

// proxiedMailgun is a Mailgun-compatible server and a reverse proxy to it,
// for a test to put its own handler in between. The proxy logs nothing:
// calls abandoned by a test's handler (or by a killed process) are expected.
func proxiedMailgun(t *testing.T) (*mailguntest.Server, *httputil.ReverseProxy) {
	t.Helper()
	mg := mailguntest.New()
	t.Cleanup(mg.Close)
	target, err := url.Parse(strings.TrimSuffix(mg.URL(), "/v3"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	return mg, proxy
}

func newGatedMailgun(t *testing.T) *gatedMailgun {
	t.Helper()
	mg, proxy := proxiedMailgun(t)
	g := &gatedMailgun{Server: mg, open: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") {
			select {
			case <-g.open:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.release) // first: lets held calls go before the servers close
	g.APIBase = srv.URL + "/v3"
	return g
}

func (g *gatedMailgun) release() { g.once.Do(func() { close(g.open) }) }

// env is the Mailgun part of a kb send's environment.
func (g *gatedMailgun) env() map[string]string {
	return map[string]string{"MAILGUN_API_KEY": g.APIKey(), "MAILGUN_DOMAIN": g.Domain(), "MAILGUN_API_BASE": g.APIBase}
}

// writeCSV writes n generated subscribers with consent evidence for
// `kb subscribers import` and returns the file and the addresses.
func writeCSV(t *testing.T, n int, domain string) (path string, addresses []string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "subscribers.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write([]string{"email", "name", "consent_at", "consent_source"})
	consentAt := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range n {
		addr := fmt.Sprintf("klient%05d@%s", i, domain)
		addresses = append(addresses, addr)
		w.Write([]string{addr, fmt.Sprintf("Klient %d", i), consentAt.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"import: lista z biura 2026-03"})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return path, addresses
}

// email is an outbox .eml file as the tests read it back.
type email struct {
	file    string
	to      string // the address, as written
	tag     string // X-Mailgun-Tag: kb-confirm, kb-whitepaper or a guide's slug
	text    string // the decoded text/plain part
	unsub   string // the List-Unsubscribe URL
	subject string
}

// readOutbox parses every .eml in dir (none if it does not exist).
func readOutbox(t *testing.T, dir string) []email {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	emails := make([]email, 0, len(names))
	for _, name := range names {
		e, err := parseEmail(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		emails = append(emails, e)
	}
	return emails
}

func parseEmail(path string) (email, error) {
	m, err := emltest.Read(path)
	if err != nil {
		return email{}, err
	}
	if m.Text == "" {
		return email{}, fmt.Errorf("no text/plain part")
	}
	return email{file: path, to: m.To, tag: m.Header.Get("X-Mailgun-Tag"), subject: m.Subject,
		unsub: strings.Trim(m.Header.Get("List-Unsubscribe"), "<>"), text: m.Text}, nil
}

var confirmLink = regexp.MustCompile(regexp.QuoteMeta(baseURL) + `(api/confirm\?token=[A-Za-z0-9_-]+)`)

// confirmPath is the path and query of the confirmation link in e.
func (e email) confirmPath(t *testing.T) string {
	t.Helper()
	m := confirmLink.FindStringSubmatch(e.text)
	if m == nil {
		t.Fatalf("%s: no confirmation link in:\n%s", e.file, e.text)
	}
	return "/" + m[1]
}

// onServer rewrites a link from an email to point at a running server.
func onServer(link, serverURL string) string {
	return serverURL + "/" + strings.TrimPrefix(link, baseURL)
}

// httpClient is shared by the tests' requests to the servers.
var httpClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 32},
}

// get fetches url and fails the test unless it answers want.
func get(t *testing.T, ctx context.Context, url string, want int) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("GET %s: %s, want %d\n%s", url, res.Status, want, body)
	}
}

// confirm presses the button of a confirmation link's page: a POST of
// the same URL (opening the link alone confirms nothing).
func confirm(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	get(t, ctx, url, http.StatusOK)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s\n%s", url, res.Status, body)
	}
}

// personName is a name for reader i that the form accepts (letters only).
func personName(i int) string {
	s := ""
	for {
		s = string(rune('a'+i%26)) + s
		if i /= 26; i == 0 {
			return "Czytelnik " + s
		}
	}
}

// signup posts the JSON signup signup.js sends and checks the answer.
func signup(ctx context.Context, serverURL, address, name string, whitepaper bool) error {
	body, _ := json.Marshal(map[string]any{"email": address, "name": name, "consent": true,
		"whitepaper": whitepaper, "source": "/newsletter/"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, serverURL+"/api/subscribe", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("signup %s on %s: %w", address, serverURL, err)
	}
	defer res.Body.Close()
	var answer struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil || res.StatusCode != http.StatusOK || !answer.OK {
		return fmt.Errorf("signup %s on %s: %s %+v %v", address, serverURL, res.Status, answer, err)
	}
	return nil
}
