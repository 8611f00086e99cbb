// Package kbproc runs the real kb binary for end-to-end tests: built once
// per test binary, started as separate processes on free loopback ports
// with data folders of their own. It also holds what the end-to-end
// packages share around those processes: a copy of the site to change,
// processes to run side by side or kill (proc.go), a Mailgun-compatible
// server behind a proxy that picks the moment of a kill and the checks of
// the campaign ledger against it (mailgun.go), and what a reader does —
// sign up, read the outbox, follow a link, press a button (readers.go).
package kbproc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoRoot is the repository root: the site the tests build.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds cmd/kb once per test binary and returns its path.
//
// The path is the same for every test binary of one checkout (a folder in
// the temporary directory named for the repository), so that runs leave
// one binary behind, not one per package per run: each build goes to a
// temporary name and is renamed over it, and a process already started
// keeps the file it opened.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		sum := sha256.Sum256([]byte(RepoRoot()))
		dir := filepath.Join(os.TempDir(), "kb-e2e-bin-"+hex.EncodeToString(sum[:6]))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		tmp, err := os.CreateTemp(dir, "kb-*.tmp")
		if err != nil {
			buildErr = err
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		cmd := exec.Command("go", "build", "-o", tmp.Name(), "./cmd/kb")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/kb: %v\n%s", err, out)
			return
		}
		binary = filepath.Join(dir, "kb")
		buildErr = os.Rename(tmp.Name(), binary)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Options describe one kb process.
type Options struct {
	// Root is the site directory; default the repository root.
	Root string
	// Data is KB_DATA; default a fresh temp folder.
	Data string
	// Env adds or overrides environment variables (KB_SECRET has a test
	// default; KB_SIGNUP_RATE and the hourly confirmation caps default to
	// off, since tests sign up many readers at one domain; the database,
	// Mailgun and proxy settings of the developer's shell are cleared, so
	// a test uses SQLite in Data and the outbox unless it says otherwise).
	Env map[string]string
}

func (o *Options) defaults(t testing.TB) {
	if o.Root == "" {
		o.Root = RepoRoot()
	}
	if o.Data == "" {
		o.Data = filepath.Join(t.TempDir(), "data")
	}
}

func (o Options) environ() []string {
	env := append(os.Environ(),
		"KB_DATA="+o.Data,
		"KB_SECRET=e2e-test-secret-0123456789abcdef0123456789",
		"KB_SIGNUP_RATE=off",
		"KB_CONFIRM_CAP_DOMAIN=off",
		"KB_CONFIRM_CAP_TOTAL=off",
		"KB_DATABASE_URL=", "KB_SECRET_PREVIOUS=", "KB_TRUSTED_PROXIES=", "KB_MAIL=",
		"MAILGUN_API_KEY=", "MAILGUN_DOMAIN=", "MAILGUN_API_BASE=", "MAILGUN_WEBHOOK_SIGNING_KEY=",
	)
	for k, v := range o.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// Run runs `kb ARGS…` to completion and returns its output.
func Run(t testing.TB, o Options, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	o.defaults(t)
	cmd := exec.Command(Binary(t), append([]string{"--root", o.Root}, args...)...)
	cmd.Env = o.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Server is a running `kb serve`.
type Server struct {
	// URL is where it listens, e.g. http://127.0.0.1:41234.
	URL string
	// Data is its KB_DATA; Outbox its .eml folder.
	Data   string
	Outbox string

	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
}

// Logs is what the server has logged so far.
func (s *Server) Logs() string { s.mu.Lock(); defer s.mu.Unlock(); return s.logs.String() }

var servingLine = regexp.MustCompile(`msg=serving .*addr=(\S+)`)

// Start runs `kb serve --addr 127.0.0.1:0 ARGS…` and returns once it
// answers /healthz. The process is stopped (SIGTERM) when the test ends.
// Pass --base-url in args to fix the URL used in links and emails;
// without it they point at the chosen port.
func Start(t testing.TB, o Options, args ...string) *Server {
	t.Helper()
	o.defaults(t)
	work := t.TempDir()
	full := append([]string{"--root", o.Root, "serve", "--addr", "127.0.0.1:0",
		"--out", filepath.Join(work, "public"), "--private", filepath.Join(work, "private")}, args...)
	cmd := exec.Command(Binary(t), full...)
	cmd.Env = o.environ()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	s := &Server{Data: o.Data, Outbox: filepath.Join(o.Data, "outbox"), cmd: cmd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.logs.WriteString(line + "\n")
			s.mu.Unlock()
			if m := servingLine.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil && !t.Failed() {
				t.Errorf("kb serve exited with %v:\n%s", err, s.Logs())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("kb serve did not stop on SIGTERM:\n%s", s.Logs())
		}
	})
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-exited:
		t.Fatalf("kb serve exited before serving (%v):\n%s", err, s.Logs())
	case <-time.After(5 * time.Minute):
		t.Fatalf("kb serve did not start:\n%s", s.Logs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/healthz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("kb serve not healthy (%v):\n%s", err, s.Logs())
	}
	res.Body.Close()
	return s
}

// Emails lists the .eml files in the server's outbox.
func (s *Server) Emails(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(s.Outbox, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// HasLog reports whether the server logged a line containing substr.
func (s *Server) HasLog(substr string) bool { return strings.Contains(s.Logs(), substr) }

// Stats is `kb subscribers stats --json`.
type Stats struct {
	Subscribers map[string]int `json:"subscribers"`
	MailQueued  int            `json:"mail_queued"`
	MailSending int            `json:"mail_sending"`
	MailFailed  int            `json:"mail_failed"`
	Campaigns   int            `json:"campaigns"`
	Erased      int            `json:"erased"`
	Held        map[string]int `json:"held"`
}

// ReadStats runs `kb subscribers stats --json` on o's database.
func ReadStats(t testing.TB, o Options) Stats {
	t.Helper()
	out, errOut, err := Run(t, o, "subscribers", "stats", "--json")
	var s Stats
	if err == nil {
		err = json.Unmarshal([]byte(out), &s)
	}
	if err != nil {
		t.Fatalf("kb subscribers stats --json: %v\n%s%s", err, out, errOut)
	}
	return s
}

// WaitDrained polls the stats until no email is queued or being sent and
// done (if not nil) holds; it fails the test after a minute or when an
// email failed.
func WaitDrained(t testing.TB, o Options, done func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s := ReadStats(t, o)
		switch {
		case s.MailFailed > 0:
			t.Fatalf("%d emails failed: %+v", s.MailFailed, s)
		case s.MailQueued == 0 && s.MailSending == 0 && (done == nil || done(s)):
			return s
		case time.Now().After(deadline):
			t.Fatalf("queue not drained after a minute: %+v", s)
		}
		<-tick.C
	}
}
