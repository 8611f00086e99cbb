package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/kbpress/kb/internal/emltest"
)

// repoRoot is the site this command builds in the tests: the real one.
const repoRoot = "../.."

// env is a test environment: a data folder of its own, a fixed secret.
type env map[string]string

func newEnv(t *testing.T) env {
	return env{
		"KB_DATA":        filepath.Join(t.TempDir(), "data"),
		"KB_SECRET":      "test-secret-0123456789abcdef0123456789",
		"KB_SIGNUP_RATE": "off",
	}
}

func (e env) get(k string) string { return e[k] }

// kb runs the command in-process and returns its exit code and output.
func kb(t *testing.T, e env, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), append([]string{"--root", repoRoot}, args...), strings.NewReader(stdin), &out, &errb, e.get)
	return code, out.String(), errb.String()
}

func mustKB(t *testing.T, e env, args ...string) string {
	t.Helper()
	code, out, errOut := kb(t, e, "", args...)
	if code != 0 {
		t.Fatalf("kb %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// logWatch is a concurrency-safe writer that reports when a line matches.
type logWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen chan string
	re   *regexp.Regexp
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.re.FindSubmatch(w.buf.Bytes()); m != nil {
		select {
		case w.seen <- string(m[1]):
		default:
		}
	}
	return len(p), nil
}

func (w *logWatch) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.buf.String() }

// startServe runs kb serve on a free port and returns its base URL.
func startServe(t *testing.T, e env, out string) string {
	t.Helper()
	base, _ := serveInProcess(t, e, out, "http://kb.test/")
	return base
}

// serveInProcess runs `kb serve --addr 127.0.0.1:0 --out OUT --base-url
// BASE EXTRA…` in this process until the test ends, and returns its address
// and its log so far.
func serveInProcess(t *testing.T, e env, out, baseURL string, extra ...string) (string, func() string) {
	t.Helper()
	logs := &logWatch{seen: make(chan string, 1), re: regexp.MustCompile(`msg=serving url=\S+ addr=(\S+)`)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{"--root", repoRoot, "serve", "--addr", "127.0.0.1:0", "--out", out,
		"--private", filepath.Join(filepath.Dir(out), "private"), "--base-url", baseURL}, extra...)
	go func() { done <- run(ctx, args, strings.NewReader(""), io.Discard, logs, e.get) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("kb serve exited %d:\n%s", code, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("kb serve did not shut down")
		}
	})
	select {
	case addr := <-logs.seen:
		return "http://" + addr, logs.String
	case code := <-done:
		t.Fatalf("kb serve exited %d:\n%s", code, logs.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("kb serve did not start:\n%s", logs.String())
	}
	return "", nil
}

func TestBuildPlacesWhitepaperAndShowsItsSize(t *testing.T) {
	out := filepath.Join(t.TempDir(), "public")
	stdout := mustKB(t, newEnv(t), "build", "--out", out, "--base-url", "http://kb.test/")
	if !strings.Contains(stdout, "Built ") || !strings.Contains(stdout, "Whitepaper") {
		t.Errorf("stdout: %q", stdout)
	}
	pdf, err := os.ReadFile(filepath.Join(out, "biala-ksiega", "strategia-przeplywow-pienieznych.pdf"))
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("whitepaper PDF not in the site: %v", err)
	}
	landing, err := os.ReadFile(filepath.Join(out, "biala-ksiega", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`PDF, [0-9,]+ (kB|MB), [0-9]+ stron`).Match(landing) ||
		!strings.Contains(string(landing), `href="/biala-ksiega/strategia-przeplywow-pienieznych.pdf"`) {
		t.Error("landing page does not link the PDF with its size and page count")
	}
}

// copySite copies the site's sources (not its outputs) into a temp folder.
func copySite(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range []string{"config.toml", "content", "layouts", "static", "assets", "i18n"} {
		src := filepath.Join(repoRoot, name)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestCommandsRejectBadInput(t *testing.T) {
	broken := copySite(t)
	os.WriteFile(filepath.Join(broken, "content", "poradniki", "zepsuty.md"), []byte("---\ntitle: \"bez końca\n---\ntreść\n"), 0o644)
	noWhitepaper := copySite(t)
	os.Remove(filepath.Join(noWhitepaper, "content", "biala-ksiega", "strategia-przeplywow-pienieznych.md"))
	unknownTopic := copySite(t)
	os.WriteFile(filepath.Join(unknownTopic, "content", "poradniki", "krypto.md"),
		[]byte("---\ntitle: \"Kryptowaluty\"\ndate: 2026-11-20\ntopics: [\"prawo\", \"krypto\"]\n---\ntreść\n"), 0o644)
	welcomeGone := copySite(t)
	os.Remove(filepath.Join(welcomeGone, "content", "poradniki", "zobowiaz-sie-do-trudnych-rozmow.md"))
	e := newEnv(t)
	csvFile := filepath.Join(t.TempDir(), "list.csv")
	os.WriteFile(csvFile, []byte("email,name\nok@example.pl,Ok\nnot-an-address,X\nok@example.pl,Dup\n"), 0o644)

	tests := []struct {
		name string
		args []string
		env  env
		want string // in stderr
	}{
		{"no config", []string{"--root", t.TempDir(), "build"}, e, "config.toml"},
		{"bad base URL", []string{"build", "--base-url", "not a url"}, e, "--base-url"},
		{"broken front matter names the file", []string{"--root", broken, "build", "--out", filepath.Join(t.TempDir(), "p")}, e, "zepsuty.md"},
		{"missing whitepaper source", []string{"--root", noWhitepaper, "build", "--out", filepath.Join(t.TempDir(), "p")}, e, "strategia-przeplywow-pienieznych.md"},
		{"unknown topic names the file", []string{"--root", unknownTopic, "build", "--out", filepath.Join(t.TempDir(), "p")}, e, `krypto.md: front matter topics: unknown topic "krypto"`},
		{"welcome guide that is not published", []string{"--root", welcomeGone, "build", "--out", filepath.Join(t.TempDir(), "p")}, e, `params.newsletter.welcome: "zobowiaz-sie-do-trudnych-rozmow"`},
		{"unknown command", []string{"publish"}, e, "unknown command"},
		{"import without status", []string{"subscribers", "import", csvFile}, e, "--status"},
		{"import missing file", []string{"subscribers", "import", "--status", "confirmed", "/nonexistent.csv"}, e, "nonexistent.csv"},
		{"bad status filter", []string{"subscribers", "list", "--status", "vip"}, e, "unknown status"},
		{"bad export format", []string{"subscribers", "export", "--format", "xml"}, e, "--format"},
		{"bad --at", []string{"send", "--at", "tomorrow"}, e, "--at"},
		{"short secret", []string{"subscribers", "stats"}, env{"KB_DATA": e["KB_DATA"], "KB_SECRET": "short"}, ""},
		{"bad database URL", []string{"subscribers", "stats"}, env{"KB_DATA": e["KB_DATA"], "KB_DATABASE_URL": "mysql://x"}, "postgres://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			var out, errb bytes.Buffer
			if args[0] != "--root" {
				args = append([]string{"--root", repoRoot}, args...)
			}
			code := run(t.Context(), args, strings.NewReader(""), &out, &errb, tt.env.get)
			if tt.want == "" {
				return // only must not panic
			}
			if code == 0 || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want failure mentioning %q", code, errb.String(), tt.want)
			}
		})
	}
}

// TestEndToEnd drives the whole product through the command: build, serve,
// sign up, confirm from the email, send the newsletter (twice), inspect and
// move the data.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	// The local flow (make run, a signup, kb send to the outbox) needs no
	// KB_SECRET: a development secret is generated.
	delete(e, "KB_SECRET")
	out := filepath.Join(t.TempDir(), "public")
	base := startServe(t, e, out)
	outbox := filepath.Join(e["KB_DATA"], "outbox")

	res, err := http.Get(base + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	page := get(t, base+"/")
	if !strings.Contains(page, `<html lang="pl"`) || !strings.Contains(page, `action="/api/subscribe"`) {
		t.Fatal("home page lacks the signup form")
	}
	if res := getRes(t, base+"/biala-ksiega/strategia-przeplywow-pienieznych.pdf"); res.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("PDF served as %q", res.Header.Get("Content-Type"))
	}

	// Sign up (JSON, as the site's script does) and confirm from the email.
	for _, addr := range []string{"anna@example.pl", "Jan@Example.PL"} {
		body := `{"email":"` + addr + `","name":"Ania","consent":true,"whitepaper":true,"website":"","source":"/"}`
		req, _ := http.NewRequest("POST", base+"/api/subscribe", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://kb.test")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("subscribe %s: %v %v", addr, res, err)
		}
		res.Body.Close()
	}
	confirmations := waitForEmails(t, outbox, 2)
	if len(confirmations) != 2 {
		t.Fatalf("%d confirmation emails, want 2", len(confirmations))
	}
	for _, m := range confirmations {
		if strings.Contains(m.text, "Ania") {
			t.Fatalf("the name typed into the form is in the confirmation email:\n%s", m.text)
		}
		link := strings.Replace(findURL(t, m.text, "http://kb.test/api/confirm?token="), "http://kb.test", base, 1)
		// Opening the link (as a mail scanner does) confirms nothing; the
		// page's button does.
		if page := get(t, link); !strings.Contains(page, "Potwierdzam zapis") {
			t.Fatalf("confirm page has no button:\n%s", page)
		}
		res, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader(""))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("confirm: %v %v", res, err)
		}
		res.Body.Close()
	}
	waitForEmails(t, outbox, 4) // the whitepaper follow-ups

	stats := mustKB(t, e, "subscribers", "stats", "--json")
	var st struct{ Subscribers map[string]int }
	json.Unmarshal([]byte(stats), &st)
	if st.Subscribers["confirmed"] != 2 {
		t.Fatalf("stats: %s", stats)
	}

	// The newsletter: a dry run, a test copy, the send, and a second send.
	plan := mustKB(t, e, "send", "--out", out, "--base-url", "http://kb.test/", "--dry-run")
	if !strings.Contains(plan, "przeplywy-pieniezne-malej-firmy") {
		t.Fatalf("dry run does not plan the new guide:\n%s", plan)
	}
	// Every guide dated on or after params.newsletter.since is due: the
	// plan's table has a row for each, under its header.
	due := strings.Count(strings.TrimSpace(plan), "\n")
	before := readEmails(t, outbox)
	mustKB(t, e, "send", "--out", out, "--base-url", "http://kb.test/")
	newsletters := newEmails(before, readEmails(t, outbox))
	if len(newsletters) != 2*due {
		t.Fatalf("sent %d newsletter emails, want %d (2 subscribers × %d guides)", len(newsletters), 2*due, due)
	}
	for _, m := range newsletters {
		if !strings.HasPrefix(m.header.Get("List-Unsubscribe"), "<http://kb.test/api/unsubscribe?token=") ||
			strings.Contains(m.text, "%recipient.") || !strings.Contains(m.text, "Dzień dobry!") {
			t.Fatalf("newsletter email not personalised:\n%s", m.text)
		}
	}
	mustKB(t, e, "send", "--out", out, "--base-url", "http://kb.test/")
	if n := len(readEmails(t, outbox)); n != len(before)+2*due {
		t.Fatalf("second kb send sent %d more emails", n-len(before)-2*due)
	}
	if list := mustKB(t, e, "campaigns"); strings.Count(list, " sent ") < due {
		t.Errorf("campaigns:\n%s", list)
	}

	// One-click unsubscribe from the newsletter's header.
	unsub := strings.Trim(newsletters[0].header.Get("List-Unsubscribe"), "<>")
	res, err = http.Post(strings.Replace(unsub, "http://kb.test", base, 1), "application/x-www-form-urlencoded",
		strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("one-click unsubscribe: %v %v", res, err)
	}
	res.Body.Close()

	// The person's data, the preview, and a move to a fresh database.
	person := mustKB(t, e, "subscribers", "show", "jan@example.pl")
	if !strings.Contains(person, `"consent"`) || !strings.Contains(person, "Jan@example.pl") {
		t.Errorf("show: %s", person)
	}
	preview := mustKB(t, e, "preview", "--out", out, "--base-url", "http://kb.test/", "--dir", t.TempDir(), "przeplywy-pieniezne-malej-firmy")
	if !strings.Contains(preview, ".html") {
		t.Errorf("preview: %q", preview)
	}
	digestDir := t.TempDir()
	mustKB(t, e, "preview", "--digest", "--out", out, "--base-url", "http://kb.test/", "--dir", digestDir)
	if raw, err := os.ReadFile(filepath.Join(digestDir, "digest.txt")); err != nil ||
		strings.Count(string(raw), "http://kb.test/poradniki/") < 3 || strings.Contains(string(raw), "%recipient.") {
		t.Errorf("digest preview (%v):\n%s", err, raw)
	}
	dump := mustKB(t, e, "subscribers", "export", "--format", "dump")
	e2 := newEnv(t)
	if code, _, errOut := kb(t, e2, dump, "subscribers", "import", "--dump", "-"); code != 0 {
		t.Fatalf("restore: %s", errOut)
	}
	if again := mustKB(t, e2, "subscribers", "export", "--format", "dump"); again != dump {
		t.Error("dump of the restored database differs from the original")
	}
	if csv := mustKB(t, e, "subscribers", "export"); strings.Count(csv, "\n") != 3 || !strings.Contains(csv, "unsubscribed") {
		t.Errorf("csv export:\n%s", csv)
	}
	if n := countFilesTo(t, outbox, "anna@example.pl"); n == 0 {
		t.Fatal("no outbox files to anna@example.pl before the erasure")
	}
	if msg := mustKB(t, e, "subscribers", "delete", "anna@example.pl"); !strings.Contains(msg, "outbox files deleted") {
		t.Errorf("delete: %q", msg)
	}
	if n := countFilesTo(t, outbox, "anna@example.pl"); n != 0 {
		t.Errorf("%d outbox files to the erased person left", n)
	}
	if n := countFilesTo(t, outbox, "jan@example.pl"); n == 0 {
		t.Error("the erasure deleted another person's emails")
	}
	if shown := mustKB(t, e, "subscribers", "show", "anna@example.pl"); !strings.Contains(shown, `"subscriber": null`) ||
		!strings.Contains(shown, `"erased": true`) {
		t.Errorf("erased person still held:\n%s", shown)
	}
	if v := mustKB(t, e, "migrate"); !strings.Contains(v, "schema version") {
		t.Errorf("migrate: %q", v)
	}
}

// countFilesTo counts the outbox's emails to address, in any letter case.
func countFilesTo(t *testing.T, dir, address string) int {
	t.Helper()
	n := 0
	for _, m := range readEmails(t, dir) {
		if to, err := mail.ParseAddress(m.header.Get("To")); err == nil && strings.EqualFold(to.Address, address) {
			n++
		}
	}
	return n
}

func get(t *testing.T, url string) string {
	t.Helper()
	res := getRes(t, url)
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func getRes(t *testing.T, url string) *http.Response {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res
}

type email struct {
	header mail.Header
	text   string
}

// readEmails parses the outbox's .eml files, by file name.
func readEmails(t *testing.T, dir string) map[string]email {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	out := map[string]email{}
	for _, name := range names {
		m, err := emltest.Read(name)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(name)] = email{header: m.Header, text: m.Text}
	}
	return out
}

// newEmails are the emails in after that are not in before.
func newEmails(before, after map[string]email) []email {
	var out []email
	for name, m := range after {
		if _, ok := before[name]; !ok {
			out = append(out, m)
		}
	}
	return out
}

// waitForEmails waits, watching the folder, until the outbox holds n emails.
func waitForEmails(t *testing.T, dir string, n int) map[string]email {
	t.Helper()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(time.Minute)
	for {
		if got := readEmails(t, dir); len(got) >= n {
			return got
		}
		select {
		case <-w.Events:
		case err := <-w.Errors:
			t.Fatal(err)
		case <-timeout:
			t.Fatalf("outbox has %d emails after a minute, want %d", len(readEmails(t, dir)), n)
		}
	}
}

func findURL(t *testing.T, text, prefix string) string {
	t.Helper()
	i := strings.Index(text, prefix)
	if i < 0 {
		t.Fatalf("no %s in:\n%s", prefix, text)
	}
	end := strings.IndexAny(text[i:], " \r\n)")
	if end < 0 {
		end = len(text) - i
	}
	return text[i : i+end]
}

// TestImportReportsSkippedRows imports a list with an invalid and a repeated
// address (and again, whole): each skipped row is named with its line and
// reason, and nothing is imported twice.
func TestImportReportsSkippedRows(t *testing.T) {
	e := newEnv(t)
	csvFile := filepath.Join(t.TempDir(), "list.csv")
	os.WriteFile(csvFile, []byte("email,name\nok@example.pl,Ok\nnot-an-address,X\nOK@Example.pl,Dup\n"), 0o644)
	tests := []struct {
		name string
		want []string
	}{
		{"first import", []string{"Read 3 rows, imported 1, skipped 2.", "line 3: not-an-address: invalid_email (", "line 4: OK@example.pl: duplicate_in_file"}},
		{"repeated import", []string{"Read 3 rows, imported 0, skipped 3.", "line 2: ok@example.pl: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustKB(t, e, "subscribers", "import", "--status", "confirmed", csvFile)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if out := mustKB(t, e, "subscribers", "list"); strings.Count(strings.ToLower(out), "ok@example.pl") != 1 {
		t.Errorf("want the address listed once:\n%s", out)
	}
}
