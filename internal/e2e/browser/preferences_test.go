package browser

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/token"
)

// signUpAndConfirm signs address up from the newsletter page — with the
// script, or with the plain form when the tab has JavaScript off — and
// confirms from the email.
func signUpAndConfirm(t *testing.T, tb *tab, srv *kbproc.Server, o kbproc.Options, address string, noScript bool) {
	t.Helper()
	tb.open(t, srv.URL+"/newsletter/", 200)
	if noScript {
		fillSignup(t, tb, "signup-page", address, false)
		res, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(`#signup-page button[type="submit"]`)))
		if err != nil || res.Status != 200 {
			t.Fatalf("submit without JavaScript: %v %v", statusOf(res), err)
		}
	} else {
		signUpWithJS(t, tb, "signup-page", address, false)
	}
	confirmFromEmail(t, tb, srv, o, address)
}

// prefsState is the preference form as the reader sees it: each choice's
// id and whether it is checked.
const prefsState = `Object.fromEntries([...document.querySelectorAll('#prefs input')].map(i => [i.id, i.checked]))`

func formState(t *testing.T, tb *tab) map[string]bool {
	t.Helper()
	return eval[map[string]bool](t, tb, prefsState)
}

// stateOf is the form with the topics in on checked and frequency chosen.
func stateOf(frequency string, on ...string) map[string]bool {
	s := map[string]bool{"prefs-frequency-each": frequency == "each", "prefs-frequency-digest": frequency == "digest"}
	for _, id := range []string{"rozmowy", "pieniadze", "prawo"} {
		s["prefs-topic-"+id] = slices.Contains(on, id)
	}
	return s
}

func checkState(t *testing.T, what string, got, want map[string]bool) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: form %v, want %v", what, got, want)
	}
}

// storedPrefs is what `kb subscribers show` says of the reader's choices.
type storedPrefs struct {
	Status    string   `json:"status"`
	Frequency string   `json:"frequency"`
	TopicsOff []string `json:"topics_off"`
}

func showPrefs(t *testing.T, o kbproc.Options, address string) storedPrefs {
	t.Helper()
	out, errOut, err := kbproc.Run(t, o, "subscribers", "show", address)
	if err != nil {
		t.Fatalf("kb subscribers show %s: %v\n%s%s", address, err, out, errOut)
	}
	var p struct {
		Subscriber *storedPrefs `json:"subscriber"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Subscriber == nil {
		t.Fatalf("kb subscribers show %s: %v\n%s", address, err, out)
	}
	return *p.Subscriber
}

// focusInfo is the focused element and how its focus is drawn.
type focusInfo struct {
	ID      string  `json:"id"`
	Visible bool    `json:"visible"` // matches :focus-visible
	Style   string  `json:"style"`
	Width   float64 `json:"width"`
}

const focused = `(() => { const el = document.activeElement, cs = getComputedStyle(el);
  return {id: el.id, visible: el.matches(':focus-visible'), style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) || 0}; })()`

// press sends keys as the keyboard does.
func (tb *tab) press(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		tb.do(t, fmt.Sprintf("press %q", k), chromedp.KeyEvent(k))
	}
}

// tabTo moves the keyboard focus from the top of <main> with Tab and
// checks that every stop on the way to want shows a visible focus ring.
func tabTo(t *testing.T, tb *tab, want string, stops ...string) {
	t.Helper()
	eval[bool](t, tb, `(document.getElementById('main').focus(), true)`)
	for _, stop := range append(stops, want) {
		tb.press(t, kb.Tab)
		f := eval[focusInfo](t, tb, focused)
		if f.ID != stop {
			t.Fatalf("Tab focused #%s, want #%s", f.ID, stop)
		}
		if !f.Visible || f.Style == "none" || f.Width < 2 {
			t.Errorf("keyboard focus on #%s is not visible: %+v (want :focus-visible with an outline of 2 px or more)", f.ID, f)
		}
	}
}

// submitPrefs presses "Zapisz ustawienia" (the button's own click(), as
// pressConfirm does) and returns the heading of the answer.
func submitPrefs(t *testing.T, tb *tab, want int64) string {
	t.Helper()
	res, err := chromedp.RunResponse(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#prefs button[type="submit"]').click()`))
	if err != nil || res.Status != want {
		t.Fatalf("save the preferences: %v %v, want %d", statusOf(res), err, want)
	}
	return text(t, tb, "main h1")
}

// TestPreferences opens the preference page from the welcome email,
// audits it, changes topics and frequency — with the mouse and
// JavaScript on, with the keyboard and JavaScript off — and checks what was
// saved by reloading the page and asking kb. The JavaScript run also
// downloads the reader's data, opens the deletion step and backs out, and
// ends by unticking every topic, which unsubscribes.
func TestPreferences(t *testing.T) {
	t.Parallel()
	srv, o := startSite(t, "")
	axeSource(t)

	for _, tc := range []struct {
		name     string
		noScript bool
		address  string
	}{
		{"javascript", false, "ustawienia.js@example.pl"},
		{"no-javascript", true, "ustawienia.bez-js@example.pl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTab(t, tabOptions{noScript: tc.noScript})
			signUpAndConfirm(t, tb, srv, o, tc.address, tc.noScript)

			welcome := waitEmail(t, tb.ctx, srv, tc.address, "welcome")
			link := welcome.link(t, token.PreferencesPath)
			tb.open(t, link, 200)
			if h1 := text(t, tb, "main h1"); h1 != webMessage(t, "titlePrefs") {
				t.Fatalf("preference page heading %q, want %q", h1, webMessage(t, "titlePrefs"))
			}
			checkState(t, "a new subscriber", formState(t, tb), stateOf("each", "rozmowy", "pieniadze", "prawo"))
			if s := showPrefs(t, o, tc.address); s.Status != "confirmed" || s.Frequency != "each" || len(s.TopicsOff) != 0 {
				t.Errorf("opening the page changed %s: %+v", tc.address, s)
			}
			// axe-core needs the page's scripts: the page is the same
			// HTML either way, audited in the JavaScript run.
			if !tc.noScript {
				inspect(t, tb, "preferences")
			}

			var want map[string]bool
			if tc.noScript {
				// The keyboard only: Tab through the topics, Space unticks
				// "prawo", an arrow key moves the radio choice to the digest.
				tabTo(t, tb, "prefs-topic-prawo", "prefs-topic-rozmowy", "prefs-topic-pieniadze")
				tb.press(t, " ")
				tb.press(t, kb.Tab)
				if f := eval[focusInfo](t, tb, focused); f.ID != "prefs-frequency-each" || !f.Visible {
					t.Fatalf("Tab from the topics focused %+v, want the checked radio button, visibly", f)
				}
				tb.press(t, kb.ArrowDown)
				want = stateOf("digest", "rozmowy", "pieniadze")
			} else {
				tabTo(t, tb, "prefs-topic-pieniadze", "prefs-topic-rozmowy")
				// The mouse, on the labels, as most readers click.
				tb.do(t, "untick a topic", chromedp.Click(chromedp.CSS(`label[for="prefs-topic-pieniadze"]`)))
				tb.do(t, "choose the digest", chromedp.Click(chromedp.CSS(`label[for="prefs-frequency-digest"]`)))
				want = stateOf("digest", "rozmowy", "prawo")
			}
			checkState(t, "before saving", formState(t, tb), want)
			if h1 := submitPrefs(t, tb, 200); h1 != webMessage(t, "titlePrefsSaved") {
				t.Fatalf("after saving the heading is %q, want %q", h1, webMessage(t, "titlePrefsSaved"))
			}
			if changes := text(t, tb, "main .prose ul"); !strings.Contains(changes, "przegląd nowych poradników") {
				t.Errorf("the saved page does not name the new frequency: %q", changes)
			}
			checkState(t, "the saved page", formState(t, tb), want)
			if !tc.noScript {
				inspect(t, tb, "preferences-saved")
			}

			// Reloading the link shows what was stored, and kb agrees.
			tb.open(t, link, 200)
			checkState(t, "after a reload", formState(t, tb), want)
			s := showPrefs(t, o, tc.address)
			var off []string
			for _, id := range []string{"rozmowy", "pieniadze", "prawo"} {
				if !want["prefs-topic-"+id] {
					off = append(off, id)
				}
			}
			if s.Status != "confirmed" || s.Frequency != "digest" || !slices.Equal(s.TopicsOff, off) {
				t.Errorf("kb stored %+v, want confirmed, digest, topics off %q", s, off)
			}
			if tc.noScript {
				tb.mon.check(t, origin(srv), nil)
				return
			}

			// The reader's data, as a file.
			d := tb.download(t, chromedp.Click(chromedp.CSS(`form[action^="/api/preferences/export?"] button`)))
			var person struct {
				Email      string `json:"email"`
				Subscriber struct {
					Frequency string `json:"frequency"`
				} `json:"subscriber"`
				Events []struct {
					Type string `json:"type"`
				} `json:"events"`
			}
			if err := json.Unmarshal(d.Data, &person); err != nil {
				t.Errorf("the data download %q is not JSON: %v\n%s", d.Name, err, d.Data)
			}
			if d.Name != "moje-dane.json" || person.Email != tc.address || person.Subscriber.Frequency != "digest" || len(person.Events) == 0 {
				t.Errorf("the data download %q: %+v", d.Name, person)
			}

			// "Usuń moje dane…" asks first; "Nie, wróć" leads back and
			// nothing is gone.
			res, err := chromedp.RunResponse(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action^="/api/preferences/delete?"] button').click()`))
			if err != nil || res.Status != 200 {
				t.Fatalf("press the delete button: %v %v", statusOf(res), err)
			}
			if h1 := text(t, tb, "main h1"); h1 != webMessage(t, "titleDelete") {
				t.Fatalf("delete button led to %q, want the confirmation %q", h1, webMessage(t, "titleDelete"))
			}
			inspect(t, tb, "preferences-delete")
			res, err = chromedp.RunResponse(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('form.link-action a.button-secondary').click()`))
			if err != nil || res.Status != 200 {
				t.Fatalf("back out of the deletion: %v %v", statusOf(res), err)
			}
			checkState(t, "after backing out of the deletion", formState(t, tb), want)
			if s := showPrefs(t, o, tc.address); s.Status != "confirmed" {
				t.Errorf("after backing out %s is %q", tc.address, s.Status)
			}

			// No topic at all is unsubscribing.
			for id, on := range want {
				if on && strings.HasPrefix(id, "prefs-topic-") {
					tb.do(t, "untick "+id, chromedp.Click(chromedp.CSS(`label[for="`+id+`"]`)))
				}
			}
			if h1 := submitPrefs(t, tb, 200); h1 != webMessage(t, "titlePrefsUnsub") {
				t.Fatalf("saving without topics led to %q, want %q", h1, webMessage(t, "titlePrefsUnsub"))
			}
			inspect(t, tb, "preferences-unsubscribed")
			if s := showPrefs(t, o, tc.address); s.Status != "unsubscribed" {
				t.Errorf("after saving without topics %s is %q, want unsubscribed", tc.address, s.Status)
			}
			tb.open(t, link, 200)
			if h1 := text(t, tb, "main h1"); h1 != webMessage(t, "titlePrefsInactive") {
				t.Errorf("the link of an unsubscribed reader shows %q, want %q", h1, webMessage(t, "titlePrefsInactive"))
			}
			if n := eval[int](t, tb, `document.querySelectorAll('#prefs, input[name="topics"]').length`); n != 0 {
				t.Errorf("the page of an unsubscribed reader has a topic form")
			}
			inspect(t, tb, "preferences-inactive")

			tb.mon.check(t, origin(srv), func(f failedRequest) bool {
				// The form post that turns into a download is aborted as a page load.
				return f.Status == 0 && f.Error == "net::ERR_ABORTED" && strings.Contains(f.URL, "/api/preferences/export?token=")
			})
		})
	}
}
