package cluster

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kbpress/kb/internal/e2e/kbproc"
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

func newGatedMailgun(t *testing.T) *gatedMailgun {
	t.Helper()
	mg, proxy := kbproc.ProxiedMailgun(t)
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
func (g *gatedMailgun) env() map[string]string { return kbproc.MailgunEnv(g.Server, g.APIBase) }
