package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/kbpress/kb/internal/store"
)

// The reader's data from the preference page: download and erasure.

// TestPreferencesExport: the download is the JSON `kb subscribers show`
// prints, as an attachment nobody caches; POST from the page only.
func TestPreferencesExport(t *testing.T) {
	for _, backend := range []struct {
		name     string
		postgres bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(backend.name, func(t *testing.T) { testPreferencesExport(t, backend.postgres) })
	}
}

func testPreferencesExport(t *testing.T, postgres bool) {
	e := newPrefsEnv(t, func(c *envConfig) { c.postgres = postgres })
	const addr = "eksport@example.pl"
	sub := e.confirmed(addr, store.FrequencyDigest, "prawo")
	target := onPath(t, e.prefsURL(sub), preferencesExportPath)

	w := e.do(prefsRequest(target, ""))
	if w.Code != http.StatusOK {
		t.Fatalf("export: %d\n%s", w.Code, w.Body)
	}
	for k, want := range map[string]string{
		"Content-Type":        "application/json; charset=utf-8",
		"Content-Disposition": `attachment; filename="moje-dane.json"`,
		"Cache-Control":       "no-store",
		"Referrer-Policy":     "no-referrer",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var got store.PersonData
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, w.Body)
	}
	if got.Email != addr || got.Subscriber == nil || got.Subscriber.Email != addr || got.Subscriber.Frequency != store.FrequencyDigest {
		t.Errorf("export: %+v", got)
	}
	var types []string
	for _, ev := range got.Events {
		types = append(types, ev.Type)
	}
	for _, want := range []string{store.EventSignup, store.EventConfirmed, store.EventPreferences} {
		if !slices.Contains(types, want) {
			t.Errorf("export events %q lack %s", types, want)
		}
	}
	// The same as the operator's `kb subscribers show`.
	want, _ := json.MarshalIndent(e.person(addr), "", "  ")
	if !bytes.Equal(bytes.TrimSpace(w.Body.Bytes()), want) {
		t.Errorf("export differs from Person:\n%s\nwant\n%s", w.Body, want)
	}
	if strings.Contains(w.Body.String(), sub.LinkKey) {
		t.Error("the export contains the row's link key")
	}

	for _, tt := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"GET", httptest.NewRequest(http.MethodGet, target, nil), 405},
		{"cross-site", func() *http.Request {
			r := prefsRequest(target, "")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "https://evil.example")
			return r
		}(), 403},
		{"unknown field", prefsRequest(target, "format=csv"), 422},
		{"oversized", prefsRequest(target, "pad="+strings.Repeat("x", maxLinkBody)), 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(tt.req)
			if w.Code != tt.status || strings.Contains(w.Body.String(), addr) || w.Header().Get("Content-Disposition") != "" {
				t.Errorf("%d, want %d without the data\n%s", w.Code, tt.status, w.Body)
			}
		})
	}
}

// TestPreferencesDelete: the button asks first and deletes nothing; the
// confirmation erases the row, calls OnErase with the address, and the
// link is refused afterwards.
func TestPreferencesDelete(t *testing.T) {
	for _, backend := range []struct {
		name     string
		postgres bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(backend.name, func(t *testing.T) { testPreferencesDelete(t, backend.postgres) })
	}
}

func testPreferencesDelete(t *testing.T, postgres bool) {
	e := newPrefsEnv(t, func(c *envConfig) { c.postgres = postgres })
	ctx := context.Background()
	const addr = "do-usuniecia@example.pl"
	sub := e.confirmed(addr, store.FrequencyEach, allTopics...)
	bystander := e.confirmed("zostaje@example.pl", store.FrequencyEach, allTopics...)
	link := e.prefsURL(sub)
	target := onPath(t, link, preferencesDeletePath)
	before := e.snapshot(addr)

	// The page's button: a confirmation step.
	w := e.do(prefsRequest(target, ""))
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "<h1>"+titleDelete+"</h1>") {
		t.Fatalf("delete without confirm: %d\n%s", w.Code, body)
	}
	assertLinkPage(t, "confirmation page", w)
	for _, want := range []string{
		html.EscapeString(maskEmail(addr)), msgDeleteWarn, msgDeleteLighter,
		`<form class="link-action" method="post" action="` + target + `">`,
		`<input type="hidden" name="confirm" value="yes">`, msgDeleteButton,
		`href="` + link + `"`, msgDeleteStay,
	} {
		if !strings.Contains(body, html.EscapeString(want)) && !strings.Contains(body, want) {
			t.Errorf("confirmation page lacks %s", want)
		}
	}
	for _, tt := range []struct {
		name, body string
		headers    map[string]string
		status     int
	}{
		{"confirm=no", "confirm=no", nil, 422},
		{"confirm twice", "confirm=yes&confirm=yes", nil, 422},
		{"unknown field", "confirm=yes&also=everyone", nil, 422},
		{"cross-site", "confirm=yes", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"oversized", "confirm=yes&pad=" + strings.Repeat("x", maxLinkBody), nil, 413},
		{"malformed", "confirm=yes&%zz", nil, 400},
		{"GET with confirm", "", nil, 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := prefsRequest(target, tt.body)
			if tt.name == "GET with confirm" {
				r = httptest.NewRequest(http.MethodGet, target+"&confirm=yes", nil)
			}
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if w := e.do(r); w.Code != tt.status {
				t.Errorf("%d, want %d\n%s", w.Code, tt.status, w.Body)
			}
		})
	}
	if e.snapshot(addr) != before || len(e.erasedEmails()) != 0 {
		t.Fatal("the data went before the confirmation")
	}

	w = e.do(prefsRequest(target, "confirm=yes"))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<h1>"+titleErased+"</h1>") {
		t.Fatalf("delete with confirm=yes: %d\n%s", w.Code, w.Body)
	}
	if _, err := e.store.GetByEmail(ctx, addr); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after the erasure GetByEmail = %v, want ErrNotFound", err)
	}
	if p := e.person(addr); !p.Erased || p.Subscriber != nil || len(p.Events) != 0 {
		t.Errorf("after the erasure the store holds %+v", p)
	}
	if got := e.erasedEmails(); !slices.Equal(got, []string{addr}) {
		t.Errorf("OnErase called with %q, want [%s]", got, addr)
	}
	if e.subscriber(bystander.Email).Status != store.StatusConfirmed {
		t.Error("the erasure touched another subscriber")
	}
	// The same link opens, saves, exports and erases nothing now.
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, link, nil),
		prefsRequest(link, prefsBody("each", "prawo")),
		prefsRequest(onPath(t, link, preferencesExportPath), ""),
		prefsRequest(target, "confirm=yes"),
	} {
		if w := e.do(r); w.Code != http.StatusGone || strings.Contains(w.Body.String(), addr) {
			t.Errorf("%s %s after the erasure: %d, want 410", r.Method, r.URL.Path, w.Code)
		}
	}
	if got := e.erasedEmails(); len(got) != 1 {
		t.Errorf("OnErase called %d times", len(got))
	}
	tok, _ := url.Parse(link)
	if logs := e.logs.String(); strings.Contains(logs, addr) || strings.Contains(logs, sub.LinkKey) || strings.Contains(logs, tok.Query().Get("token")) {
		t.Errorf("the log names the address, the key or the token:\n%s", logs)
	}
}
