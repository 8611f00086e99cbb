package browser

import (
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kbpress/kb/internal/token"
)

// TestPageTypes audits every page type a reader can meet — the site's
// pages and the handler's — with axe-core (WCAG 2.1 AA, zero violations),
// checks the phone layout (no horizontal scroll, 44 px tap targets) and
// writes screenshots at 390 and 1280 px.
func TestPageTypes(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, o := startSite(t, "")
	axeSource(t) // skip (or fail in CI) before any work when axe-core is missing

	static := []struct {
		name, path string
		status     int64
		ready      string // a JavaScript condition for pages that build themselves
	}{
		{"home", "/", 200, ""},
		{"guides", "/poradniki/", 200, ""},
		{"guide", "/poradniki/rozmowa-o-zaleglej-fakturze/", 200, ""},
		{"tags", "/tagi/", 200, ""},
		{"whitepaper-landing", "/biala-ksiega/", 200, ""},
		{"whitepaper-page", "/biala-ksiega/strategia-przeplywow-pienieznych/", 200, ""},
		{"newsletter", "/newsletter/", 200, ""},
		{"thank-you", "/newsletter/dziekujemy/", 200, ""},
		{"privacy", "/polityka-prywatnosci/", 200, ""},
		{"search-empty", "/szukaj/", 200, `document.getElementById('search-status').textContent === ` + jsString(siteText(t, "searchPrompt"))},
		{"search-results", "/szukaj/?q=faktura", 200, `document.querySelectorAll('#search-results .card').length > 0`},
		{"search-none", "/szukaj/?q=kryptowaluty", 200, `!!document.querySelector('#search-results .search-none')`},
		{"not-found", "/nie-ma-takiej-strony/", 404, ""},
	}
	for _, p := range static {
		t.Run(p.name, func(t *testing.T) {
			tb.open(t, srv.URL+p.path, p.status)
			if p.ready != "" {
				tb.waitJS(t, p.name+" ready", p.ready)
			}
			inspect(t, tb, p.name)
		})
	}

	t.Run("tag", func(t *testing.T) {
		tb.open(t, srv.URL+"/tagi/", 200)
		tag := attr(t, tb, ".term-list a", "href")
		tb.open(t, srv.URL+tag, 200)
		inspect(t, tb, "tag")
	})

	// The handler's pages, reached as a reader reaches them.
	t.Run("form-errors", func(t *testing.T) {
		tb.open(t, srv.URL+"/newsletter/", 200)
		tb.do(t, "fill", chromedp.SendKeys(chromedp.ID("signup-page-email"), "jan@example"))
		// form.submit() skips signup.js: the plain form post, as without
		// JavaScript.
		res, err := chromedp.RunResponse(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('signup-page').submit()`))
		if err != nil || res.Status != 422 {
			t.Fatalf("post the form: %v %v, want 422", statusOf(res), err)
		}
		inspect(t, tb, "form-errors")
	})

	const reader = "czytelniczka@example.pl"
	var confirmation email
	t.Run("confirmed", func(t *testing.T) {
		tb.open(t, srv.URL+"/newsletter/", 200)
		signUpWithJS(t, tb, "signup-page", reader, true)
		confirmation = openConfirmation(t, tb, srv, o, reader)
		inspect(t, tb, "confirm")
		pressConfirm(t, tb, o, reader)
		inspect(t, tb, "confirmed")
	})
	t.Run("unsubscribe", func(t *testing.T) {
		if confirmation.File == "" {
			t.Skip("no confirmation email")
		}
		tb.open(t, confirmation.listUnsubscribe(t), 200)
		inspect(t, tb, "unsubscribe")
		// The button's own click(), as in pressConfirm: chromedp's mouse
		// click once never saw the navigation it caused (a 300 s hang).
		res, err := chromedp.RunResponse(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('form.link-action button[type="submit"]').click()`))
		if err != nil || res.Status != 200 {
			t.Fatalf("unsubscribe: %v %v", statusOf(res), err)
		}
		inspect(t, tb, "unsubscribed")
	})

	t.Run("link-invalid", func(t *testing.T) {
		tb.open(t, srv.URL+"/api/confirm?token=not-a-token", 400)
		inspect(t, tb, "link-invalid")
	})
	t.Run("link-expired", func(t *testing.T) {
		const late = "spozniony@example.pl"
		tb.open(t, srv.URL+"/newsletter/", 200)
		signUpWithJS(t, tb, "signup-page", late, false)
		signer, err := token.NewSigner([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		// The emailed link names the row (id and key); the same claims,
		// expired an hour ago.
		mailed, err := url.Parse(waitEmail(t, tb.ctx, srv, late, "confirm").link(t, token.ConfirmPath))
		if err != nil {
			t.Fatal(err)
		}
		c, err := signer.Verify(mailed.Query().Get("token"), token.Confirm, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.Expires = time.Now().Add(-time.Hour)
		tok := signer.Sign(c)
		tb.open(t, srv.URL+token.ConfirmPath+"?token="+url.QueryEscape(tok), 410)
		if h1 := text(t, tb, "main h1"); h1 != webMessage(t, "titleExpired") {
			t.Errorf("expired link heading %q, want %q", h1, webMessage(t, "titleExpired"))
		}
		inspect(t, tb, "link-expired")
	})

	tb.mon.check(t, origin(srv), anyOf(
		answered("/nie-ma-takiej-strony/", 404),
		answered("/api/subscribe", 422),
		answered("/api/confirm?token=not-a-token", 400),
		answered("/api/confirm?token=", 410),
	))
}

// TestPageTypesGated covers the pages that change when the whitepaper is
// gated: the landing page and the whitepaper's page show the form.
func TestPageTypesGated(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, _ := startSite(t, gatedSite(t))
	axeSource(t)
	for _, p := range []struct{ name, path string }{
		{"whitepaper-landing-gated", "/biala-ksiega/"},
		{"whitepaper-page-gated", "/biala-ksiega/strategia-przeplywow-pienieznych/"},
	} {
		t.Run(p.name, func(t *testing.T) {
			tb.open(t, srv.URL+p.path, 200)
			tb.do(t, "the gated form", chromedp.WaitVisible(chromedp.ID("signup-whitepaper")))
			inspect(t, tb, p.name)
		})
	}
	tb.mon.check(t, origin(srv), nil)
}
