package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/kbpress/kb/internal/admin"
	"github.com/kbpress/kb/internal/store"
)

const (
	adminEmail    = "partner@example.com"
	adminPassword = "correct horse battery"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// clock is the handler's injected time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t      *testing.T
	st     *store.Store
	h      *admin.Handler
	clock  *clock
	secret string // the enrolled TOTP secret
	cookie string // the cookie's name
}

type envOpts struct {
	baseURL string
	noAdmin bool
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if !o.noAdmin {
		hash, err := admin.HashPassword(adminPassword)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddAdmin(ctx, adminEmail, hash, t0); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, st: st, clock: &clock{t: t0}, cookie: "kb_admin"}
	base := o.baseURL
	if base == "" {
		base = "http://kb.test/"
	}
	if strings.HasPrefix(base, "https:") {
		e.cookie = "__Host-kb_admin"
	}
	e.h, err = admin.New(admin.Options{
		Store: st, BaseURL: base, Issuer: "Biuro Test", Now: e.clock.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// The tests name the client in X-Client.
		ClientIP: func(r *http.Request) netip.Addr {
			if ip, err := netip.ParseAddr(r.Header.Get("X-Client")); err == nil {
				return ip
			}
			return netip.MustParseAddr("192.0.2.1")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// req sends a request; form non-nil makes it a POST.
type req struct {
	method, path string
	form         url.Values
	cookie       string // the session cookie's value
	header       map[string]string
}

func (e *env) do(r req) *http.Response {
	e.t.Helper()
	var body io.Reader
	if r.method == "" {
		r.method = http.MethodGet
		if r.form != nil {
			r.method = http.MethodPost
		}
	}
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	hr := httptest.NewRequest(r.method, "http://kb.test"+r.path, body)
	if r.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: e.cookie, Value: r.cookie})
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sessionCookie returns the session cookie res sets ("" when none).
func (e *env) sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == e.cookie {
			return c
		}
	}
	return nil
}

func wantRedirect(t *testing.T, res *http.Response, to string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != to {
		t.Fatalf("got %d → %q, want 303 → %s", res.StatusCode, res.Header.Get("Location"), to)
	}
}

func (e *env) password(email, password string, hdr map[string]string) *http.Response {
	return e.do(req{path: "/admin/login", form: url.Values{"email": {email}, "password": {password}}, header: hdr})
}

var secretRe = regexp.MustCompile(`secret=([A-Z2-7]+)`)

// login logs in with password and code, enrolling at the first login, and
// returns the session cookie's value. Each call moves the clock on by a
// TOTP step so that the code is new.
func (e *env) login() string {
	e.t.Helper()
	res := e.password(adminEmail, adminPassword, nil)
	wantRedirect(e.t, res, "/admin/code")
	pending := e.sessionCookie(res).Value
	if e.secret == "" {
		page := body(e.t, e.do(req{path: "/admin/code", cookie: pending}))
		m := secretRe.FindStringSubmatch(page)
		if m == nil {
			e.t.Fatalf("enrolment page without otpauth URI:\n%s", page)
		}
		e.secret = m[1]
	}
	e.clock.add(30 * time.Second)
	res = e.code(pending, e.validCode())
	wantRedirect(e.t, res, "/admin/")
	return e.sessionCookie(res).Value
}

func (e *env) validCode() string {
	e.t.Helper()
	c, err := totp.GenerateCode(e.secret, e.clock.now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) code(cookie, code string) *http.Response {
	return e.do(req{path: "/admin/code", cookie: cookie, form: url.Values{"code": {code}}})
}

// protected are requests every one of which needs a full session.
var protected = []req{
	{path: "/admin/"},
	{path: "/admin/sources"},
	{path: "/admin/campaigns"},
	{path: "/admin/campaigns/1"},
	{path: "/admin/subscribers"},
	{path: "/admin/subscribers?email=a%40example.com"},
	{path: "/admin/nothing-here"},
	{path: "/admin/subscribers/export", form: url.Values{}},
	{method: http.MethodPost, path: "/admin/sources"},
}

func TestOffUntilAnAdminExists(t *testing.T) {
	e := newEnv(t, envOpts{noAdmin: true})
	for _, r := range append(slices.Clone(protected), req{path: "/admin/login"}, req{path: "/admin/code"},
		req{path: "/admin/admin.css"}, req{path: "/admin/login", form: url.Values{"email": {adminEmail}, "password": {adminPassword}}}) {
		if res := e.do(r); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", r.method, r.path, res.StatusCode)
		}
	}
}

func TestEveryPathNeedsASession(t *testing.T) {
	e := newEnv(t, envOpts{})
	pending := e.sessionCookie(e.password(adminEmail, adminPassword, nil)).Value
	for _, cookie := range []struct{ name, value string }{{"none", ""}, {"forged", "bm90LWEtc2Vzc2lvbg"}, {"password only", pending}} {
		for _, r := range protected {
			r.cookie = cookie.value
			res := e.do(r)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
				t.Errorf("%s session: %s %s: %d → %q, want 303 → /admin/login", cookie.name, r.method, r.path,
					res.StatusCode, res.Header.Get("Location"))
			}
		}
	}
	for _, p := range []string{"/admin/login", "/admin/admin.css"} {
		if res := e.do(req{path: p}); res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, want 200 without a session", p, res.StatusCode)
		}
	}
	wantRedirect(t, e.do(req{path: "/admin/code"}), "/admin/login")
}

func TestLoginWithPasswordAndTOTP(t *testing.T) {
	e := newEnv(t, envOpts{})
	res := e.password(adminEmail, adminPassword, nil)
	wantRedirect(t, res, "/admin/code")
	pending := e.sessionCookie(res).Value

	page := body(t, e.do(req{path: "/admin/code", cookie: pending}))
	for _, want := range []string{"otpauth://totp/", "issuer=Biuro", `src="data:image/png;base64,`, `name="code"`} {
		if !strings.Contains(page, want) {
			t.Errorf("enrolment page lacks %q", want)
		}
	}
	m := secretRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no secret in the enrolment page")
	}
	e.secret = m[1]
	if !strings.Contains(page, "<code>"+e.secret+"</code>") {
		t.Error("the secret is not shown as text")
	}

	if res := e.code(pending, "000000"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong code: %d, want 401", res.StatusCode)
	}
	res = e.code(pending, e.validCode())
	wantRedirect(t, res, "/admin/")
	full := e.sessionCookie(res).Value
	if full == pending {
		t.Error("the session id did not change when the code was accepted")
	}
	if res := e.do(req{path: "/admin/subscribers", cookie: full}); res.StatusCode != http.StatusOK {
		t.Errorf("dashboard after login: %d", res.StatusCode)
	}
	if res := e.do(req{path: "/admin/subscribers", cookie: pending}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the pre-code session still opens the dashboard: %d", res.StatusCode)
	}

	// A later login asks for a code without enrolment; the same code, in
	// the same 30 s window, is refused.
	used := e.validCode()
	res = e.password(adminEmail, adminPassword, nil)
	pending = e.sessionCookie(res).Value
	page = body(t, e.do(req{path: "/admin/code", cookie: pending}))
	if strings.Contains(page, "otpauth://") || !strings.Contains(page, `name="code"`) {
		t.Errorf("second login shows the enrolment again or no code field:\n%s", page)
	}
	if res := e.code(pending, used); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed code: %d, want 401", res.StatusCode)
	}
	e.clock.add(30 * time.Second)
	wantRedirect(t, e.code(pending, e.validCode()), "/admin/")

	log, err := e.st.AdminLog(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, l := range log {
		events = append(events, l.Event+":"+l.Detail)
	}
	want := []string{"login:", "login_failed:code replayed", "login:TOTP enrolled", "login_failed:code"}
	if !slices.Equal(events, want) {
		t.Errorf("admin log %q, want %q", events, want)
	}
}

func TestSessionFixation(t *testing.T) {
	e := newEnv(t, envOpts{})
	// A cookie planted before login is never the session's id.
	planted := "planted-by-an-attacker"
	res := e.do(req{path: "/admin/login", cookie: planted, form: url.Values{"email": {adminEmail}, "password": {adminPassword}}})
	pending := e.sessionCookie(res).Value
	if pending == planted {
		t.Fatal("login kept the planted id")
	}
	full := e.login()
	if full == pending {
		t.Error("the id did not change at the code")
	}
}

func TestCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		base, name string
		secure     bool
	}{
		{"https://kb.example.pl/", "__Host-kb_admin", true},
		{"http://localhost:8080/", "kb_admin", false},
	} {
		e := newEnv(t, envOpts{baseURL: tc.base})
		c := e.sessionCookie(e.password(adminEmail, adminPassword, nil))
		if c == nil {
			t.Fatalf("%s: no cookie %s", tc.base, tc.name)
		}
		if c.Name != tc.name || c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("%s: cookie %+v", tc.base, c)
		}
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, envOpts{})
	full := e.login()
	page := body(t, e.do(req{path: "/admin/subscribers", cookie: full}))
	if !strings.Contains(page, `action="/admin/logout"`) {
		t.Error("no logout button on the page")
	}
	res := e.do(req{path: "/admin/logout", cookie: full, form: url.Values{}})
	wantRedirect(t, res, "/admin/login")
	if c := e.sessionCookie(res); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout does not clear the cookie: %+v", c)
	}
	wantRedirect(t, e.do(req{path: "/admin/subscribers", cookie: full}), "/admin/login")
}

func TestCrossSitePostRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	full := e.login()
	cross := map[string]string{"Sec-Fetch-Site": "cross-site"}
	foreign := map[string]string{"Origin": "https://evil.example"}
	for _, hdr := range []map[string]string{cross, foreign} {
		for _, r := range []req{
			{path: "/admin/login", form: url.Values{"email": {adminEmail}, "password": {adminPassword}}},
			{path: "/admin/code", form: url.Values{"code": {"123456"}}, cookie: full},
			{path: "/admin/logout", form: url.Values{}, cookie: full},
			{path: "/admin/subscribers/export", form: url.Values{}, cookie: full},
		} {
			r.header = hdr
			if res := e.do(r); res.StatusCode != http.StatusForbidden {
				t.Errorf("%v POST %s: %d, want 403", hdr, r.path, res.StatusCode)
			}
		}
	}
	if res := e.do(req{path: "/admin/subscribers", cookie: full}); res.StatusCode != http.StatusOK {
		t.Errorf("the refused logout ended the session: %d", res.StatusCode)
	}
	same := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://kb.test"}
	if res := e.do(req{path: "/admin/logout", form: url.Values{}, cookie: full, header: same}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin logout: %d, want 303", res.StatusCode)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		full := e.login()
		e.clock.add(11 * time.Hour)
		if res := e.do(req{path: "/admin/subscribers", cookie: full}); res.StatusCode != http.StatusOK {
			t.Fatalf("after 11 h: %d", res.StatusCode)
		}
		e.clock.add(12*time.Hour + time.Minute)
		wantRedirect(t, e.do(req{path: "/admin/subscribers", cookie: full}), "/admin/login")
	})
	t.Run("absolute", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		full := e.login()
		for e.clock.now().Before(t0.Add(7*24*time.Hour - 12*time.Hour)) {
			e.clock.add(11 * time.Hour)
			if res := e.do(req{path: "/admin/subscribers", cookie: full}); res.StatusCode != http.StatusOK {
				t.Fatalf("at %v: %d", e.clock.now().Sub(t0), res.StatusCode)
			}
		}
		e.clock.add(12 * time.Hour)
		wantRedirect(t, e.do(req{path: "/admin/subscribers", cookie: full}), "/admin/login")
	})
	t.Run("code after the password", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		pending := e.sessionCookie(e.password(adminEmail, adminPassword, nil)).Value
		e.clock.add(11 * time.Minute)
		wantRedirect(t, e.do(req{path: "/admin/code", cookie: pending}), "/admin/login")
	})
}
