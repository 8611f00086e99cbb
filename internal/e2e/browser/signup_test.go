package browser

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// fillSignup types an address into the signup form formID, ticks the
// consent and sets the whitepaper box; it does not submit.
func fillSignup(t *testing.T, tb *tab, formID, address string, whitepaper bool) {
	t.Helper()
	tb.do(t, "fill the signup form #"+formID,
		chromedp.WaitVisible(chromedp.ID(formID+"-email")),
		chromedp.SendKeys(chromedp.ID(formID+"-email"), address),
		chromedp.Click(chromedp.ID(formID+"-consent")),
	)
	checked, err := chromedp.Run(tb.ctx, chromedp.AttributeValue(chromedp.ID(formID+"-whitepaper"), "checked"))
	if err != nil {
		t.Fatalf("whitepaper box of #%s: %v", formID, err)
	}
	// The attribute is the markup's default; nothing has toggled it yet.
	if checked.Exists != whitepaper {
		tb.do(t, "toggle the whitepaper box", chromedp.Click(chromedp.ID(formID+"-whitepaper")))
	}
}

// signUpWithJS submits the filled form formID with JavaScript on and waits
// for the thank-you state that replaces the form.
func signUpWithJS(t *testing.T, tb *tab, formID, address string, whitepaper bool) {
	t.Helper()
	fillSignup(t, tb, formID, address, whitepaper)
	before := tb.location(t)
	tb.do(t, "submit #"+formID, chromedp.Click(chromedp.CSS("#"+formID+` button[type="submit"]`)))
	tb.waitJS(t, "the thank-you state", `!!document.querySelector('.signup-done')`)
	done := eval[string](t, tb, `document.querySelector('.signup-done').textContent.trim()`)
	if want := webMessage(t, "msgSignupDone"); done != want {
		t.Errorf("thank-you state says %q, want %q", done, want)
	}
	if focused := eval[bool](t, tb, `document.activeElement === document.querySelector('.signup-done')`); !focused {
		t.Error("focus did not move to the thank-you message: a screen reader user is left on a removed form")
	}
	if eval[bool](t, tb, `!!document.getElementById(`+jsString(formID)+`)`) {
		t.Errorf("the form #%s is still on the page after the signup", formID)
	}
	if after := tb.location(t); after != before {
		t.Errorf("the page changed from %s to %s: JavaScript signup must stay on the page", before, after)
	}
}

// confirmFromEmail opens the confirmation link of the email to address,
// presses its button, and checks the confirmed page and the stored status.
func confirmFromEmail(t *testing.T, tb *tab, srv *kbproc.Server, o kbproc.Options, address string) email {
	t.Helper()
	e := openConfirmation(t, tb, srv, o, address)
	pressConfirm(t, tb, o, address)
	return e
}

// openConfirmation opens the confirmation link of the email to address,
// as a mail scanner or the reader does: a page with one button, and
// nothing confirmed yet.
func openConfirmation(t *testing.T, tb *tab, srv *kbproc.Server, o kbproc.Options, address string) email {
	t.Helper()
	e := waitEmail(t, tb.ctx, srv, address, "confirm")
	tb.open(t, e.link(t, "/api/confirm"), 200)
	if h1 := text(t, tb, "main h1"); h1 != webMessage(t, "titleConfirm") {
		t.Errorf("confirmation link page heading %q, want %q", h1, webMessage(t, "titleConfirm"))
	}
	if s := showSubscriber(t, o, address); s.Status != "pending" {
		t.Errorf("opening the confirmation link made %s %q: a scanner's GET must change nothing", address, s.Status)
	}
	return e
}

// pressConfirm presses "Potwierdzam zapis" on the open confirmation page.
func pressConfirm(t *testing.T, tb *tab, o kbproc.Options, address string) {
	t.Helper()
	// The button's own click(), in the page: chromedp's mouse-driven Click
	// sometimes never saw the navigation it caused on this page.
	res, err := chromedp.RunResponse(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('form.link-action button[type="submit"]').click()`))
	if err != nil || res.Status != 200 {
		t.Fatalf("press the confirm button: %v %v", statusOf(res), err)
	}
	if h1 := text(t, tb, "main h1"); h1 != webMessage(t, "titleConfirmed") {
		t.Errorf("confirmation page heading %q, want %q", h1, webMessage(t, "titleConfirmed"))
	}
	if s := showSubscriber(t, o, address); s.Status != "confirmed" {
		t.Errorf("after the confirm button %s is %q, want confirmed", address, s.Status)
	}
}

// text is the trimmed text of the first element matching a CSS selector;
// it works with JavaScript off (DOM domain only).
func text(t *testing.T, tb *tab, css string) string {
	t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// attr is an attribute of the first element matching a CSS selector.
func attr(t *testing.T, tb *tab, css, name string) string {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.AttributeValue(chromedp.CSS(css), name))
	if err != nil {
		t.Fatalf("%s of %s: %v", name, css, err)
	}
	return v.Value
}

// TestSignupWithJavaScript signs up from a guide's newsletter band, gets
// the thank-you state in place, and confirms from the email.
func TestSignupWithJavaScript(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, o := startSite(t, "")
	const address = "anna.nowak@example.pl"

	tb.open(t, srv.URL+"/poradniki/rozmowa-o-zaleglej-fakturze/", 200)
	signUpWithJS(t, tb, "signup-band", address, false)
	if s := showSubscriber(t, o, address); s.Status != "pending" {
		t.Errorf("after the signup %s is %q, want pending until confirmed", address, s.Status)
	}
	confirmFromEmail(t, tb, srv, o, address)
	tb.mon.check(t, origin(srv), nil)
}

// TestSignupWithoutJavaScript posts the plain form: redirect to the
// thank-you page, the email, the confirmation.
func TestSignupWithoutJavaScript(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{noScript: true})
	srv, o := startSite(t, "")
	const address = "jan.kowalski@example.pl"

	tb.open(t, srv.URL+"/newsletter/", 200)
	fillSignup(t, tb, "signup-page", address, false)
	res, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(`#signup-page button[type="submit"]`)))
	if err != nil || res.Status != 200 {
		t.Fatalf("submit without JavaScript: %v %v", statusOf(res), err)
	}
	if loc := tb.location(t); loc != srv.URL+"/newsletter/dziekujemy/" {
		t.Fatalf("after the form post the tab shows %s, want the thank-you page %s", loc, srv.URL+"/newsletter/dziekujemy/")
	}
	if h1 := text(t, tb, "main h1"); h1 == "" {
		t.Error("the thank-you page has no heading")
	}
	confirmFromEmail(t, tb, srv, o, address)
	tb.mon.check(t, origin(srv), nil)
}

// TestSignupInvalidAddress sends an address the browser's own type=email
// check lets through (jan@example: no dot in the domain) and expects the
// server's Polish message next to the field, the field marked invalid and
// focused — with JavaScript and without.
func TestSignupInvalidAddress(t *testing.T) {
	t.Parallel()
	srv, _ := startSite(t, "")
	want := webMessage(t, "msgEmailNoDot")
	const address = "jan@example"

	for _, tc := range []struct {
		name     string
		noScript bool
		formID   string // the form that shows the error
	}{
		{"javascript", false, "signup-page"},
		// Without JavaScript the handler answers with its own page and
		// the site's form markup, id "signup".
		{"no-javascript", true, "signup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTab(t, tabOptions{noScript: tc.noScript})
			tb.open(t, srv.URL+"/newsletter/", 200)
			fillSignup(t, tb, "signup-page", address, false)
			// The server must be the one to refuse it: the browser's own
			// type=email check accepts a domain without a dot.
			if typ := attr(t, tb, "#signup-page-email", "type"); typ != "email" {
				t.Fatalf("the email field is type=%q, want email", typ)
			}
			if !eval[bool](t, tb, `document.getElementById('signup-page-email').checkValidity()`) {
				t.Fatalf("the browser's type=email validation refuses %q: the test would not reach the server", address)
			}
			submit := chromedp.Click(chromedp.CSS(`#signup-page button[type="submit"]`))
			if tc.noScript {
				res, err := chromedp.RunResponse(tb.ctx, submit)
				if err != nil || res.Status != 422 {
					t.Fatalf("submit %s without JavaScript: status %v, %v; want 422 with the form again", address, statusOf(res), err)
				}
			} else {
				tb.do(t, "submit", submit)
			}
			input, msg := "#"+tc.formID+"-email", "#"+tc.formID+"-email-error"
			tb.do(t, "the field's error", chromedp.WaitVisible(chromedp.CSS(msg)))
			if got := text(t, tb, msg); got != want {
				t.Errorf("error next to the field: %q, want %q", got, want)
			}
			if got := attr(t, tb, input, "aria-invalid"); got != "true" {
				t.Errorf("aria-invalid = %q, want true", got)
			}
			if got := attr(t, tb, input, "aria-describedby"); got != tc.formID+"-email-error" {
				t.Errorf("aria-describedby = %q, want the error's id %s-email-error", got, tc.formID)
			}
			if got := attr(t, tb, input, "value"); tc.noScript && got != address {
				t.Errorf("the form came back with the address %q, want the reader's %q", got, address)
			}
			focused, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`))
			if err != nil {
				t.Fatalf("read the focused element: %v", err)
			}
			if focused != tc.formID+"-email" {
				t.Errorf("focus is on #%s, want the email field #%s-email", focused, tc.formID)
			}
			tb.mon.check(t, origin(srv), answered("/api/subscribe", 422))
		})
	}
}
