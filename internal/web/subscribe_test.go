package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/mailaddr"
)

// invalidEmails are refused with a message on the email field.
var invalidEmails = []string{
	"", "   ", "plainaddress", "@example.pl", "jan@", "jan@example", "jan@@example.pl",
	"jan kowalski@example.pl", "Jan <jan@example.pl>", "<jan@example.pl>", "jan@example..pl",
	"jan@-example.pl", "jan@example-.pl", "jan@[192.168.0.1]", "jan.@example.pl", ".jan@example.pl",
	"jan..k@example.pl", "jan@exam ple.pl", "jan@example.pl,ewa@example.pl", "jan@example.pl;ewa@x.pl",
	"(c)jan@example.pl", "jan@example.pl (c)", `"jan"@example.pl`, "jan@example.pl.", "jan@.example.pl",
	"jan@" + strings.Repeat("a", 64) + ".pl", strings.Repeat("a", 250) + "@x.pl", `ja"n@example.pl`,
	`jan\@example.pl`, "jan@example.pl\r\nBcc: victim@example.pl", "jan@example.pl\n", "\tjan@example.pl",
	"jan@exa\x00mple.pl", "jan\u2028@example.pl", "jan@example.pl\x7f",
}

func formBody(mod func(url.Values)) string {
	v := signupValues("jan@example.pl")
	mod(v)
	return v.Encode()
}

type badCase struct {
	name        string
	method      string
	contentType string
	body        string
	headers     map[string]string
	status      int
	field       string // the field whose error is expected (JSON and HTML)
}

func badInputCases() []badCase {
	var cases []badCase
	for _, addr := range invalidEmails {
		cases = append(cases,
			badCase{name: "form email " + strconv.Quote(addr), contentType: mediaForm,
				body: formBody(func(v url.Values) { v.Set("email", addr) }), status: 422, field: "email"},
			badCase{name: "json email " + strconv.Quote(addr), contentType: mediaJSON,
				body: `{"email":` + jsonQuote(addr) + `,"consent":true}`, status: 422, field: "email"})
	}
	long := strings.Repeat("ż", maxNameRunes+1)
	cases = append(cases, []badCase{
		{name: "form consent missing", contentType: mediaForm, body: formBody(func(v url.Values) { v.Del("consent") }), status: 422, field: "consent"},
		{name: "form consent off", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("consent", "off") }), status: 422, field: "consent"},
		{name: "json consent false", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":false}`, status: 422, field: "consent"},
		{name: "json consent missing", contentType: mediaJSON, body: `{"email":"jan@example.pl"}`, status: 422, field: "consent"},
		{name: "form name 101 chars", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("name", long) }), status: 422, field: "name"},
		{name: "json name 101 chars", contentType: mediaJSON, body: `{"email":"jan@example.pl","name":"` + long + `","consent":true}`, status: 422, field: "name"},
		{name: "form name CRLF", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("name", "Jan\r\nBcc: x@example.pl") }), status: 422, field: "name"},
		{name: "form name LF at the end", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("name", "Jan\n") }), status: 422, field: "name"},
		{name: "form name NUL", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("name", "Ja\x00n") }), status: 422, field: "name"},
		{name: "json name escape", contentType: mediaJSON, body: `{"email":"jan@example.pl","name":"Jan\u0007","consent":true}`, status: 422, field: "name"},
		{name: "form source CRLF", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("source", "/x\r\n") }), status: 400},
		{name: "json source control", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":true,"source":"/x\u001b"}`, status: 400},
		{name: "form consent CR", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("consent", "yes\r") }), status: 400},
		{name: "form whitepaper LF", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("whitepaper", "yes\n") }), status: 400},
		{name: "form unknown field control", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("extra", "a\x01") }), status: 400},
		{name: "form second email value control", contentType: mediaForm, body: formBody(func(v url.Values) { v.Add("email", "x\n") }), status: 400},
		{name: "form website blank with LF", contentType: mediaForm, body: formBody(func(v url.Values) { v.Set("website", "\n") }), status: 400},
		{name: "json consent string with control", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":"on\n"}`, status: 400},
		{name: "form invalid UTF-8 value", contentType: mediaForm, body: "email=jan%FF%FE@example.pl&consent=yes", status: 400},
		{name: "form invalid UTF-8 key", contentType: mediaForm, body: "email=jan@example.pl&consent=yes&%FF=1", status: 400},
		{name: "json invalid UTF-8", contentType: mediaJSON, body: "{\"email\":\"jan\xff@example.pl\",\"consent\":true}", status: 400},
		{name: "form bad escape", contentType: mediaForm, body: "email=%zz&consent=yes", status: 400},
		{name: "form semicolon", contentType: mediaForm, body: "email=jan@example.pl;consent=yes", status: 400},
		{name: "form body 16 KiB + 1", contentType: mediaForm, body: formBody(func(v url.Values) {}) + "&pad=" + strings.Repeat("x", maxSubscribeBody), status: 413},
		{name: "json body 16 KiB + 1", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":true,"pad":"` + strings.Repeat("x", maxSubscribeBody) + `"}`, status: 413},
		{name: "text/plain", contentType: "text/plain", body: "email=jan@example.pl&consent=yes", status: 415},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: "--x--", status: 415},
		{name: "no content type", contentType: "", body: "email=jan@example.pl&consent=yes", status: 415},
		{name: "bad content type", contentType: "application/", body: "{}", status: 415},
		{name: "GET", method: http.MethodGet, status: 405},
		{name: "PUT", method: http.MethodPut, contentType: mediaJSON, body: `{}`, status: 405},
		{name: "json truncated", contentType: mediaJSON, body: `{"email":`, status: 400},
		{name: "json array", contentType: mediaJSON, body: `[]`, status: 400},
		{name: "json null", contentType: mediaJSON, body: `null`, status: 400},
		{name: "json string", contentType: mediaJSON, body: `"jan@example.pl"`, status: 400},
		{name: "json empty", contentType: mediaJSON, body: ``, status: 400},
		{name: "json trailing data", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":true} {}`, status: 400},
		{name: "json email number", contentType: mediaJSON, body: `{"email":5,"consent":true}`, status: 400},
		{name: "json name object", contentType: mediaJSON, body: `{"email":"jan@example.pl","name":{},"consent":true}`, status: 400},
		{name: "json consent number", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":1}`, status: 400},
		{name: "json whitepaper array", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":true,"whitepaper":[]}`, status: 400},
		{name: "json source bool", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":true,"source":true}`, status: 400},
		{name: "cross-site form post", contentType: mediaForm, body: formBody(func(url.Values) {}),
			headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, status: 403},
		{name: "same-site form post from another host", contentType: mediaForm, body: formBody(func(url.Values) {}),
			headers: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://blog.wiedza.example.pl"}, status: 403},
		{name: "old browser, foreign Origin", contentType: mediaForm, body: formBody(func(url.Values) {}),
			headers: map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}, status: 403},
		{name: "cross-site JSON from a disallowed origin", contentType: mediaJSON, body: `{"email":"jan@example.pl","consent":true}`,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, status: 403},
	}...)
	return cases
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestSubscribeBadInput: every refused request answers as documented and
// changes nothing: no subscriber, no queued email, no worker wake-up.
func TestSubscribeBadInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range badInputCases() {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counts()
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			variants := []string{mediaJSON, "text/html"}
			if tc.status == http.StatusRequestEntityTooLarge {
				variants = append(variants, "chunked") // no Content-Length: the reader's limit must catch it
			}
			for _, accept := range variants {
				r := httptest.NewRequest(method, subscribePath, strings.NewReader(tc.body))
				if accept == "chunked" {
					r.ContentLength = -1
					accept = "text/html"
				}
				if tc.contentType != "" {
					r.Header.Set("Content-Type", tc.contentType)
				}
				r.Header.Set("Accept", accept)
				r.Header.Set("Origin", testOrigin)
				r.Header.Set("Sec-Fetch-Site", "same-origin")
				for k, v := range tc.headers {
					if v == "" {
						r.Header.Del(k)
					} else {
						r.Header.Set(k, v)
					}
				}
				w := e.do(r)
				if w.Code != tc.status {
					t.Fatalf("Accept %s: status %d, want %d\n%s", accept, w.Code, tc.status, w.Body)
				}
				if tc.status == 405 && w.Header().Get("Allow") != "OPTIONS, POST" {
					t.Errorf("Allow = %q", w.Header().Get("Allow"))
				}
				if w.Header().Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("CORS header on a refusal for %s", r.Header.Get("Origin"))
				}
				asJSON := accept == mediaJSON || tc.contentType == mediaJSON
				checkRefusal(t, w, asJSON, tc.field)
			}
			if after := e.counts(); after != before {
				t.Fatalf("refused request changed the store: %+v → %+v", before, after)
			}
		})
	}
}

// checkRefusal checks the body of a refusal: JSON {"ok":false,…} with the
// field's message, or a Polish HTML page; a field error re-renders the
// form with the message next to the field.
func checkRefusal(t *testing.T, w *httptest.ResponseRecorder, asJSON bool, field string) {
	t.Helper()
	if asJSON {
		var a struct {
			OK      *bool             `json:"ok"`
			Message string            `json:"message"`
			Errors  map[string]string `json:"errors"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("JSON refusal: %v\n%s", err, w.Body)
		}
		if a.OK == nil || *a.OK || a.Message == "" {
			t.Fatalf("JSON refusal body: %s", w.Body)
		}
		if field != "" && a.Errors[field] == "" {
			t.Fatalf("no error for %s: %s", field, w.Body)
		}
		return
	}
	body := w.Body.String()
	if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(body, "<main") {
		t.Fatalf("HTML refusal: %s\n%s", w.Header().Get("Content-Type"), body)
	}
	if field != "" {
		for _, want := range []string{
			`id="signup-` + field + `"`,
			`aria-invalid="true" aria-describedby="signup-` + field + `-error"`,
			`<a href="#signup-` + field + `">`,
		} {
			if !strings.Contains(body, want) {
				t.Fatalf("form page lacks %s:\n%s", want, body)
			}
		}
	}
}

// TestSubscribeFormErrorPage checks the no-JavaScript error page closely:
// the reader's values come back escaped, the first invalid field gets
// focus, the summary links each field.
func TestSubscribeFormErrorPage(t *testing.T) {
	e := newEnv(t)
	w := e.do(formRequest(url.Values{
		"email": {"nie-adres"}, "name": {`Jan O'Brien`}, "whitepaper": {"yes"}, "source": {"/poradniki/x/"},
	}))
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		"<title>" + msgSignupErrorTi + " · Saldo</title>",
		`<div class="form-error" id="signup-error" role="alert" tabindex="-1"><p>` + msgSignupFields + `</p>`,
		`<a href="#signup-email">Adres e-mail: ` + msgEmailInvalid + `</a>`,
		`<a href="#signup-consent">Zgoda: ` + msgConsent + `</a>`,
		`value="nie-adres" aria-invalid="true" aria-describedby="signup-email-error" autofocus>`,
		`<p class="field-error" id="signup-email-error">` + msgEmailInvalid + `</p>`,
		`value="Jan O&#39;Brien">`,
		`<p class="field-error" id="signup-name-error" hidden></p>`,
		`name="consent" type="checkbox" value="yes" required aria-invalid="true" aria-describedby="signup-consent-error">`,
		`name="whitepaper" type="checkbox" value="yes" checked>`,
		`<input type="hidden" name="source" value="/poradniki/x/">`,
		`data-msg-fields="` + msgSignupFields + `"`,
		`<span class="hint">PDF „Gotówka pod kontrolą”</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("error page lacks %s", want)
		}
	}
	if strings.Count(body, "autofocus") != 1 {
		t.Errorf("autofocus %d times, want once", strings.Count(body, "autofocus"))
	}

	// Consent alone missing: focus goes to the consent box.
	w = e.do(formRequest(url.Values{"email": {"jan@example.pl"}}))
	if !strings.Contains(w.Body.String(), `aria-describedby="signup-consent-error" autofocus>`) {
		t.Errorf("focus is not on the consent box:\n%s", w.Body)
	}
}

// TestHoneypot: a filled hidden field gets the success answer and nothing
// else happens.
func TestHoneypot(t *testing.T) {
	e := newEnv(t)
	before := e.counts()
	w := e.do(formRequest(url.Values{"email": {"bot@example.pl"}, "consent": {"yes"}, "website": {"http://spam.example"}}))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != pathThanks {
		t.Fatalf("form honeypot: %d", w.Code)
	}
	w = e.do(jsonRequest(`{"email":"not an address","website":"x"}`))
	if w.Code != http.StatusOK || w.Body.String() != string(doneAnswer) {
		t.Fatalf("JSON honeypot: %d %s", w.Code, w.Body)
	}
	if after := e.counts(); after != before {
		t.Fatalf("honeypot stored something: %+v → %+v", before, after)
	}
	e.drain()
	if n := len(e.outboxMails()); n != 0 {
		t.Fatalf("%d emails sent for honeypot hits", n)
	}
}

// TestSubscribeAccepts covers the edges that must pass.
func TestSubscribeAccepts(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, contentType, body, email, wantName, wantSource string
		wantWP                                               bool
	}{
		{"100-character name", mediaForm, url.Values{"email": {"a1@example.pl"}, "consent": {"on"}, "name": {strings.Repeat("ł", 100)}}.Encode(),
			"a1@example.pl", strings.Repeat("ł", 100), "", false},
		{"consent true, spaces trimmed", mediaForm, url.Values{"email": {"  a2@Example.pl "}, "consent": {"true"}, "name": {"  Ola  "}}.Encode(),
			"a2@example.pl", "Ola", "", false},
		{"consent 1, charset parameter", mediaForm + "; charset=UTF-8", url.Values{"email": {"a3@example.pl"}, "consent": {"1"}, "whitepaper": {"on"}}.Encode(),
			"a3@example.pl", "", "", true},
		{"JSON string flags, unknown fields", mediaJSON, `{"email":"a4@example.pl","consent":"yes","whitepaper":"on","newField":[1,2],"source":"/poradniki/a/"}`,
			"a4@example.pl", "", "/poradniki/a/", true},
		{"JSON nulls", mediaJSON, `{"email":"a5@example.pl","name":null,"consent":true,"whitepaper":null,"website":null,"source":null}`,
			"a5@example.pl", "", "", false},
		{"foreign source dropped", mediaForm, url.Values{"email": {"a6@example.pl"}, "consent": {"yes"}, "source": {"https://evil.example/"}}.Encode(),
			"a6@example.pl", "", "", false},
		{"protocol-relative source dropped", mediaJSON, `{"email":"a7@example.pl","consent":true,"source":"//evil.example/x"}`,
			"a7@example.pl", "", "", false},
		{"overlong source dropped", mediaJSON, `{"email":"a8@example.pl","consent":true,"source":"/` + strings.Repeat("a", 200) + `"}`,
			"a8@example.pl", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, subscribePath, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			w := e.do(r)
			if w.Code != http.StatusOK && w.Code != http.StatusSeeOther {
				t.Fatalf("status %d\n%s", w.Code, w.Body)
			}
			sub := e.subscriber(tt.email)
			if sub.Email != tt.email || sub.Name != tt.wantName || sub.Consent.Source != tt.wantSource || sub.WhitepaperRequested != tt.wantWP {
				t.Fatalf("stored %+v", sub)
			}
		})
	}
}

// TestCORS: the allowed origins may use the JSON API from their pages;
// others get no CORS headers.
func TestCORS(t *testing.T) {
	e := newEnv(t)
	preflight := func(origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, subscribePath, nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "content-type")
		return e.do(r)
	}
	w := preflight(partnerOrigin)
	h := w.Header()
	if w.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != partnerOrigin ||
		h.Get("Access-Control-Allow-Methods") != "POST" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") ||
		h.Get("Access-Control-Max-Age") == "" || h.Get("Vary") != "Origin" {
		t.Fatalf("allowed preflight: %d %v", w.Code, h)
	}
	w = preflight("https://evil.example")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("disallowed preflight: %d %v", w.Code, w.Header())
	}

	r := jsonRequest(`{"email":"partner@example.pl","consent":true}`)
	r.Header.Set("Origin", partnerOrigin)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w = e.do(r)
	if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != partnerOrigin || w.Header().Get("Vary") != "Origin" {
		t.Fatalf("allowed JSON: %d %v", w.Code, w.Header())
	}
	// A partner's plain form post is trusted too (same allow-list).
	fr := formRequest(signupValues("partner-form@example.pl"))
	fr.Header.Set("Origin", partnerOrigin)
	fr.Header.Set("Sec-Fetch-Site", "cross-site")
	if w = e.do(fr); w.Code != http.StatusSeeOther {
		t.Fatalf("partner form: %d", w.Code)
	}
	// A same-origin request carries no CORS headers.
	if w = e.do(jsonRequest(`{"email":"own@example.pl","consent":true}`)); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same-origin answer has CORS headers: %v", w.Header())
	}
}

// TestRateLimit: the fourth signup from one client within the window is
// refused with Retry-After; other clients are not affected; the bucket
// refills with time.
func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.rate = config.Rate{Events: 3, Per: time.Minute} })
	post := func(remote, email string, asJSON bool) *httptest.ResponseRecorder {
		var r *http.Request
		if asJSON {
			r = jsonRequest(`{"email":"` + email + `","consent":true}`)
		} else {
			r = formRequest(signupValues(email))
		}
		r.RemoteAddr = remote
		return e.do(r)
	}
	for i := range 3 {
		if w := post("198.51.100.1:5000", "r"+strconv.Itoa(i)+"@example.pl", false); w.Code != http.StatusSeeOther {
			t.Fatalf("signup %d: %d", i, w.Code)
		}
	}
	before := e.counts()
	w := post("198.51.100.1:5001", "r9@example.pl", false)
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), titleTooMany) {
		t.Fatalf("4th signup: %d", w.Code)
	}
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 20 {
		t.Fatalf("Retry-After = %q", w.Header().Get("Retry-After"))
	}
	w = post("198.51.100.1:5002", "r9@example.pl", true)
	var a signupAnswer
	if w.Code != http.StatusTooManyRequests || json.Unmarshal(w.Body.Bytes(), &a) != nil || a.OK || a.Message == "" {
		t.Fatalf("JSON 429: %d %s", w.Code, w.Body)
	}
	if after := e.counts(); after != before {
		t.Fatalf("rate-limited requests changed the store: %+v → %+v", before, after)
	}
	if w = post("198.51.100.2:5000", "other@example.pl", false); w.Code != http.StatusSeeOther {
		t.Fatalf("another client: %d", w.Code)
	}
	// IPv6 clients share a bucket per /64.
	for i := range 3 {
		post("[2001:db8:1:2::"+strconv.Itoa(i+1)+"]:443", "v6"+strconv.Itoa(i)+"@example.pl", false)
	}
	if w = post("[2001:db8:1:2::ffff]:443", "v6x@example.pl", false); w.Code != http.StatusTooManyRequests {
		t.Fatalf("fourth address of one /64: %d", w.Code)
	}
	e.clock.Advance(21 * time.Second)
	if w = post("198.51.100.1:5003", "r10@example.pl", false); w.Code != http.StatusSeeOther {
		t.Fatalf("after refill: %d", w.Code)
	}
}

// TestForwardedFor: X-Forwarded-For counts only from trusted proxies.
func TestForwardedFor(t *testing.T) {
	e := newEnv(t, func(c *envConfig) {
		c.rate = config.Rate{Events: 2, Per: time.Minute}
		c.proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	post := func(remote, xff, email string) int {
		r := formRequest(signupValues(email))
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return e.do(r).Code
	}
	// An untrusted peer cannot escape its bucket by inventing addresses.
	for i, want := range []int{303, 303, 429} {
		if got := post("203.0.113.9:1000", "192.0.2."+strconv.Itoa(i+1), "u"+strconv.Itoa(i)+"@example.pl"); got != want {
			t.Fatalf("untrusted peer, request %d: %d, want %d", i, got, want)
		}
	}
	// Behind the proxy, each client has its own bucket.
	for i, want := range []int{303, 303, 429} {
		if got := post("10.0.0.2:1000", "198.51.100.7, 10.0.0.5", "p"+strconv.Itoa(i)+"@example.pl"); got != want {
			t.Fatalf("client behind proxy, request %d: %d, want %d", i, got, want)
		}
	}
	if got := post("10.0.0.2:1000", "198.51.100.8", "q@example.pl"); got != 303 {
		t.Fatalf("second client behind proxy: %d", got)
	}
	if ip := e.subscriber("p0@example.pl").Consent.IP; ip != "198.51.100.7" {
		t.Errorf("consent IP behind proxy = %q", ip)
	}
	if ip := e.subscriber("u0@example.pl").Consent.IP; ip != "203.0.113.9" {
		t.Errorf("consent IP of untrusted peer = %q", ip)
	}
}

func TestClientIP(t *testing.T) {
	proxies := trustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.1:1", nil, "203.0.113.1"},
		{"203.0.113.1:1", []string{"198.51.100.1"}, "203.0.113.1"},
		{"10.1.1.1:1", nil, "10.1.1.1"},
		{"10.1.1.1:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.1.1.1:1", []string{"1.1.1.1, 198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"10.1.1.1:1", []string{"1.1.1.1", "198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"10.1.1.1:1", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"10.1.1.1:1", []string{"1.1.1.1, garbage, 10.2.2.2"}, "10.2.2.2"},
		{"10.1.1.1:1", []string{"::ffff:198.51.100.4"}, "198.51.100.4"},
		{"[fd00::1]:1", []string{"2001:db8::5"}, "2001:db8::5"},
		{"[::ffff:203.0.113.1]:1", nil, "203.0.113.1"},
		{"not an address", nil, "invalid IP"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := proxies.clientIP(r).String(); got != tt.want {
			t.Errorf("%s %v: %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

// TestLimiterBounded: many clients cannot grow the limiter past its cap,
// and idle buckets are dropped.
func TestLimiterBounded(t *testing.T) {
	l := newIPLimiter(config.Rate{Events: 10, Per: time.Minute}, 100)
	for i := range 5000 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.allow(ip, t0)
	}
	if n := l.size(); n != 100 {
		t.Fatalf("limiter holds %d clients, want the cap 100", n)
	}
	l.allow(netip.MustParseAddr("192.0.2.1"), t0.Add(2*time.Minute))
	if n := l.size(); n != 1 {
		t.Fatalf("after the idle time the limiter holds %d clients, want 1", n)
	}
}

// TestLimiterSpraying: fresh addresses do not buy fresh allowances.
func TestLimiterSpraying(t *testing.T) {
	rate10 := config.Rate{Events: 10, Per: time.Minute}
	allowed := func(l *ipLimiter, ips func(i int) netip.Addr, n int) int {
		ok := 0
		for i := range n {
			if a, _ := l.allow(ips(i), t0); a {
				ok++
			}
		}
		return ok
	}
	tests := []struct {
		name string
		max  int
		ips  func(i int) netip.Addr
		n    int
		want int
	}{
		{"one /64, a new address each time", 1000, func(i int) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i), 1})
		}, 500, 10},
		{"one /48, a new /64 each time", 1000, func(i int) netip.Addr {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, byte(i >> 8), byte(i), 15: 1})
		}, 500, 10 * sitePrefixShare},
		{"tracker full: newcomers share the overflow bucket", 50, func(i int) netip.Addr {
			return netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		}, 1000, 50 + 10*sitePrefixShare}, // the first 50 have their own buckets
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newIPLimiter(rate10, tt.max)
			if got := allowed(l, tt.ips, tt.n); got != tt.want {
				t.Fatalf("%d of %d signups allowed, want %d", got, tt.n, tt.want)
			}
		})
	}
	// A /48 that hits its limit holds its /64s, but not another site's.
	l := newIPLimiter(rate10, 1000)
	for i := range 100 {
		l.allow(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, byte(i), 15: 1}), t0)
	}
	if ok, _ := l.allow(netip.MustParseAddr("2001:db8:2::1"), t0); !ok {
		t.Fatal("another /48 is held by the first one's limit")
	}
}

// FuzzParseSubscribe: the signup parser never panics, and whatever it
// accepts is safe to store.
func FuzzParseSubscribe(f *testing.F) {
	f.Add(false, []byte("email=jan%40example.pl&name=Jan&consent=yes&whitepaper=yes&website=&source=%2Fnewsletter%2F"))
	f.Add(true, []byte(`{"email":"jan@example.pl","name":"Jan","consent":true,"whitepaper":false,"website":"","source":"/newsletter/"}`))
	f.Add(true, []byte(`{"email":"jan@example.pl\r\n","consent":"on"}`))
	f.Add(false, []byte("email=a%40b.pl&consent=1&name=%E2%80%A8"))
	f.Add(false, []byte("email=%FF&consent=on"))
	f.Add(true, []byte(`{"email":"a@b.pl","consent":true,"name":"`+strings.Repeat("x", 101)+`"}`))
	f.Add(true, []byte(`{"email":"a@b.pl","consent":1}`))
	f.Add(true, []byte(`{"website":"bot","email":5}`))
	f.Add(false, []byte("email=a@b.pl&consent=yes&source=//evil"))
	f.Fuzz(func(t *testing.T, asJSON bool, body []byte) {
		media := mediaForm
		if asJSON {
			media = mediaJSON
		}
		in, vals, ierr := parseSubscribe(media, body)
		if ierr != nil {
			if ierr.status != 400 && ierr.status != 422 {
				t.Fatalf("status %d", ierr.status)
			}
			if ierr.message == "" {
				t.Fatal("refusal without a message")
			}
			return
		}
		if hasControl(vals.Email) || hasControl(vals.Name) || hasControl(vals.Source) {
			t.Fatalf("values shown back contain control characters: %+v", vals)
		}
		if in.Honeypot {
			if in != (signupInput{Honeypot: true}) {
				t.Fatalf("honeypot input carries data: %+v", in)
			}
			return
		}
		if norm, err := mailaddr.Parse(in.Email); err != nil || norm != in.Email {
			t.Fatalf("accepted email %q: %q, %v", in.Email, norm, err)
		}
		for _, s := range []string{in.Email, in.Name, in.Source} {
			if !utf8.ValidString(s) || hasControl(s) {
				t.Fatalf("accepted %q", s)
			}
		}
		if utf8.RuneCountInString(in.Name) > maxNameRunes || in.Name != strings.TrimSpace(in.Name) {
			t.Fatalf("accepted name %q", in.Name)
		}
		if in.Source != "" && (!strings.HasPrefix(in.Source, "/") || strings.HasPrefix(in.Source, "//") || len(in.Source) > maxSourceLen) {
			t.Fatalf("accepted source %q", in.Source)
		}
	})
}
