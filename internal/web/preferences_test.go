package web

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// testNewsletter is the site's newsletter settings in the preference tests.
var testNewsletter = config.NewsletterParams{
	Frequency: "zwykle dwa razy w miesiącu",
	Digest:    config.Digest{Schedule: "weekly", Weekday: "monday", Hour: 7},
	Topics: []config.Topic{
		{ID: "rozmowy", Name: "Rozmowy z klientami", Description: "Honorarium, zaległe faktury, trudne wiadomości."},
		{ID: "pieniadze", Name: "Przepływy pieniężne i płatności", Description: "Gotówka w małej firmie, terminy płatności."},
		{ID: "prawo", Name: "Prawo i terminy", Description: "Zmiany w przepisach, KSeF, ulgi i terminy."},
	},
}

var allTopics = testNewsletter.TopicIDs()

// prefsEnv is an env with topics and an OnErase hook that records.
type prefsEnv struct {
	*env
	mu     sync.Mutex
	erased []string
}

func newPrefsEnv(t *testing.T, mods ...func(*envConfig)) *prefsEnv {
	t.Helper()
	pe := &prefsEnv{}
	pe.env = newEnv(t, append([]func(*envConfig){func(c *envConfig) {
		c.newsletter = testNewsletter
		c.onErase = func(_ context.Context, email string) {
			pe.mu.Lock()
			pe.erased = append(pe.erased, email)
			pe.mu.Unlock()
		}
	}}, mods...)...)
	return pe
}

func (e *prefsEnv) erasedEmails() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.erased)
}

// confirmed signs email up and confirms it; with topics/freq given, saves
// them as its starting preferences.
func (e *env) confirmed(email string, freq store.Frequency, topics ...string) store.Subscriber {
	e.t.Helper()
	ctx := context.Background()
	sub, _, err := e.store.Subscribe(ctx, store.SignupRequest{Email: email}, t0)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.store.Confirm(ctx, sub.Link(), "test", t0, t0); err != nil {
		e.t.Fatal(err)
	}
	if freq != "" {
		if _, _, err := e.store.SetPreferences(ctx, sub.Link(), store.PreferencesUpdate{Topics: topics, Known: allTopics, Frequency: freq}, t0); err != nil {
			e.t.Fatal(err)
		}
	}
	return e.subscriber(email)
}

func (e *env) prefsURL(sub store.Subscriber) string {
	return relative(e.t, e.links.Preferences(sub.ID, sub.LinkKey))
}

// onPath moves a link's token to another path (export, delete, or a link
// of another purpose onto the preference page).
func onPath(t testing.TB, link, path string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = path
	return u.RequestURI()
}

// prefsRequest is a POST from the preference page, as a browser sends it.
func prefsRequest(target, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", mediaForm)
	r.Header.Set("Origin", testOrigin)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return r
}

func prefsBody(freq string, topics ...string) string {
	v := url.Values{}
	for _, t := range topics {
		v.Add(fieldTopics, t)
	}
	if freq != "" {
		v.Set(fieldFrequency, freq)
	}
	return v.Encode()
}

// snapshot is everything the store holds on email (row, events, emails),
// to show that a request changed nothing.
func (e *env) snapshot(email string) string {
	e.t.Helper()
	p, err := e.store.Person(context.Background(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

var prefsInputTag = regexp.MustCompile(`<input id="(prefs-[a-z0-9-]+)"[^>]*>`)

// checkedChoices maps each choice of the page's preference form to
// whether it is checked.
func checkedChoices(body string) map[string]bool {
	out := map[string]bool{}
	for _, m := range prefsInputTag.FindAllStringSubmatch(body, -1) {
		out[m[1]] = strings.Contains(m[0], " checked")
	}
	return out
}

// wantChoices is the form with topics and freq checked.
func wantChoices(freq store.Frequency, topics ...string) map[string]bool {
	out := map[string]bool{}
	for _, id := range allTopics {
		out["prefs-topic-"+id] = slices.Contains(topics, id)
	}
	out["prefs-frequency-each"] = freq == store.FrequencyEach
	out["prefs-frequency-digest"] = freq == store.FrequencyDigest
	return out
}

func assertChoices(t *testing.T, body string, want map[string]bool) {
	t.Helper()
	got := checkedChoices(body)
	if len(got) != len(want) {
		t.Fatalf("form choices %v, want %v\n%s", got, want, body)
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || g != w {
			t.Errorf("%s checked = %v (present %v), want %v", id, g, ok, w)
		}
	}
}

// assertLinkPage checks the headers every preference answer carries: no
// caching, and no Referer that would carry the token off the page.
func assertLinkPage(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control = %q, want no-store", what, got)
	}
	if got := w.Header().Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy = %q, want no-referrer", what, got)
	}
}

// TestPreferencesPage: the page shows the stored choices in an accessible
// form, its forms post the verified token, and opening it (as a mail
// scanner does) changes nothing — nor do GETs of the export and delete
// addresses.
func TestPreferencesPage(t *testing.T) {
	e := newPrefsEnv(t)
	const addr = "jan.kowalski@example.pl"
	sub := e.confirmed(addr, store.FrequencyDigest, "rozmowy", "prawo")
	link := e.prefsURL(sub)
	before, counts := e.snapshot(addr), e.counts()
	e.clock.Advance(time.Hour)

	w := e.get(link)
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "<h1>"+titlePrefs+"</h1>") {
		t.Fatalf("GET: %d\n%s", w.Code, body)
	}
	assertLinkPage(t, "page", w)
	assertChoices(t, body, wantChoices(store.FrequencyDigest, "rozmowy", "prawo"))
	for _, want := range []string{
		html.EscapeString(maskEmail(addr)),
		`<form class="prefs" id="prefs" method="post" action="` + link + `">`,
		`<fieldset id="prefs-topics">`, "<legend>" + msgPrefsTopicsLegend + "</legend>",
		`<fieldset id="prefs-frequency">`, "<legend>" + msgPrefsFreqLegend + "</legend>",
		// Each choice: a label, and its description tied to it.
		`<input id="prefs-topic-pieniadze" name="topics" type="checkbox" value="pieniadze" aria-describedby="prefs-topic-pieniadze-hint">`,
		`<label for="prefs-topic-pieniadze">Przepływy pieniężne i płatności</label>`,
		`<p class="hint" id="prefs-topic-pieniadze-hint">Gotówka w małej firmie, terminy płatności.</p>`,
		`name="frequency" type="radio" value="each"`, `name="frequency" type="radio" value="digest"`,
		"Nowe poradniki wysyłamy zwykle dwa razy w miesiącu.", "Przychodzi w każdy poniedziałek",
		msgPrefsNoTopicNote, msgPrefsSubmit, html.EscapeString(msgPrefsUnsubNote),
		msgDataTitle, `action="` + onPath(t, link, preferencesExportPath) + `"`, msgDataExport,
		`action="` + onPath(t, link, preferencesDeletePath) + `"`, msgDataDelete,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "autofocus") || strings.Contains(body, `role="alert"`) {
		t.Errorf("a fresh page has an error or autofocus:\n%s", body)
	}

	// A scanner fetches every link, and every form's address too.
	for _, target := range []string{link, link, onPath(t, link, preferencesExportPath), onPath(t, link, preferencesDeletePath)} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			e.do(httptest.NewRequest(method, target, nil))
		}
	}
	for _, path := range []string{preferencesExportPath, preferencesDeletePath} {
		w := e.get(onPath(t, link, path))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Errorf("GET %s: %d, Allow %q; want 405, POST", path, w.Code, w.Header().Get("Allow"))
		}
		assertLinkPage(t, "GET "+path, w)
		if strings.Contains(w.Body.String(), addr) || w.Header().Get("Content-Disposition") != "" {
			t.Errorf("GET %s gave data away:\n%s", path, w.Body)
		}
	}
	if after := e.snapshot(addr); after != before {
		t.Errorf("GETs changed the store:\n%s\n→\n%s", before, after)
	}
	if after := e.counts(); after != counts {
		t.Errorf("GETs changed the counts: %+v → %+v", counts, after)
	}
}

// TestPreferencesSave: each way of saving the form, on SQLite and on
// PostgreSQL: what is stored, the events, and what the page says.
func TestPreferencesSave(t *testing.T) {
	type start struct {
		freq   store.Frequency
		topics []string
	}
	tests := []struct {
		name       string
		start      start
		freq       string
		topics     []string
		title      string
		items      []string // the list of changes, in order
		wantOff    []string
		wantFreq   store.Frequency
		wantEvents int // preference events added
	}{
		{"remove a topic", start{store.FrequencyEach, allTopics}, "each", []string{"rozmowy", "prawo"},
			titlePrefsSaved, []string{"Usunięty temat: „Przepływy pieniężne i płatności”."}, []string{"pieniadze"}, store.FrequencyEach, 1},
		{"add topics", start{store.FrequencyEach, []string{"rozmowy"}}, "each", allTopics,
			titlePrefsSaved, []string{"Dodane tematy: „Przepływy pieniężne i płatności”, „Prawo i terminy”."}, nil, store.FrequencyEach, 1},
		{"switch to the digest", start{store.FrequencyEach, allTopics}, "digest", allTopics,
			titlePrefsSaved, []string{"Teraz dostajesz przegląd nowych poradników w jednym e-mailu – w każdy poniedziałek."}, nil, store.FrequencyDigest, 1},
		{"switch back to each", start{store.FrequencyDigest, allTopics}, "each", allTopics,
			titlePrefsSaved, []string{msgPrefsNowEach}, nil, store.FrequencyEach, 1},
		{"everything at once", start{store.FrequencyEach, []string{"rozmowy", "pieniadze"}}, "digest", []string{"prawo"},
			titlePrefsSaved, []string{"Dodany temat: „Prawo i terminy”.", "Usunięte tematy: „Rozmowy z klientami”, „Przepływy pieniężne i płatności”.",
				"Teraz dostajesz przegląd nowych poradników w jednym e-mailu – w każdy poniedziałek."},
			[]string{"rozmowy", "pieniadze"}, store.FrequencyDigest, 1},
		{"nothing changed", start{store.FrequencyDigest, []string{"prawo"}}, "digest", []string{"prawo"},
			titlePrefsSame, nil, []string{"rozmowy", "pieniadze"}, store.FrequencyDigest, 0},
	}
	for _, backend := range []struct {
		name     string
		postgres bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(backend.name, func(t *testing.T) {
			e := newPrefsEnv(t, func(c *envConfig) { c.postgres = backend.postgres })
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					addr := "czytelnik" + string(rune('a'+i)) + "@example.pl"
					sub := e.confirmed(addr, tt.start.freq, tt.start.topics...)
					events := len(e.person(addr).Events)
					w := e.do(prefsRequest(e.prefsURL(sub), prefsBody(tt.freq, tt.topics...)))
					body := w.Body.String()
					if w.Code != http.StatusOK || !strings.Contains(body, "<h1>"+tt.title+"</h1>") {
						t.Fatalf("POST: %d, want 200 with %q\n%s", w.Code, tt.title, body)
					}
					assertLinkPage(t, "saved page", w)
					var items []string
					for _, m := range regexp.MustCompile(`<li>([^<]*)</li>`).FindAllStringSubmatch(body, -1) {
						items = append(items, html.UnescapeString(m[1]))
					}
					if !slices.Equal(items, tt.items) {
						t.Errorf("changes listed %q, want %q", items, tt.items)
					}
					got := e.subscriber(addr)
					if got.Status != store.StatusConfirmed || !slices.Equal(got.TopicsOff, tt.wantOff) || got.Frequency != tt.wantFreq {
						t.Errorf("stored %s, topics off %q, %s; want confirmed, %q, %s", got.Status, got.TopicsOff, got.Frequency, tt.wantOff, tt.wantFreq)
					}
					if n := len(e.person(addr).Events) - events; n != tt.wantEvents {
						t.Errorf("%d events recorded, want %d", n, tt.wantEvents)
					}
					// The page shows the saved choices, and so does opening the link again.
					want := wantChoices(tt.wantFreq, got.Topics(allTopics)...)
					assertChoices(t, body, want)
					assertChoices(t, e.get(e.prefsURL(sub)).Body.String(), want)
				})
			}

			t.Run("no topic unsubscribes", func(t *testing.T) {
				const addr = "wszystko-odznaczone@example.pl"
				sub := e.confirmed(addr, store.FrequencyEach, allTopics...)
				w := e.do(prefsRequest(e.prefsURL(sub), prefsBody("each")))
				body := w.Body.String()
				if w.Code != http.StatusOK || !strings.Contains(body, "<h1>"+titlePrefsUnsub+"</h1>") {
					t.Fatalf("POST without topics: %d\n%s", w.Code, body)
				}
				if !strings.Contains(body, `href="`+pathNewsletter+`"`) || strings.Contains(body, `id="prefs"`) {
					t.Errorf("unsubscribed page: want the signup link and no topic form\n%s", body)
				}
				if got := e.subscriber(addr).Status; got != store.StatusUnsubscribed {
					t.Errorf("status %s, want unsubscribed", got)
				}
				// The link now shows the not-subscribed page.
				if w := e.get(e.prefsURL(sub)); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), titlePrefsInactive) {
					t.Errorf("page after unsubscribing: %d", w.Code)
				}
			})

			t.Run("multipart form", func(t *testing.T) {
				const addr = "multipart@example.pl"
				sub := e.confirmed(addr, store.FrequencyEach, allTopics...)
				var b bytes.Buffer
				mw := multipart.NewWriter(&b)
				mw.WriteField(fieldTopics, "prawo")
				mw.WriteField(fieldFrequency, "digest")
				mw.Close()
				r := prefsRequest(e.prefsURL(sub), b.String())
				r.Header.Set("Content-Type", mw.FormDataContentType())
				if w := e.do(r); w.Code != http.StatusOK {
					t.Fatalf("multipart POST: %d\n%s", w.Code, w.Body)
				}
				if got := e.subscriber(addr); got.Frequency != store.FrequencyDigest || len(got.TopicsOff) != 2 {
					t.Errorf("stored %+v", got)
				}
			})
		})
	}
}

func (e *env) person(email string) store.PersonData {
	e.t.Helper()
	p, err := e.store.Person(context.Background(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// TestPreferencesInvalid: whatever else a POST carries, nothing is saved;
// a form that can be shown again comes back (422) with the reader's valid
// choices and a Polish message by the field.
func TestPreferencesInvalid(t *testing.T) {
	filePart := func() (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField(fieldFrequency, "each")
		fw, _ := mw.CreateFormFile("topics", "lista.txt")
		fw.Write([]byte("rozmowy"))
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	fileBody, fileType := filePart()
	valid := prefsBody("each", "rozmowy")
	tests := []struct {
		name        string
		body        string
		contentType string
		headers     map[string]string
		status      int
		message     string
		field       string // the input that gets focus; "" for none
		choices     map[string]bool
	}{
		{"unknown topic", prefsBody("each", "rozmowy", "kryptowaluty"), mediaForm, nil, 422, msgPrefsUnknownTopic, "prefs-topic-rozmowy", wantChoices(store.FrequencyEach, "rozmowy")},
		{"topic in another case", prefsBody("each", "Rozmowy"), mediaForm, nil, 422, msgPrefsUnknownTopic, "prefs-topic-rozmowy", wantChoices(store.FrequencyEach)},
		{"topic not UTF-8", "frequency=each&topics=%FF", mediaForm, nil, 422, msgPrefsUnknownTopic, "prefs-topic-rozmowy", wantChoices(store.FrequencyEach)},
		{"duplicate topic", prefsBody("each", "prawo", "prawo"), mediaForm, nil, 422, msgPrefsDupTopic, "prefs-topic-rozmowy", wantChoices(store.FrequencyEach, "prawo")},
		{"no frequency", prefsBody("", "rozmowy"), mediaForm, nil, 422, msgPrefsNoFreq, "prefs-frequency-each", wantChoices("", "rozmowy")},
		{"empty form", "", mediaForm, nil, 422, msgPrefsNoFreq, "prefs-frequency-each", wantChoices("")},
		{"unknown frequency", prefsBody("weekly", "rozmowy"), mediaForm, nil, 422, msgPrefsBadFreq, "prefs-frequency-each", wantChoices("", "rozmowy")},
		{"two frequencies", "topics=rozmowy&frequency=each&frequency=digest", mediaForm, nil, 422, msgPrefsDupFreq, "prefs-frequency-each", wantChoices("", "rozmowy")},
		{"frequency twice", "topics=rozmowy&frequency=each&frequency=each", mediaForm, nil, 422, msgPrefsDupFreq, "prefs-frequency-each", wantChoices("", "rozmowy")},
		{"unknown field", valid + "&unsubscribe=no", mediaForm, nil, 422, msgPrefsUnknownField, "", wantChoices(store.FrequencyEach, "rozmowy")},
		{"a file", fileBody, fileType, nil, 422, msgPrefsUnknownField, "", wantChoices(store.FrequencyEach)},
		{"plain text", valid, "text/plain", nil, 415, msgPrefsMediaType, "", nil},
		{"JSON", `{"frequency":"each"}`, "application/json", nil, 415, msgPrefsMediaType, "", nil},
		{"no content type", valid, "", nil, 415, msgPrefsMediaType, "", nil},
		{"malformed", "frequency=each&topics=%zz", mediaForm, nil, 400, msgBadForm, "", nil},
		{"oversized", valid + "&pad=" + strings.Repeat("x", maxLinkBody), mediaForm, nil, 413, msgTooLarge, "", nil},
		{"cross-site", valid, mediaForm, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, msgPrefsCrossSite, "", nil},
		{"cross-site from a signup partner", valid, mediaForm, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": partnerOrigin}, 403, msgPrefsCrossSite, "", nil},
		{"other origin, no Sec-Fetch-Site", valid, mediaForm, map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}, 403, msgPrefsCrossSite, "", nil},
	}
	e := newPrefsEnv(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := "bledny" + string(rune('a'+i)) + "@example.pl"
			sub := e.confirmed(addr, store.FrequencyDigest, "pieniadze", "prawo")
			before := e.snapshot(addr)
			r := prefsRequest(e.prefsURL(sub), tt.body)
			r.Header.Set("Content-Type", tt.contentType)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
				if v == "" {
					r.Header.Del(k)
				}
			}
			w := e.do(r)
			body := w.Body.String()
			if w.Code != tt.status || !strings.Contains(body, html.EscapeString(tt.message)) {
				t.Fatalf("status %d, want %d with %q\n%s", w.Code, tt.status, tt.message, body)
			}
			assertLinkPage(t, tt.name, w)
			if after := e.snapshot(addr); after != before {
				t.Errorf("refused POST changed the store:\n%s\n→\n%s", before, after)
			}
			if tt.choices == nil {
				if strings.Contains(body, `id="prefs"`) {
					t.Errorf("a refusal shows the form")
				}
				return
			}
			// The form again, with what was valid of the reader's choice.
			assertChoices(t, body, tt.choices)
			if !strings.Contains(body, `<div class="form-error" id="prefs-error" role="alert">`) || (tt.field != "" && !strings.Contains(body, msgPrefsFix)) {
				t.Errorf("no error summary:\n%s", body)
			}
			focused := regexp.MustCompile(`<input id="([^"]+)"[^>]* autofocus>`).FindAllStringSubmatch(body, -1)
			switch {
			case tt.field == "" && len(focused) != 0:
				t.Errorf("autofocus on %v, want none", focused)
			case tt.field != "" && (len(focused) != 1 || focused[0][1] != tt.field):
				t.Errorf("autofocus on %v, want %s", focused, tt.field)
			case tt.field != "":
				fieldset := "prefs-topics"
				if strings.HasPrefix(tt.field, "prefs-frequency") {
					fieldset = "prefs-frequency"
				}
				if !strings.Contains(body, `<fieldset id="`+fieldset+`" aria-describedby="`+fieldset+`-error">`) ||
					!strings.Contains(body, `<p class="field-error" id="`+fieldset+`-error">`) ||
					!strings.Contains(body, `<a href="#`+tt.field+`">`) {
					t.Errorf("the %s fieldset does not carry its error:\n%s", fieldset, body)
				}
			}
		})
	}
}

// TestPreferencesLinksRefused: a token that is not a preference link of a
// row that exists (forged, of another purpose, expiring, another row's
// key, erased) opens nothing, saves nothing, exports and erases nothing.
func TestPreferencesLinksRefused(t *testing.T) {
	e := newPrefsEnv(t)
	ctx := context.Background()
	const addr, other = "ofiara@example.pl", "inna@example.pl"
	sub := e.confirmed(addr, store.FrequencyEach, allTopics...)
	otherSub := e.confirmed(other, store.FrequencyEach, allTopics...)
	gone := e.confirmed("usuniety@example.pl", store.FrequencyEach, allTopics...)
	if _, err := e.store.Erase(ctx, gone.Email, t0); err != nil {
		t.Fatal(err)
	}
	otherSigner, _ := token.NewSigner([]byte("another secret of the same length!"))
	forged := token.NewLinks(otherSigner, testBaseURL)
	expiring := token.PreferencesPath + "?token=" + e.signer.Sign(token.Claims{Purpose: token.Preferences, SubscriberID: sub.ID, Key: sub.LinkKey, Expires: t0.Add(time.Hour)})

	tests := []struct {
		name   string
		link   string
		status int
		title  string
	}{
		{"no token", token.PreferencesPath, 400, titleBadLink},
		{"garbage", token.PreferencesPath + "?token=%00abc", 400, titleBadLink},
		{"forged", relative(t, forged.Preferences(sub.ID, sub.LinkKey)), 400, titleBadLink},
		{"unsubscribe token", onPath(t, relative(t, e.links.Unsubscribe(sub.ID, sub.LinkKey)), token.PreferencesPath), 400, titleBadLink},
		{"confirmation token", onPath(t, relative(t, e.links.Confirm(sub.ID, sub.LinkKey, t0)), token.PreferencesPath), 400, titleBadLink},
		{"whitepaper token", onPath(t, relative(t, e.links.Whitepaper(sub.ID, sub.LinkKey, t0.Add(time.Hour))), token.PreferencesPath), 400, titleBadLink},
		{"expiring preference token", expiring, 400, titleBadLink},
		{"another row's key", relative(t, e.links.Preferences(sub.ID, otherSub.LinkKey)), 410, titleInactive},
		{"unknown subscriber", relative(t, e.links.Preferences(99999, sub.LinkKey)), 410, titleInactive},
		{"erased subscriber", e.prefsURL(gone), 410, titleInactive},
	}
	requests := []struct {
		name string
		req  func(link string) *http.Request
	}{
		{"GET page", func(l string) *http.Request { return httptest.NewRequest(http.MethodGet, l, nil) }},
		{"save", func(l string) *http.Request { return prefsRequest(l, prefsBody("digest", "prawo")) }},
		{"save unsubscribing", func(l string) *http.Request { return prefsRequest(l, prefsBody("each")) }},
		{"export", func(l string) *http.Request { return prefsRequest(onPath(t, l, preferencesExportPath), "") }},
		{"delete", func(l string) *http.Request { return prefsRequest(onPath(t, l, preferencesDeletePath), "confirm=yes") }},
	}
	before, beforeOther, counts := e.snapshot(addr), e.snapshot(other), e.counts()
	for _, tt := range tests {
		for _, rq := range requests {
			t.Run(tt.name+"/"+rq.name, func(t *testing.T) {
				w := e.do(rq.req(tt.link))
				if w.Code != tt.status || !strings.Contains(w.Body.String(), "<h1>"+tt.title+"</h1>") {
					t.Fatalf("%d, want %d with %q\n%s", w.Code, tt.status, tt.title, w.Body)
				}
				assertLinkPage(t, "refusal", w)
				if w.Header().Get("Content-Disposition") != "" || strings.Contains(w.Body.String(), "@example.pl") {
					t.Errorf("a refusal gave data away:\n%s", w.Body)
				}
			})
		}
	}
	if e.snapshot(addr) != before || e.snapshot(other) != beforeOther || e.counts() != counts {
		t.Error("refused links changed the store")
	}
	if got := e.erasedEmails(); len(got) != 0 {
		t.Errorf("OnErase called for %q", got)
	}
}

// TestPreferencesNotSubscribed: the link of a reader who is not subscribed
// now shows no topic form but the way back and their data rights; a save
// answers 409 and subscribes nobody again.
func TestPreferencesNotSubscribed(t *testing.T) {
	e := newPrefsEnv(t)
	ctx := context.Background()
	unsub := e.confirmed("wypisana@example.pl", store.FrequencyEach, allTopics...)
	if _, _, err := e.store.Unsubscribe(ctx, unsub.ID, "test", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	bounced := e.confirmed("odbity@example.pl", store.FrequencyEach, allTopics...)
	if _, _, err := e.store.ApplyWebhook(ctx, "webhook-token-1", bounced.Email, store.StatusBounced, "test", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	pending, _, err := e.store.Subscribe(ctx, store.SignupRequest{Email: "niepotwierdzony@example.pl"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sub    store.Subscriber
		status store.Status
	}{{unsub, store.StatusUnsubscribed}, {bounced, store.StatusBounced}, {pending, store.StatusPending}} {
		t.Run(string(tt.status), func(t *testing.T) {
			link := e.prefsURL(tt.sub)
			w := e.get(link)
			body := w.Body.String()
			if w.Code != http.StatusOK || !strings.Contains(body, "<h1>"+titlePrefsInactive+"</h1>") {
				t.Fatalf("GET: %d\n%s", w.Code, body)
			}
			for _, want := range []string{html.EscapeString(maskEmail(tt.sub.Email)), `href="` + pathNewsletter + `"`,
				`action="` + onPath(t, link, preferencesExportPath) + `"`, `action="` + onPath(t, link, preferencesDeletePath) + `"`} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			if strings.Contains(body, `id="prefs"`) || strings.Contains(body, `name="topics"`) {
				t.Errorf("a topic form for a reader who is not subscribed:\n%s", body)
			}
			before := e.snapshot(tt.sub.Email)
			// A valid save, one without topics (which would unsubscribe a
			// subscriber), and an invalid one: the same answer.
			for _, body := range []string{prefsBody("each", allTopics...), prefsBody("digest"), prefsBody("weekly", "prawo")} {
				w = e.do(prefsRequest(link, body))
				if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), titlePrefsInactive) || strings.Contains(w.Body.String(), `id="prefs"`) {
					t.Fatalf("POST %s: %d\n%s", body, w.Code, w.Body)
				}
			}
			if e.snapshot(tt.sub.Email) != before {
				t.Error("the save changed a reader who is not subscribed")
			}
			// Their data is theirs to download all the same.
			if w := e.do(prefsRequest(onPath(t, link, preferencesExportPath), "")); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), tt.sub.Email) {
				t.Errorf("export: %d", w.Code)
			}
		})
	}
}

// unsubscribingStore unsubscribes the reader just before their save, as a
// one-click unsubscribe or a bounce arriving meanwhile would.
type unsubscribingStore struct{ *store.Store }

func (s unsubscribingStore) SetPreferences(ctx context.Context, link store.Link, u store.PreferencesUpdate, now time.Time) (store.Subscriber, store.PreferencesChange, error) {
	if _, _, err := s.UnsubscribeLink(ctx, link, "test: meanwhile", now); err != nil {
		return store.Subscriber{}, store.PreferencesChange{}, err
	}
	return s.Store.SetPreferences(ctx, link, u, now)
}

// TestPreferencesUnsubscribedDuringSave: the store refuses the save of a
// reader who stopped being subscribed after the page's lookup; the answer
// is the not-subscribed page, and nothing is saved.
func TestPreferencesUnsubscribedDuringSave(t *testing.T) {
	e := newPrefsEnv(t, func(c *envConfig) { c.store = func(s *store.Store) Store { return unsubscribingStore{s} } })
	const addr = "w-trakcie@example.pl"
	sub := e.confirmed(addr, store.FrequencyEach, allTopics...)
	w := e.do(prefsRequest(e.prefsURL(sub), prefsBody("digest", "prawo")))
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), titlePrefsInactive) {
		t.Fatalf("POST: %d\n%s", w.Code, w.Body)
	}
	if got := e.subscriber(addr); got.Status != store.StatusUnsubscribed || got.Frequency != store.FrequencyEach || len(got.TopicsOff) != 0 {
		t.Errorf("stored %+v", got)
	}
}

// TestPreferencesWithoutTopics: on a site without topics "no topic
// chosen" cannot mean "unsubscribe me": there is no form, and a save
// changes nothing.
func TestPreferencesWithoutTopics(t *testing.T) {
	e := newEnv(t)
	const addr = "bez-tematow@example.pl"
	sub := e.confirmed(addr, "")
	w := e.get(e.prefsURL(sub))
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `id="prefs"`) || !strings.Contains(w.Body.String(), msgPrefsNoTopics) {
		t.Fatalf("GET: %d\n%s", w.Code, w.Body)
	}
	before := e.snapshot(addr)
	if w := e.do(prefsRequest(e.prefsURL(sub), prefsBody("each"))); w.Code != http.StatusConflict {
		t.Fatalf("POST: %d", w.Code)
	}
	if e.snapshot(addr) != before || e.subscriber(addr).Status != store.StatusConfirmed {
		t.Error("a save on a site without topics changed the subscriber")
	}
}
