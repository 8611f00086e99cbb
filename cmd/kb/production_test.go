package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodSecret = "0123456789abcdef0123456789abcdef"

// TestProductionRefusals: settings that suit a laptop but not real readers
// stop kb serve and kb send before they do anything, with exit code 2 and a
// message naming the variable.
func TestProductionRefusals(t *testing.T) {
	site := fakeBuiltSite(t)
	mailgun := env{"MAILGUN_API_KEY": "key-test", "MAILGUN_DOMAIN": "mg.example.pl"}
	with := func(base env, kv ...string) env {
		e := env{}
		for k, v := range base {
			e[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	serveHTTPS := []string{"serve", "--addr", "127.0.0.1:0", "--no-build", "--out", site, "--base-url", "https://wiedza.example.pl/"}
	serveLocal := []string{"serve", "--addr", "127.0.0.1:0", "--no-build", "--out", site, "--base-url", "http://localhost:8080/"}
	send := []string{"send", "--out", site}

	tests := []struct {
		name     string
		env      env
		args     []string
		wantCode int
		want     []string // in stderr
	}{
		{"https without KB_SECRET", env{"KB_MAIL": "outbox"}, serveHTTPS, 2,
			[]string{"KB_SECRET is not set", "https://", "openssl rand -hex 32"}},
		{"https with a short KB_SECRET", env{"KB_MAIL": "outbox", "KB_SECRET": "short-secret"}, serveHTTPS, 2,
			[]string{"KB_SECRET is too short: 12 characters", "at least 32", "openssl rand -hex 32"}},
		{"https without mail settings", env{"KB_SECRET": goodSecret}, serveHTTPS, 2,
			[]string{"MAILGUN_API_KEY is not set", "KB_MAIL=outbox"}},
		{"https without either: the secret first", env{}, serveHTTPS, 2, []string{"KB_SECRET is not set"}},
		{"serve through Mailgun without KB_SECRET", mailgun, serveLocal, 2,
			[]string{"KB_SECRET is not set", "Mailgun", "openssl rand -hex 32"}},
		{"serve through Mailgun with a short KB_SECRET", with(mailgun, "KB_SECRET", "short-secret"), serveLocal, 2,
			[]string{"KB_SECRET is too short", "at least 32"}},
		{"send through Mailgun without KB_SECRET", mailgun, send, 2,
			[]string{"KB_SECRET is not set", "kb send through Mailgun", "openssl rand -hex 32"}},
		{"send --dry-run through Mailgun with a short KB_SECRET", with(mailgun, "KB_SECRET", "short-secret"),
			append(send, "--dry-run"), 2, []string{"KB_SECRET is too short", "at least 32"}},
		{"KB_MAIL=mailgun without a key", env{"KB_MAIL": "mailgun", "KB_SECRET": goodSecret}, serveHTTPS, 1,
			[]string{"KB_MAIL=mailgun needs MAILGUN_API_KEY"}},
		{"KB_MAIL unknown", env{"KB_MAIL": "smtp"}, serveLocal, 1, []string{`KB_MAIL "smtp"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := with(tt.env, "KB_DATA", filepath.Join(t.TempDir(), "data"))
			// A serve that does not refuse would run on: the timeout
			// makes that a failure rather than a hang.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var errb bytes.Buffer
			code := run(ctx, append([]string{"--root", repoRoot}, tt.args...), strings.NewReader(""), io.Discard, &errb, e.get)
			stderr := errb.String()
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tt.wantCode, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(e["KB_DATA"], "secret.dev")); err == nil {
				t.Error("a refused command generated a development secret")
			}
		})
	}
}

// TestServeStarts: the local flow needs no settings at all (a development
// secret is generated, emails go to the outbox), and a public site starts
// with KB_SECRET and KB_MAIL=outbox, or with Mailgun.
func TestServeStarts(t *testing.T) {
	site := fakeBuiltSite(t)
	tests := []struct {
		name    string
		env     env
		baseURL string
		devKey  bool // a development secret is generated
	}{
		{"local flow, no settings", env{}, "http://localhost:8080/", true},
		{"https with KB_SECRET and KB_MAIL=outbox", env{"KB_SECRET": goodSecret, "KB_MAIL": "outbox"}, "https://wiedza.example.pl/", false},
		{"https through Mailgun", env{"KB_SECRET": goodSecret, "MAILGUN_API_KEY": "key-test", "MAILGUN_DOMAIN": "mg.example.pl",
			"MAILGUN_API_BASE": "http://127.0.0.1:9/v3"}, "https://wiedza.example.pl/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{"KB_DATA": filepath.Join(t.TempDir(), "data")}
			for k, v := range tt.env {
				e[k] = v
			}
			base, logs := serveInProcess(t, e, site, tt.baseURL, "--no-build")
			if tt.devKey != strings.Contains(logs(), "KB_SECRET is not set") {
				t.Errorf("development secret warning: want %v\n%s", tt.devKey, logs())
			}
			if _, err := os.Stat(filepath.Join(e["KB_DATA"], "secret.dev")); (err == nil) != tt.devKey {
				t.Errorf("secret.dev: %v, want it to exist: %v", err, tt.devKey)
			}
			if !tt.devKey {
				return
			}
			// Sign up: the confirmation lands in the outbox.
			origin := strings.TrimSuffix(tt.baseURL, "/")
			req, _ := http.NewRequest("POST", base+"/api/subscribe", strings.NewReader(
				`{"email":"lokalnie@example.pl","consent":true,"website":"","source":"/"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", origin)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("signup: %d %s", res.StatusCode, body)
			}
			if m := waitForEmails(t, filepath.Join(e["KB_DATA"], "outbox"), 1); len(m) != 1 {
				t.Fatalf("%d emails in the outbox, want the confirmation", len(m))
			}
		})
	}
}

// fakeBuiltSite is enough of a built site for kb serve --no-build.
func fakeBuiltSite(t *testing.T) string {
	t.Helper()
	public := filepath.Join(t.TempDir(), "public")
	for name, body := range map[string]string{
		"index.html": "<!DOCTYPE html><title>Saldo</title>",
		"biala-ksiega/strategia-przeplywow-pienieznych.pdf": "%PDF-1.7\n%%EOF\n",
		"kb-shell/index.html":                               "<!DOCTYPE html><title>%%KB_TITLE%%</title><main>%%KB_MAIN%%</main>",
	} {
		p := filepath.Join(public, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return public
}
