package browser

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/kbpress/kb/internal/admin"
	"github.com/kbpress/kb/internal/store"
)

// TestAdminDashboard logs in to the dashboard in the browser — password,
// TOTP enrolment, a later login with a code — and audits every admin page
// (axe-core, phone layout, screenshots at 390 and 1280 px).
func TestAdminDashboard(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{}) // the pages have no script of their own
	srv, o := startSite(t, "")
	axeSource(t)

	const email, password = "wspolnik@example.pl", "długie hasło partnera"
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(o.Data, "kb.db"))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := admin.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAdmin(ctx, email, hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCampaign(ctx, store.CampaignSpec{Slug: "rozmowa-o-zaleglej-fakturze", Title: "Rozmowa o zaległej fakturze", Subject: "Temat"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Forms are filled and sent through the DevTools protocol; the pages
	// have no script (the CSP would block inline ones).
	submit := func(t *testing.T, form string, fields map[string]string, want int64) {
		t.Helper()
		for id, v := range fields {
			tb.do(t, "fill "+id, chromedp.SetValue(chromedp.ID(id), v))
		}
		res, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(form+` button[type=submit]`)))
		if err != nil || res.Status != want {
			t.Fatalf("submit %s: %v %v, want %d", form, statusOf(res), err, want)
		}
	}
	text := func(t *testing.T, css string) string {
		t.Helper()
		v, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("text of %s: %v", css, err)
		}
		return strings.TrimSpace(v)
	}
	var secret string
	loginForm := `form[action="/admin/login"]`
	codeForm := `form[action="/admin/code"]`

	t.Run("login", func(t *testing.T) {
		tb.open(t, srv.URL+"/admin/", 200) // 303 to the login page
		if !strings.HasSuffix(tb.location(t), "/admin/login") {
			t.Fatalf("at %s, want the login page", tb.location(t))
		}
		inspect(t, tb, "admin-login")
		submit(t, loginForm, map[string]string{"email": email, "password": "złe hasło"}, 401)
		inspect(t, tb, "admin-login-error")
		submit(t, loginForm, map[string]string{"email": email, "password": password}, 200)
		secret = text(t, "dl.secret dd code")
		inspect(t, tb, "admin-enrol")
		submit(t, codeForm, map[string]string{"code": "000000"}, 401)
		inspect(t, tb, "admin-code-error")
		code, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		submit(t, codeForm, map[string]string{"code": code}, 200)
		if !strings.HasSuffix(tb.location(t), "/admin/") {
			t.Fatalf("at %s after the code, want /admin/", tb.location(t))
		}
		inspect(t, tb, "admin-overview")
	})
	if secret == "" {
		t.FailNow()
	}

	for _, p := range []struct {
		name, path string
		status     int64
	}{
		{"admin-sources", "/admin/sources", 200},
		{"admin-campaigns", "/admin/campaigns", 200},
		{"admin-subscribers", "/admin/subscribers", 200},
		{"admin-subscriber-none", "/admin/subscribers?email=nikt%40example.pl", 200},
		{"admin-not-found", "/admin/nie-ma", 404},
	} {
		t.Run(p.name, func(t *testing.T) {
			tb.open(t, srv.URL+p.path, p.status)
			inspect(t, tb, p.name)
		})
	}
	t.Run("admin-campaign", func(t *testing.T) {
		tb.open(t, srv.URL+"/admin/campaigns", 200)
		href := attr(t, tb, `table a[href^="/admin/campaigns/"]`, "href")
		tb.open(t, srv.URL+href, 200)
		inspect(t, tb, "admin-campaign")
	})

	t.Run("logout and a later login", func(t *testing.T) {
		res, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)))
		if err != nil || res.Status != 200 || !strings.HasSuffix(tb.location(t), "/admin/login") {
			t.Fatalf("logout: %v %v at %s", statusOf(res), err, tb.location(t))
		}
		submit(t, loginForm, map[string]string{"email": email, "password": password}, 200)
		inspect(t, tb, "admin-code")
		// The next step's code: the one just used is refused in its window.
		code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		submit(t, codeForm, map[string]string{"code": code}, 200)
		if !strings.HasSuffix(tb.location(t), "/admin/") {
			t.Fatalf("at %s after the code, want /admin/", tb.location(t))
		}
		tb.viewport(t, phoneWidth)
		screenshot(t, tb, "admin-overview-after-login", phoneWidth)
		tb.viewport(t, desktopWidth)
	})

	t.Run("admin-throttled", func(t *testing.T) {
		tb.do(t, "log out", chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)))
		for range 5 {
			submit(t, loginForm, map[string]string{"email": "nieznany@example.pl", "password": "zgadywanie"}, 401)
		}
		submit(t, loginForm, map[string]string{"email": "nieznany@example.pl", "password": "zgadywanie"}, 429)
		inspect(t, tb, "admin-throttled")
	})
}
