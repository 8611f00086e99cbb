package web

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// TestEndToEnd walks a reader through everything: sign up (the plain form
// and signup.js), confirm from the email, get the whitepaper, unsubscribe
// with a mail client's one-click POST.
func TestEndToEnd(t *testing.T) {
	for _, mode := range []struct {
		name  string
		gated bool
		json  bool
	}{
		{"form/gated", true, false},
		{"json/gated", true, true},
		{"form/free", false, false},
		{"json/free", false, true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, func(c *envConfig) { c.gated = mode.gated })
			const addr = "Anna.Nowak@Example.PL"

			// Sign up, asking for the whitepaper.
			var w *httptest.ResponseRecorder
			if mode.json {
				w = e.do(jsonRequest(`{"email":"` + addr + `","name":"Anna","consent":true,"whitepaper":true,"website":"","source":"/biala-ksiega/"}`))
				if w.Code != http.StatusOK || w.Body.String() != string(doneAnswer) {
					t.Fatalf("JSON signup: %d %s", w.Code, w.Body)
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
			} else {
				v := signupValues(addr)
				v.Set("name", "Anna")
				v.Set("whitepaper", "yes")
				v.Set("source", "/biala-ksiega/")
				w = e.do(formRequest(v))
				if w.Code != http.StatusSeeOther || w.Header().Get("Location") != pathThanks {
					t.Fatalf("form signup: %d, Location %q", w.Code, w.Header().Get("Location"))
				}
			}
			if e.notifier.n.Load() != 1 {
				t.Errorf("Notify called %d times, want 1", e.notifier.n.Load())
			}
			sub := e.subscriber(addr)
			if sub.Status != store.StatusPending || !sub.WhitepaperRequested || sub.Name != "Anna" {
				t.Fatalf("after signup: %+v", sub)
			}
			if c := sub.Consent; c.Version != "2026-11-01" || c.Source != "/biala-ksiega/" || c.IP != "192.0.2.1" || !c.At.Equal(t0) {
				t.Errorf("consent = %+v", c)
			}

			// The confirmation email.
			e.drain()
			confirms := e.mailsTagged("kb-confirm")
			if len(confirms) != 1 || confirms[0].to != "Anna.Nowak@example.pl" {
				t.Fatalf("confirmation emails: %+v", confirms)
			}
			confirmLink := linkIn(t, confirms[0].text, token.ConfirmPath)

			// A mail scanner opens the link: it sees the button, and
			// nothing changes.
			e.clock.Advance(time.Hour)
			w = e.get(confirmLink)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), msgConfirmButton) {
				t.Fatalf("confirm page: %d\n%s", w.Code, w.Body)
			}
			if got := e.subscriber(addr).Status; got != store.StatusPending {
				t.Fatalf("GET on the confirmation link changed the status to %s", got)
			}
			e.drain()
			if n := len(e.mailsTagged("kb-welcome")); n != 0 {
				t.Fatalf("GET on the confirmation link sent %d welcome emails", n)
			}
			action := formAction(t, w.Body.String())
			// The reader presses the button.
			r := httptest.NewRequest(http.MethodPost, action, strings.NewReader(""))
			r.Header.Set("Content-Type", mediaForm)
			r.Header.Set("User-Agent", "Czytnik/1.0")
			w = e.do(r)
			body := w.Body.String()
			if w.Code != http.StatusOK || !strings.Contains(body, titleConfirmed) {
				t.Fatalf("confirm: %d\n%s", w.Code, body)
			}
			if ua := e.subscriber(addr).ConfirmUserAgent; ua != "Czytnik/1.0" {
				t.Errorf("consent evidence has User-Agent %q", ua)
			}
			if !strings.Contains(body, "<title>"+titleConfirmed+" · Saldo</title>") {
				t.Errorf("confirm page is not in the shell:\n%s", body)
			}
			if got := e.subscriber(addr).Status; got != store.StatusConfirmed {
				t.Fatalf("status after confirm = %s", got)
			}
			// The preference link right away, for this reader.
			i := strings.Index(body, `href="`+token.PreferencesPath+"?token=")
			if i < 0 {
				t.Fatalf("no preference link on the confirmed page:\n%s", body)
			}
			prefs := body[i+len(`href="`):]
			prefs = strings.ReplaceAll(prefs[:strings.IndexByte(prefs, '"')], "&amp;", "&")
			if w := e.get(prefs); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), token.PreferencesPath+"/export?token=") {
				t.Fatalf("preference page from the confirmed page: %d\n%s", w.Code, w.Body)
			}
			var download string
			if mode.gated {
				i := strings.Index(body, `href="`+token.WhitepaperPath+"?token=")
				if i < 0 {
					t.Fatalf("no gated download link on the confirm page:\n%s", body)
				}
				download = body[i+len(`href="`):]
				download = download[:strings.IndexByte(download, '"')]
			} else if !strings.Contains(body, `href="/biala-ksiega/gotowka.pdf"`) {
				t.Fatalf("no free PDF link on the confirm page:\n%s", body)
			}
			// Opening the link again shows the same page.
			again := e.get(confirmLink)
			if again.Code != http.StatusOK || again.Body.String() != body {
				t.Errorf("second confirm differs: %d\n%s", again.Code, again.Body)
			}

			// The welcome email with the whitepaper link, once, and no
			// separate whitepaper email.
			e.drain()
			wps := e.mailsTagged("kb-welcome")
			if len(wps) != 1 || len(e.mailsTagged("kb-whitepaper")) != 0 {
				t.Fatalf("welcome emails: %d, whitepaper emails %d; want 1 and 0", len(wps), len(e.mailsTagged("kb-whitepaper")))
			}
			if mode.gated {
				mailLink := linkIn(t, wps[0].text, token.WhitepaperPath)
				for _, link := range []string{mailLink, strings.ReplaceAll(download, "&amp;", "&")} {
					w = e.get(link)
					if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), testPDF) {
						t.Fatalf("download %s: %d, %d bytes", link, w.Code, w.Body.Len())
					}
					if w.Header().Get("Content-Type") != "application/pdf" ||
						!strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment;") ||
						w.Header().Get("Cache-Control") != "private" {
						t.Errorf("download headers: %v", w.Header())
					}
				}
				r := httptest.NewRequest(http.MethodGet, mailLink, nil)
				r.Header.Set("Range", "bytes=0-7")
				w = e.do(r)
				if w.Code != http.StatusPartialContent || w.Body.String() != "%PDF-1.7" {
					t.Errorf("range: %d %q", w.Code, w.Body)
				}
				// Expired after 7 days, forged never valid.
				e.clock.Advance(token.WhitepaperTTL + time.Hour)
				if w = e.get(mailLink); w.Code != http.StatusGone || !strings.Contains(w.Body.String(), titleWPExpired) {
					t.Errorf("expired download: %d", w.Code)
				}
				forged := mailLink[:len(mailLink)-2] + "AA"
				if w = e.get(forged); w.Code != http.StatusBadRequest || bytes.Contains(w.Body.Bytes(), []byte("%PDF")) {
					t.Errorf("forged download: %d", w.Code)
				}
			} else {
				if !strings.Contains(wps[0].text, "https://wiedza.example.pl/biala-ksiega/gotowka.pdf") {
					t.Errorf("free whitepaper email has no PDF link:\n%s", wps[0].text)
				}
				if w = e.get(token.WhitepaperPath + "?token=x"); w.Code != http.StatusNotFound {
					t.Errorf("free mode: /api/whitepaper = %d, want 404", w.Code)
				}
			}

			// GET on the unsubscribe link changes nothing.
			unsub := relative(t, confirms[0].unsubscribe)
			w = e.get(unsub)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "A•••k@e•••e.pl") ||
				!strings.Contains(w.Body.String(), `method="post"`) {
				t.Fatalf("unsubscribe page: %d\n%s", w.Code, w.Body)
			}
			if got := e.subscriber(addr).Status; got != store.StatusConfirmed {
				t.Fatalf("GET unsubscribe changed the status to %s", got)
			}

			// A mail client's one-click POST: cross-site, no cookies.
			for range 2 {
				r := httptest.NewRequest(http.MethodPost, unsub, strings.NewReader("List-Unsubscribe=One-Click"))
				r.Header.Set("Content-Type", mediaForm)
				r.Header.Set("Sec-Fetch-Site", "cross-site")
				w = e.do(r)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), titleUnsubDone) {
					t.Fatalf("one-click unsubscribe: %d\n%s", w.Code, w.Body)
				}
			}
			if got := e.subscriber(addr).Status; got != store.StatusUnsubscribed {
				t.Fatalf("status after unsubscribe = %s", got)
			}
		})
	}
}

// TestUnsubscribeBodies covers the ways a POST reaches the unsubscribe link.
func TestUnsubscribeBodies(t *testing.T) {
	multipartBody := func() (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("List-Unsubscribe", "One-Click")
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	mpBody, mpType := multipartBody()
	tests := []struct {
		name        string
		body        string
		contentType string
		wantStatus  int
		wantUnsub   bool
	}{
		{"one-click urlencoded", "List-Unsubscribe=One-Click", mediaForm, http.StatusOK, true},
		{"one-click multipart", mpBody, mpType, http.StatusOK, true},
		{"page button (empty form)", "", mediaForm, http.StatusOK, true},
		{"no content type", "", "", http.StatusOK, true},
		{"malformed urlencoded", "a=%zz", mediaForm, http.StatusBadRequest, false},
		{"malformed multipart", "--x\r\nbroken", "multipart/form-data; boundary=x", http.StatusBadRequest, false},
		{"oversized", "List-Unsubscribe=One-Click&pad=" + strings.Repeat("x", maxLinkBody), mediaForm, http.StatusRequestEntityTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			sub, _, err := e.store.Subscribe(context.Background(), store.SignupRequest{Email: "ewa@example.pl"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, relative(t, e.links.Unsubscribe(sub.ID, sub.LinkKey)), strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := e.do(r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.wantStatus, w.Body)
			}
			if got := e.subscriber("ewa@example.pl").Status == store.StatusUnsubscribed; got != tt.wantUnsub {
				t.Fatalf("unsubscribed = %v, want %v", got, tt.wantUnsub)
			}
		})
	}
}

// TestTokenLinks covers the link pages' refusals and special cases.
func TestTokenLinks(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.gated = true })
	ctx := context.Background()
	pending, _, err := e.store.Subscribe(ctx, store.SignupRequest{Email: "p@example.pl"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := token.NewSigner([]byte("another secret of the same length!"))
	otherLinks := token.NewLinks(other, testBaseURL)
	unsubscribed, _, _ := e.store.Subscribe(ctx, store.SignupRequest{Email: "u@example.pl"}, t0)
	if _, _, err := e.store.Unsubscribe(ctx, unsubscribed.ID, "test", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		method   string
		target   string
		status   int
		contains string
	}{
		{"confirm without token", "GET", token.ConfirmPath, 400, titleBadLink},
		{"confirm garbage", "GET", token.ConfirmPath + "?token=%00%01", 400, titleBadLink},
		{"confirm forged", "GET", relative(t, otherLinks.Confirm(pending.ID, pending.LinkKey, t0)), 400, titleBadLink},
		{"confirm with an unsubscribe token", "GET", strings.Replace(relative(t, e.links.Unsubscribe(pending.ID, pending.LinkKey)), token.UnsubscribePath, token.ConfirmPath, 1), 400, titleBadLink},
		{"confirm expired", "GET", relative(t, e.links.Confirm(pending.ID, pending.LinkKey, t0.Add(-token.ConfirmTTL-time.Second))), 410, titleExpired},
		{"confirm unknown subscriber", "GET", relative(t, e.links.Confirm(999, "nokey", t0)), 410, titleInactive},
		{"confirm link older than the unsubscribe", "GET", relative(t, e.links.Confirm(unsubscribed.ID, unsubscribed.LinkKey, t0)), 410, titleInactive},
		{"confirm PUT", "PUT", relative(t, e.links.Confirm(pending.ID, pending.LinkKey, t0)), 405, titleMethod},
		{"confirm with another row's key", "GET", relative(t, e.links.Confirm(pending.ID, unsubscribed.LinkKey, t0)), 410, titleInactive},
		{"confirm POST with another row's key", "POST", relative(t, e.links.Confirm(pending.ID, unsubscribed.LinkKey, t0)), 410, titleInactive},
		{"unsubscribe with another row's key", "POST", relative(t, e.links.Unsubscribe(pending.ID, unsubscribed.LinkKey)), 200, titleUnsubDone},
		{"unsubscribe forged", "GET", relative(t, otherLinks.Unsubscribe(pending.ID, pending.LinkKey)), 400, titleBadLink},
		{"unsubscribe forged POST", "POST", relative(t, otherLinks.Unsubscribe(pending.ID, pending.LinkKey)), 400, titleBadLink},
		{"unsubscribe unknown subscriber", "GET", relative(t, e.links.Unsubscribe(999, "nokey")), 200, titleNotListed},
		{"unsubscribe unknown subscriber POST", "POST", relative(t, e.links.Unsubscribe(999, "nokey")), 200, titleUnsubDone},
		{"unsubscribe already", "GET", relative(t, e.links.Unsubscribe(unsubscribed.ID, unsubscribed.LinkKey)), 200, "u•••@e•••e.pl"},
		{"unsubscribe PUT", "PUT", relative(t, e.links.Unsubscribe(pending.ID, pending.LinkKey)), 405, titleMethod},
		{"whitepaper forged", "GET", relative(t, otherLinks.Whitepaper(pending.ID, pending.LinkKey, t0.Add(time.Hour))), 400, titleBadLink},
		{"whitepaper expired", "GET", relative(t, e.links.Whitepaper(pending.ID, pending.LinkKey, t0)), 410, titleWPExpired},
		{"whitepaper unknown subscriber", "GET", relative(t, e.links.Whitepaper(999, "nokey", t0.Add(time.Hour))), 410, titleInactive},
		{"whitepaper never-expiring token", "GET", token.WhitepaperPath + "?token=" + e.signer.Sign(token.Claims{Purpose: token.Whitepaper, SubscriberID: pending.ID}), 400, titleBadLink},
	}
	before := e.counts()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(httptest.NewRequest(tt.method, tt.target, nil))
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.contains) {
				t.Fatalf("%s %s: %d, want %d with %q\n%s", tt.method, tt.target, w.Code, tt.status, tt.contains, w.Body)
			}
			if bytes.Contains(w.Body.Bytes(), []byte("%PDF")) {
				t.Fatal("PDF bytes in a refusal")
			}
		})
	}
	if after := e.counts(); after != before {
		t.Errorf("refused links changed the store: %+v → %+v", before, after)
	}
	if got := e.subscriber("p@example.pl").Status; got != store.StatusPending {
		t.Errorf("pending subscriber is now %s", got)
	}

	// An expired link of a reader who did confirm in time shows the
	// confirmed page, not "sign up again".
	if _, _, err := e.store.Confirm(ctx, pending.Link(), "", t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	w := e.get(relative(t, e.links.Confirm(pending.ID, pending.LinkKey, t0.Add(-token.ConfirmTTL-time.Second))))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), titleConfirmed) {
		t.Errorf("expired link of a confirmed subscriber: %d", w.Code)
	}
}

// TestWhitepaperFileMissing: a gated PDF that is not there is a 503 page,
// not a crash or an empty download.
func TestWhitepaperFileMissing(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.gated = true })
	sub, _, _ := e.store.Subscribe(context.Background(), store.SignupRequest{Email: "a@example.pl"}, t0)
	if _, _, err := e.store.Confirm(context.Background(), sub.Link(), "", t0, t0); err != nil {
		t.Fatal(err)
	}
	e.h.opts.WhitepaperFile = e.pdf + ".missing"
	w := e.get(relative(t, e.links.Whitepaper(sub.ID, sub.LinkKey, t0.Add(time.Hour))))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), titleWPMissing) {
		t.Fatalf("missing PDF: %d\n%s", w.Code, w.Body)
	}
}

func TestContentDisposition(t *testing.T) {
	got := contentDisposition(`Gotówka "pod" kontrolą; wyd. 1/2.pdf`)
	want := `attachment; filename="Gotowka _pod_ kontrola; wyd. 1_2.pdf"; filename*=UTF-8''Got%C3%B3wka%20%22pod%22%20kontrol%C4%85%3B%20wyd.%201%2F2.pdf`
	if got != want {
		t.Errorf("contentDisposition:\n got %s\nwant %s", got, want)
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"jan.kowalski@gmail.com": "j•••i@g•••l.com",
		"ab@x.pl":                "a•••@x•••.pl",
		"żaneta@poczta.onet.pl":  "ż•••a@p•••a.onet.pl",
		"x@localhost":            "x•••@l•••t",
	} {
		if got := maskEmail(in); got != want {
			t.Errorf("maskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRepeatedInput: the same signup twice sends one email; confirming
// twice queues one whitepaper email; unsubscribing twice is fine.
func TestRepeatedInput(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.gated = true })
	v := signupValues("rep@example.pl")
	v.Set("whitepaper", "yes")
	for i := range 2 {
		if w := e.do(formRequest(v)); w.Code != http.StatusSeeOther {
			t.Fatalf("signup %d: %d", i, w.Code)
		}
		e.clock.Advance(time.Minute)
	}
	e.drain()
	confirms := e.mailsTagged("kb-confirm")
	if len(confirms) != 1 {
		t.Fatalf("%d confirmation emails for two signups within 10 minutes, want 1", len(confirms))
	}
	link := linkIn(t, confirms[0].text, token.ConfirmPath)
	var pages []string
	action := formAction(t, e.get(link).Body.String())
	for range 2 {
		r := httptest.NewRequest(http.MethodPost, action, strings.NewReader(""))
		r.Header.Set("Content-Type", mediaForm)
		w := e.do(r)
		if w.Code != http.StatusOK {
			t.Fatalf("confirm: %d", w.Code)
		}
		pages = append(pages, w.Body.String())
		if len(pages) == 1 {
			// Confirmed: the link's page now says so, with no button.
			if page := e.get(link).Body.String(); page != pages[0] {
				t.Fatalf("confirmed link page differs from the confirm answer:\n%s", page)
			}
		}
	}
	if pages[0] != pages[1] {
		t.Fatalf("confirming twice shows different pages")
	}
	e.drain()
	if n := len(e.mailsTagged("kb-welcome")); n != 1 {
		t.Errorf("%d welcome emails after confirming twice, want 1", n)
	}
	unsub := relative(t, confirms[0].unsubscribe)
	for i := range 2 {
		r := httptest.NewRequest(http.MethodPost, unsub, strings.NewReader(""))
		r.Header.Set("Content-Type", mediaForm)
		if w := e.do(r); w.Code != http.StatusOK {
			t.Fatalf("unsubscribe %d: %d", i, w.Code)
		}
	}
	if got := e.subscriber("rep@example.pl").Status; got != store.StatusUnsubscribed {
		t.Errorf("status = %s", got)
	}
}

// TestConcurrentSignups: 200 concurrent requests for 50 addresses make 50
// subscribers and 50 confirmation emails.
func TestConcurrentSignups(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			testConcurrentSignups(t, newEnv(t, func(c *envConfig) { c.postgres = backend == "postgres" }))
		})
	}
}

func testConcurrentSignups(t *testing.T, e *env) {
	const addresses, perAddress = 50, 4
	errc := make(chan error, addresses*perAddress)
	start := make(chan struct{})
	for i := range addresses * perAddress {
		go func() {
			<-start
			addr := fmt.Sprintf("reader%02d@example.pl", i%addresses)
			var r *http.Request
			if i%2 == 0 {
				r = formRequest(signupValues(addr))
			} else {
				r = jsonRequest(`{"email":"` + addr + `","consent":true}`)
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			if w.Code != http.StatusSeeOther && w.Code != http.StatusOK {
				errc <- fmt.Errorf("%s: %d %s", addr, w.Code, w.Body)
				return
			}
			errc <- nil
		}()
	}
	close(start)
	for range addresses * perAddress {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	if c := e.counts(); c.subscribers != addresses {
		t.Fatalf("%d subscribers, want %d", c.subscribers, addresses)
	}
	e.drain()
	mails := e.mailsTagged("kb-confirm")
	seen := map[string]bool{}
	for _, m := range mails {
		seen[m.to] = true
	}
	if len(mails) != addresses || len(seen) != addresses {
		t.Fatalf("%d confirmation emails to %d addresses, want %d", len(mails), len(seen), addresses)
	}
}

// TestNoEnumeration: a signup answers byte for byte the same whatever the
// store knows about the address.
func TestNoEnumeration(t *testing.T) {
	ctx := context.Background()
	states := []struct {
		name  string
		setup func(e *env, addr string)
	}{
		{"new", func(*env, string) {}},
		{"pending", func(e *env, addr string) {
			e.store.Subscribe(ctx, store.SignupRequest{Email: addr}, t0.Add(-time.Hour))
		}},
		{"pending, just signed up", func(e *env, addr string) {
			e.store.Subscribe(ctx, store.SignupRequest{Email: addr}, t0)
		}},
		{"confirmed", func(e *env, addr string) {
			sub, _, _ := e.store.Subscribe(ctx, store.SignupRequest{Email: addr}, t0.Add(-time.Hour))
			e.store.Confirm(ctx, sub.Link(), "", t0.Add(-time.Hour), t0.Add(-time.Hour))
		}},
		{"unsubscribed", func(e *env, addr string) {
			sub, _, _ := e.store.Subscribe(ctx, store.SignupRequest{Email: addr}, t0.Add(-time.Hour))
			e.store.Unsubscribe(ctx, sub.ID, "test", t0.Add(-time.Hour))
		}},
		{"complained", func(e *env, addr string) {
			e.store.Subscribe(ctx, store.SignupRequest{Email: addr}, t0.Add(-time.Hour))
			e.store.SetStatusByEmail(ctx, addr, store.StatusComplained, "test", t0.Add(-time.Hour))
		}},
	}
	for _, asJSON := range []bool{false, true} {
		var reference string
		for _, st := range states {
			e := newEnv(t)
			const addr = "known@example.pl"
			st.setup(e, addr)
			var r *http.Request
			if asJSON {
				r = jsonRequest(`{"email":"` + addr + `","consent":true,"whitepaper":true}`)
			} else {
				v := signupValues(addr)
				v.Set("whitepaper", "yes")
				r = formRequest(v)
			}
			w := e.do(r)
			w.Header().Del("Date")
			answer := fmt.Sprintf("%d\n%v\n%s", w.Code, w.Header(), w.Body)
			if reference == "" {
				reference = answer
				continue
			}
			if answer != reference {
				t.Errorf("json=%v, %s: answer differs from a new address:\n%s\n--- vs ---\n%s", asJSON, st.name, answer, reference)
			}
		}
	}
}

// formAction is the action of a page's button form, unescaped.
func formAction(t *testing.T, body string) string {
	t.Helper()
	const start = `<form class="link-action" method="post" action="`
	i := strings.Index(body, start)
	if i < 0 {
		t.Fatalf("no button form on the page:\n%s", body)
	}
	rest := body[i+len(start):]
	return html.UnescapeString(rest[:strings.IndexByte(rest, '"')])
}

// TestWhitepaperLinksNeedConfirmedSubscriber: a gated download link is
// minted only from an unexpired confirmation token of a confirmed
// subscriber, and downloads only while the subscriber stays confirmed.
func TestWhitepaperLinksNeedConfirmedSubscriber(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.gated = true })
	ctx := context.Background()
	sub, _, err := e.store.Subscribe(ctx, store.SignupRequest{Email: "wp@example.pl", WantsWhitepaper: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.Confirm(ctx, sub.Link(), "", t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	fresh := relative(t, e.links.Confirm(sub.ID, sub.LinkKey, t0))
	expired := relative(t, e.links.Confirm(sub.ID, sub.LinkKey, t0.Add(-token.ConfirmTTL-time.Second)))
	if body := e.get(fresh).Body.String(); !strings.Contains(body, `href="`+token.WhitepaperPath+"?token=") {
		t.Fatalf("an unexpired link of a confirmed subscriber shows no download:\n%s", body)
	}
	body := e.get(expired).Body.String()
	if !strings.Contains(body, titleConfirmed) || strings.Contains(body, token.WhitepaperPath) {
		t.Fatalf("an expired confirmation link minted a download link:\n%s", body)
	}
	download := relative(t, e.links.Whitepaper(sub.ID, sub.LinkKey, t0.Add(time.Hour)))
	if w := e.get(download); w.Code != http.StatusOK {
		t.Fatalf("download while confirmed: %d", w.Code)
	}
	if _, _, err := e.store.Unsubscribe(ctx, sub.ID, "test", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if w := e.get(download); w.Code != http.StatusGone || bytes.Contains(w.Body.Bytes(), []byte("%PDF")) {
		t.Fatalf("download after unsubscribing: %d", w.Code)
	}
	if body := e.get(fresh).Body.String(); strings.Contains(body, token.WhitepaperPath) {
		t.Fatalf("the confirmation link of an unsubscribed reader minted a download link:\n%s", body)
	}
	other := relative(t, e.links.Whitepaper(sub.ID, "another-rows-key", t0.Add(time.Hour)))
	if w := e.get(other); w.Code != http.StatusGone {
		t.Fatalf("download with another row's key: %d", w.Code)
	}
}

// TestNameValidation: the name field takes a person's name in any script
// and nothing that could carry a message to a stranger.
func TestNameValidation(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"Zażółć Gęślą-Jaźń", true},
		{"Jan O'Brien", true},
		{"J. R. R. Tolkien", true},
		{"Ἀλέξανδρος", true},
		{"محمد", true},
		{"李小龍", true},
		{"Kliknij https://phish.example/x", false},
		{"www.phish.example", true}, // letters and dots: allowed, and no name reaches an email anyway
		{"jan@example.pl", false},
		{"Agent 007", false},
		{"Ania\u202Egnp.exe", false}, // right-to-left override
		{"Ania\u200B", false},        // zero-width space
		{"<b>Jan</b>", false},
		{"...", false},
		{strings.Repeat("a", 101), false},
	}
	for _, tt := range tests {
		e := newEnv(t)
		v := signupValues("imie@example.pl")
		v.Set("name", tt.name)
		w := e.do(formRequest(v))
		if got := w.Code == http.StatusSeeOther; got != tt.ok {
			t.Errorf("name %q: %d, want accepted=%v", tt.name, w.Code, tt.ok)
		}
		if !tt.ok && (w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `id="signup-name-error">`)) {
			t.Errorf("name %q: %d, want 422 with the message by the field", tt.name, w.Code)
		}
	}
}

// TestConfirmBodies: the confirm button's POST refuses bodies it cannot
// read and confirms nothing then; a cross-site POST with the token (as a
// mail client or an old form might send) still confirms, since the token
// from the email is the authorisation, as for unsubscribing.
func TestConfirmBodies(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		crossSite   bool
		wantStatus  int
		confirmed   bool
	}{
		{"button (empty form)", "", mediaForm, false, http.StatusOK, true},
		{"cross-site", "", mediaForm, true, http.StatusOK, true},
		{"malformed urlencoded", "a=%zz", mediaForm, false, http.StatusBadRequest, false},
		{"oversized", "pad=" + strings.Repeat("x", maxLinkBody), mediaForm, false, http.StatusRequestEntityTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			sub, _, err := e.store.Subscribe(context.Background(), store.SignupRequest{Email: "potw@example.pl"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, relative(t, e.links.Confirm(sub.ID, sub.LinkKey, t0)), strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			if tt.crossSite {
				r.Header.Set("Sec-Fetch-Site", "cross-site")
			}
			w := e.do(r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.wantStatus, w.Body)
			}
			if got := e.subscriber("potw@example.pl").Status == store.StatusConfirmed; got != tt.confirmed {
				t.Fatalf("confirmed = %v, want %v", got, tt.confirmed)
			}
		})
	}
}
