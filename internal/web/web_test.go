package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/store"
)

func TestStatic(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, target string
		status               int
		contains, cache      string
		location             string
	}{
		{"home", "GET", "/", 200, "Strona główna", cacheShort, ""},
		{"page", "GET", "/poradniki/", 200, "Poradniki", cacheShort, ""},
		{"feed", "GET", "/poradniki/index.xml", 200, "<rss>", cacheShort, ""},
		{"fingerprinted asset", "GET", "/" + fingerprintCSS, 200, "color", cacheFingerprinted, ""},
		{"HEAD", "HEAD", "/poradniki/", 200, "", cacheShort, ""},
		{"directory without slash", "GET", "/poradniki?x=1", 301, "", "", "/poradniki/?x=1"},
		{"directory without index: no listing", "GET", "/empty/", 404, "site 404", "", ""},
		{"missing", "GET", "/nie-ma/", 404, "site 404", "", ""},
		{"manifest", "GET", "/.kb-manifest.json", 404, "site 404", "", ""},
		{"page shell", "GET", "/kb-shell/", 404, "site 404", "", ""},
		{"nested dot file", "GET", "/poradniki/.draft/index.html", 404, "site 404", "", ""},
		{"file as directory", "GET", "/favicon.svg/", 404, "site 404", "", ""},
		{"POST", "POST", "/", 405, titleMethod, "", ""},
		{"unknown API", "GET", "/api/nothing", 404, msgNotFoundTitle, "no-store", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(httptest.NewRequest(tt.method, tt.target, nil))
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.contains) {
				t.Fatalf("%s %s: %d, want %d with %q\n%s", tt.method, tt.target, w.Code, tt.status, tt.contains, w.Body)
			}
			if tt.cache != "" && w.Header().Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", w.Header().Get("Cache-Control"), tt.cache)
			}
			if tt.location != "" && w.Header().Get("Location") != tt.location {
				t.Errorf("Location = %q, want %q", w.Header().Get("Location"), tt.location)
			}
			if tt.status == 405 && w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", w.Header().Get("Allow"))
			}
			assertSecurityHeaders(t, tt.target, w.Header())
		})
	}

	// A symbolic link out of the publish directory is not followed.
	secret := filepath.Join(t.TempDir(), "secret.txt")
	writeFile(t, secret, "top secret")
	if err := os.Symlink(secret, filepath.Join(e.public, "leak.txt")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	if w := e.get("/leak.txt"); w.Code != 404 || strings.Contains(w.Body.String(), "top secret") {
		t.Errorf("symlink out of the site: %d %s", w.Code, w.Body)
	}

	// Without the site's 404 page a built-in one answers.
	os.Remove(filepath.Join(e.public, "404.html"))
	if w := e.get("/nie-ma/"); w.Code != 404 || !strings.Contains(w.Body.String(), msgNotFoundTitle) {
		t.Errorf("built-in 404: %d", w.Code)
	}
}

// TestSecurityHeaders: static files, API answers and error pages carry
// the headers; HSTS only on an https site.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, target := range []string{"/", "/" + fingerprintCSS, "/nie-ma/", "/api/confirm?token=x", "/api/unsubscribe?token=x", "/healthz"} {
		w := e.get(target)
		assertSecurityHeaders(t, target, w.Header())
		if w.Header().Get("Strict-Transport-Security") == "" {
			t.Errorf("%s: no HSTS on an https site", target)
		}
		// A link's page has its token in its address: no Referer may carry
		// it, even to the site's own pages.
		want := "strict-origin-when-cross-origin"
		if strings.HasPrefix(target, "/api/") || target == "/healthz" {
			want = "no-referrer"
		}
		if got := w.Header().Get("Referrer-Policy"); got != want {
			t.Errorf("%s: Referrer-Policy %q, want %q", target, got, want)
		}
	}
	w := e.do(jsonRequest(`{}`))
	assertSecurityHeaders(t, "JSON 422", w.Header())
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("API Cache-Control = %q", w.Header().Get("Cache-Control"))
	}

	plain := newEnv(t, func(c *envConfig) { c.baseURL = "http://127.0.0.1:8080/" })
	if w := plain.get("/"); w.Header().Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS on an http site")
	}
}

// panickyStore makes /healthz panic, to test recovery.
type panickyStore struct{ *store.Store }

func (panickyStore) Ping(context.Context) error { panic("database driver bug") }

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.store = func(s *store.Store) Store { return panickyStore{s} } })
	w := e.get("/healthz")
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), titleError) {
		t.Fatalf("panic: %d\n%s", w.Code, w.Body)
	}
	assertSecurityHeaders(t, "panic page", w.Header())
	logs := e.logs.String()
	if !strings.Contains(logs, "panic in handler") || !strings.Contains(logs, "database driver bug") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with a stack:\n%s", logs)
	}
	if !strings.Contains(logs, "status=500") {
		t.Errorf("request log lacks the 500:\n%s", logs)
	}
}

// TestRequestLog: the log has method, path, status, bytes — and never the
// token in the query string.
func TestRequestLog(t *testing.T) {
	e := newEnv(t)
	e.get("/api/unsubscribe?token=SECRETTOKENVALUE")
	logs := e.logs.String()
	if strings.Contains(logs, "SECRETTOKENVALUE") {
		t.Fatalf("token in the log:\n%s", logs)
	}
	for _, want := range []string{"method=GET", "path=/api/unsubscribe", "status=400", "bytes=", "duration="} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	if w := e.get("/healthz"); w.Code != 200 || w.Body.String() != "ok\n" {
		t.Fatalf("healthy: %d %q", w.Code, w.Body)
	}
	if w := e.do(httptest.NewRequest(http.MethodHead, "/healthz", nil)); w.Code != 200 {
		t.Fatalf("HEAD: %d", w.Code)
	}
	if w := e.do(httptest.NewRequest(http.MethodPost, "/healthz", nil)); w.Code != 405 {
		t.Fatalf("POST: %d", w.Code)
	}
	e.store.Close()
	if w := e.get("/healthz"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("closed database: %d", w.Code)
	}
}

// TestShell: pages render into the site's shell, fall back to a built-in
// one without it, and follow a rebuilt shell after Reload.
func TestShell(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.noShell = true })
	if !strings.Contains(e.logs.String(), "page shell missing") {
		t.Errorf("no warning about the missing shell:\n%s", e.logs)
	}
	w := e.get("/api/confirm")
	if !strings.Contains(w.Body.String(), `<html lang="pl">`) || !strings.Contains(w.Body.String(), "<title>"+titleBadLink+"</title>") {
		t.Fatalf("fallback page:\n%s", w.Body)
	}
	if err := e.h.Reload(); err == nil {
		t.Fatal("Reload without a shell: want an error")
	}
	writeFile(t, filepath.Join(e.public, ShellPath), "<title>%%KB_TITLE%% · Nowa</title><main>%%KB_MAIN%%</main><p>%%KB_TITLE%%</p>")
	if err := e.h.Reload(); err != nil {
		t.Fatal(err)
	}
	body := e.get("/api/confirm").Body.String()
	if !strings.HasPrefix(body, "<title>"+titleBadLink+" · Nowa</title><main>") || !strings.HasSuffix(body, "<p>"+titleBadLink+"</p>") {
		t.Fatalf("reloaded shell:\n%s", body)
	}
	// A broken shell is refused and the working one stays.
	writeFile(t, filepath.Join(e.public, ShellPath), "<title>%%KB_TITLE%%</title> no main marker")
	if err := e.h.Reload(); err == nil {
		t.Fatal("Reload of a shell without %%KB_MAIN%%: want an error")
	}
	if got := e.get("/api/confirm").Body.String(); got != body {
		t.Errorf("broken shell replaced the working one")
	}
}

func TestShellEscapesTitle(t *testing.T) {
	sh, err := parseShell("<title>%%KB_TITLE%%</title>%%KB_MAIN%%")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	sh.write(&b, `</title><script>alert(1)</script>`, []byte("<p>x</p>"))
	if got := b.String(); got != "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title><p>x</p>" {
		t.Errorf("got %s", got)
	}
	for _, bad := range []string{"", "no markers", "%%KB_MAIN%% twice %%KB_MAIN%%"} {
		if _, err := parseShell(bad); err == nil {
			t.Errorf("parseShell(%q): want an error", bad)
		}
	}
}

// TestWebhooks drives the Mailgun webhook with mailguntest's signed bodies.
func TestWebhooks(t *testing.T) {
	ctx := context.Background()
	now := t0.Unix()
	type tc struct {
		name       string
		body       func() []byte
		status     int
		wantStatus store.Status // of bounce@example.pl afterwards
	}
	signed := func(w mailguntest.Webhook) func() []byte {
		return func() []byte {
			if w.Timestamp == 0 {
				w.Timestamp = now
			}
			return w.JSON(testWebhookKey)
		}
	}
	with := func(w mailguntest.Webhook, mod func(*mailguntest.Webhook)) mailguntest.Webhook {
		mod(&w)
		return w
	}
	tests := []tc{
		{"permanent failure bounces", signed(mailguntest.PermanentFailure("bounce@example.pl")), 200, store.StatusBounced},
		{"complaint", signed(mailguntest.Complaint("Bounce@Example.pl")), 200, store.StatusComplained},
		{"unsubscribed", signed(mailguntest.Unsubscribe("bounce@example.pl")), 200, store.StatusUnsubscribed},
		{"temporary failure ignored", signed(with(mailguntest.PermanentFailure("bounce@example.pl"), func(w *mailguntest.Webhook) { w.Severity = "temporary" })), 200, store.StatusConfirmed},
		{"other event ignored", signed(mailguntest.Webhook{Event: "delivered", Recipient: "bounce@example.pl"}), 200, store.StatusConfirmed},
		{"unknown address", signed(mailguntest.Complaint("stranger@example.pl")), 200, store.StatusConfirmed},
		{"bad signature", func() []byte { return mailguntest.Complaint("bounce@example.pl").JSON("wrong key") }, 401, store.StatusConfirmed},
		{"stale timestamp", signed(with(mailguntest.Complaint("bounce@example.pl"), func(w *mailguntest.Webhook) { w.Timestamp = now - 301 })), 406, store.StatusConfirmed},
		{"future timestamp", signed(with(mailguntest.Complaint("bounce@example.pl"), func(w *mailguntest.Webhook) { w.Timestamp = now + 301 })), 406, store.StatusConfirmed},
		{"malformed JSON", func() []byte { return []byte(`{"signature":`) }, 400, store.StatusConfirmed},
		{"wrong types", func() []byte {
			return []byte(`{"signature":{"timestamp":"1","token":5,"signature":"x"},"event-data":{}}`)
		}, 400, store.StatusConfirmed},
		{"no event data", func() []byte { return []byte(`{"signature":{"timestamp":"1764237600","token":"t","signature":"00"}}`) }, 400, store.StatusConfirmed},
		{"no signature", func() []byte { return []byte(`{"event-data":{"event":"complained","recipient":"bounce@example.pl"}}`) }, 400, store.StatusConfirmed},
		{"invalid recipient", signed(mailguntest.Complaint("not an address")), 406, store.StatusConfirmed},
		{"oversized", func() []byte {
			return signed(with(mailguntest.Complaint("bounce@example.pl"), func(w *mailguntest.Webhook) {
				w.UserVariables = map[string]string{"pad": strings.Repeat("x", maxWebhookBody)}
			}))()
		}, 413, store.StatusConfirmed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			sub, _, err := e.store.Subscribe(ctx, store.SignupRequest{Email: "bounce@example.pl"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.store.Confirm(ctx, sub.Link(), "", t0, t0); err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, webhookPath, bytes.NewReader(tt.body()))
			r.Header.Set("Content-Type", "application/json")
			w := e.do(r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if got := e.subscriber("bounce@example.pl").Status; got != tt.wantStatus {
				t.Fatalf("subscriber status %s, want %s", got, tt.wantStatus)
			}
		})
	}

	t.Run("replay", func(t *testing.T) {
		e := newEnv(t)
		sub, _, _ := e.store.Subscribe(ctx, store.SignupRequest{Email: "bounce@example.pl"}, t0)
		e.store.Confirm(ctx, sub.Link(), "", t0, t0)
		unsub := mailguntest.Unsubscribe("bounce@example.pl")
		unsub.Timestamp, unsub.Token = now, "replayed-token-1"
		body := unsub.JSON(testWebhookKey)
		post := func(b []byte) int {
			r := httptest.NewRequest(http.MethodPost, webhookPath, bytes.NewReader(b))
			r.Header.Set("Content-Type", "application/json")
			return e.do(r).Code
		}
		if code := post(body); code != 200 {
			t.Fatalf("first call: %d", code)
		}
		// The reader signs up again; a replay of the old event must not
		// undo that.
		e.store.Subscribe(ctx, store.SignupRequest{Email: "bounce@example.pl"}, t0.Add(time.Minute))
		if code := post(body); code != http.StatusNotAcceptable {
			t.Fatalf("replay: %d, want 406", code)
		}
		if got := e.subscriber("bounce@example.pl").Status; got != store.StatusPending {
			t.Fatalf("replay changed the status to %s", got)
		}
	})

	t.Run("method and content type", func(t *testing.T) {
		e := newEnv(t)
		if w := e.get(webhookPath); w.Code != 405 {
			t.Errorf("GET: %d", w.Code)
		}
		r := httptest.NewRequest(http.MethodPost, webhookPath, strings.NewReader("a=b"))
		r.Header.Set("Content-Type", mediaForm)
		if w := e.do(r); w.Code != 415 {
			t.Errorf("form body: %d", w.Code)
		}
	})

	t.Run("disabled without a key", func(t *testing.T) {
		e := newEnv(t, func(c *envConfig) { c.webhookKey = "" })
		r := httptest.NewRequest(http.MethodPost, webhookPath, bytes.NewReader(mailguntest.Complaint("a@example.pl").JSON("")))
		r.Header.Set("Content-Type", "application/json")
		if w := e.do(r); w.Code != 404 {
			t.Fatalf("disabled webhook: %d", w.Code)
		}
		if !strings.Contains(e.logs.String(), "Mailgun webhooks disabled") {
			t.Errorf("no start-up log about the disabled webhook:\n%s", e.logs)
		}
	})
}

// TestGracefulShutdown: a request in flight when shutdown starts runs to
// completion; Serve then returns nil.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})
	mux.Handle("/", e.h)
	srv := e.h.Server("127.0.0.1:0")
	srv.Handler = mux
	if srv.ReadHeaderTimeout != 5*time.Second || srv.WriteTimeout != time.Minute || srv.MaxHeaderBytes != 16<<10 {
		t.Errorf("server timeouts: %+v", srv)
	}
	shutdownStarted := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shutdownStarted) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-entered
	cancel()
	<-shutdownStarted
	select {
	case err := <-served:
		t.Fatalf("Serve returned before the request finished: %v", err)
	default:
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q, %v", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestShutdownDeadline: a request that outlives the grace period is cut
// and Serve reports it.
func TestShutdownDeadline(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	entered := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-block
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, srv, ln, 10*time.Millisecond) }()
	go http.Get("http://" + ln.Addr().String() + "/")
	<-entered
	cancel()
	if err := <-served; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v, want a deadline error", err)
	}
}
