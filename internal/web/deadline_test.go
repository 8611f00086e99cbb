package web

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/store"
)

// TestDeadlineWriter: only a 5xx written after the deadline becomes 503.
func TestDeadlineWriter(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		cancel   bool // the client goes away instead of the deadline passing
		wantCode int
	}{
		{"5xx after the deadline", http.StatusInternalServerError, false, http.StatusServiceUnavailable},
		{"4xx after the deadline stays", http.StatusGone, false, http.StatusGone},
		{"200 after the deadline stays", http.StatusOK, false, http.StatusOK},
		{"5xx after the client left stays", http.StatusInternalServerError, true, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *envConfig) { c.options = func(o *Options) { o.APITimeout = time.Millisecond } })
			h := e.h.withDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
				w.Header().Set("Content-Length", "9")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, "original\n")
			}))
			// The outer timeout only keeps a failing test from hanging.
			ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
			defer cancel()
			if tt.cancel {
				cancel()
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/confirm", nil).WithContext(ctx))
			if w.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", w.Code, tt.wantCode)
			}
			replaced := tt.wantCode == http.StatusServiceUnavailable
			if got := strings.Contains(w.Body.String(), "original"); got == replaced {
				t.Errorf("body %q: replaced %v", w.Body, replaced)
			}
			if replaced && (!strings.Contains(w.Body.String(), titleUnavailable) || w.Header().Get("Retry-After") == "" ||
				w.Header().Get("Content-Length") == "9") {
				t.Errorf("503 page: %v\n%s", w.Header(), w.Body)
			}
		})
	}
}

// TestStalledDatabase: a signup whose write is blocked by a lock another
// connection holds answers 503 at the handler's deadline, in Polish for the
// form and as JSON for signup.js, and leaves nothing behind.
func TestStalledDatabase(t *testing.T) {
	const deadline = time.Second // short, yet room for a loaded machine in the signup after the lock
	backends := []struct {
		name     string
		postgres bool
		// lock blocks the store's writes until the returned func is called.
		lock func(t *testing.T, dsn string) (release func())
	}{
		{"sqlite", false, func(t *testing.T, dsn string) func() {
			// Another process holding SQLite's write lock.
			db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
			if err != nil {
				t.Fatal(err)
			}
			conn, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			return func() { conn.ExecContext(context.Background(), "ROLLBACK"); conn.Close(); db.Close() }
		}},
		{"postgres", true, func(t *testing.T, dsn string) func() {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("LOCK TABLE subscribers IN ACCESS EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			return func() { tx.Rollback(); db.Close() }
		}},
	}
	clients := []struct {
		name    string
		request func(email string) *http.Request
		check   func(t *testing.T, w *httptest.ResponseRecorder)
	}{
		{"json", func(email string) *http.Request {
			return jsonRequest(`{"email":"` + email + `","name":"Jan","consent":true,"website":"","source":"/"}`)
		}, func(t *testing.T, w *httptest.ResponseRecorder) {
			var a signupAnswer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.OK || a.Message != msgUnavailable {
				t.Errorf("JSON answer %s (%v), want ok=false with %q", w.Body, err, msgUnavailable)
			}
		}},
		{"form", func(email string) *http.Request { return formRequest(signupValues(email)) },
			func(t *testing.T, w *httptest.ResponseRecorder) {
				if !strings.Contains(w.Body.String(), titleUnavailable) || !strings.Contains(w.Body.String(), msgUnavailable) {
					t.Errorf("page lacks the Polish 503 message:\n%s", w.Body)
				}
			}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, func(c *envConfig) {
				c.postgres = b.postgres
				c.options = func(o *Options) { o.APITimeout = deadline }
			})
			before := e.counts()
			release := b.lock(t, e.dsn)
			released := false
			defer func() {
				if !released {
					release()
				}
			}()
			for _, c := range clients {
				t.Run(c.name, func(t *testing.T) {
					// Without a handler deadline the request would wait for
					// the lock; this one only keeps a failing test short.
					ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
					defer cancel()
					start := time.Now()
					w := e.do(c.request("zablokowany-" + c.name + "@example.pl").WithContext(ctx))
					took := time.Since(start)
					if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
						t.Fatalf("status %d, Retry-After %q after %s; want 503\n%s", w.Code, w.Header().Get("Retry-After"), took, w.Body)
					}
					// SQLite's busy timeout and PostgreSQL's statement
					// timeout are 10 s: the deadline must answer long before.
					if took > 3*time.Second {
						t.Errorf("answered after %s, want about %s", took, deadline)
					}
					c.check(t, w)
				})
			}
			release()
			released = true
			// A later signup goes through: the writer is free again.
			if w := e.do(formRequest(signupValues("danach@example.pl"))); w.Code != http.StatusSeeOther {
				t.Fatalf("signup after the lock: %d\n%s", w.Code, w.Body)
			}
			after := e.counts()
			if after.subscribers != before.subscribers+1 || after.queued != before.queued+1 {
				t.Errorf("counts %+v before, %+v after: the refused signups left state behind", before, after)
			}
			if !strings.Contains(e.logs.String(), "request deadline exceeded") {
				t.Errorf("the 503 is not logged:\n%s", e.logs)
			}
		})
	}
}

// TestLargeDownloadOnSlowLink: a client reading slowly gets the whole
// whitepaper and a large static file, although the transfer takes several
// times the server's write timeout.
func TestLargeDownloadOnSlowLink(t *testing.T) {
	const (
		// A stall of the whole machine (tests run in parallel under -race)
		// must not look like a dead client: a second per chunk is plenty,
		// and the download as a whole takes well over it.
		writeTimeout = time.Second
		size         = 8 << 20
		chunk        = 16 << 10 // per tick of the reader: about 2.6 s in all
		tick         = 5 * time.Millisecond
	)
	e := newEnv(t, func(c *envConfig) {
		c.gated = true
		c.options = func(o *Options) { o.WriteTimeout = writeTimeout }
	})
	content := bytes.Repeat([]byte("%PDF-1.7 kb large download test 0123456789\n"), size/44)
	writeFile(t, e.pdf, string(content))
	writeFile(t, filepath.Join(e.public, "pliki", "duzy.pdf"), string(content))
	sub, _, err := e.store.Subscribe(t.Context(), store.SignupRequest{Email: "czytelnik@example.pl"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if sub, _, err = e.store.Confirm(t.Context(), store.Link{ID: sub.ID, Key: sub.LinkKey}, "test", t0, t0); err != nil {
		t.Fatal(err)
	}

	// Small socket buffers, so that the server really waits for the reader.
	lc := net.ListenConfig{Control: smallSocketBuffers}
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := e.h.Server(ln.Addr().String())
	if srv.WriteTimeout != writeTimeout {
		t.Fatalf("server WriteTimeout %s, want the option's %s", srv.WriteTimeout, writeTimeout)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{
		DialContext:       (&net.Dialer{Control: smallSocketBuffers}).DialContext,
		DisableKeepAlives: true,
	}}
	base := "http://" + ln.Addr().String()

	for _, tt := range []struct{ name, path string }{
		{"gated whitepaper", relative(t, e.links.Whitepaper(sub.ID, sub.LinkKey, t0.Add(time.Hour)))},
		{"static file", "/pliki/duzy.pdf"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := client.Get(base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("status %d\n%s\n%s", res.StatusCode, b, e.logs)
			}
			start := time.Now()
			got, err := readThrottled(res.Body, chunk, tick)
			took := time.Since(start)
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("read %d of %d bytes in %s: %v", len(got), len(content), took, err)
			}
			if took < 2*writeTimeout {
				t.Logf("the transfer took %s, under twice the write timeout: the test proves little", took)
			}
		})
	}
}

// readThrottled reads r at most chunk bytes per tick, like a slow link.
func readThrottled(r io.Reader, chunk int, tick time.Duration) ([]byte, error) {
	tk := time.NewTicker(tick)
	defer tk.Stop()
	var out bytes.Buffer
	buf := make([]byte, chunk)
	for range tk.C {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
	return out.Bytes(), nil
}
