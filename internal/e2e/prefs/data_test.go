package prefs

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// TestExportAndDeleteFromThePage: the page's data forms. The download is
// the person's JSON — what kb subscribers show prints — as an attachment.
// Asking to delete without confirm=yes shows the confirmation step and
// deletes nothing; with it the person is erased as kb subscribers delete
// erases them (their emails in the outbox too), another reader is left
// alone, and the same preference link is refused from then on.
func TestExportAndDeleteFromThePage(t *testing.T) {
	first, _ := builds(t)
	k := start(t, first)
	ctx := t.Context()
	readers := k.join(t, true, "dane@example.pl", "inny@example.pl")
	r, other := readers[0], readers[1]
	o := k.on(first)
	export := k.srv.URL + strings.Replace(r.prefs, "/api/preferences?", "/api/preferences/export?", 1)
	erase := k.srv.URL + strings.Replace(r.prefs, "/api/preferences?", "/api/preferences/delete?", 1)

	res, body := post(t, ctx, export, nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "filename=") {
		t.Fatalf("export: %s %v, want a JSON attachment\n%s", res.Status, res.Header, body)
	}
	// A scanner's GET downloads nothing.
	if res, body := get(t, ctx, export); res.StatusCode != http.StatusMethodNotAllowed || strings.Contains(body, r.address) {
		t.Errorf("GET of the export: %s, want 405 without the data\n%s", res.Status, body)
	}
	shown := kbproc.Show(t, o, r.address)
	var got, want map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, body)
	}
	if err := json.Unmarshal([]byte(shown.Raw), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("export differs from kb subscribers show:\n%s\nwant:\n%s", body, shown.Raw)
	}
	var person struct {
		Email  string `json:"email"`
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	json.Unmarshal([]byte(body), &person)
	if !strings.EqualFold(person.Email, r.address) || len(person.Events) < 2 {
		t.Errorf("export names %q with %d events, want %s with its signup and confirmation", person.Email, len(person.Events), r.address)
	}

	for _, tt := range []struct {
		name string
		form url.Values
		want int
	}{
		{"without confirm", nil, http.StatusOK},
		{"confirm=no", url.Values{"confirm": {"no"}}, http.StatusUnprocessableEntity},
		{"confirm twice", url.Values{"confirm": {"yes", "yes"}}, http.StatusUnprocessableEntity},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, page := post(t, ctx, erase, tt.form)
			if res.StatusCode != tt.want || !confirmYes.MatchString(page) {
				t.Errorf("delete %s: %s, want %d and the confirmation step posting confirm=yes:\n%s", tt.name, res.Status, tt.want, page)
			}
			if after := kbproc.Show(t, o, r.address); after.Raw != shown.Raw {
				t.Errorf("delete %s changed the person:\n%s\n→\n%s", tt.name, shown.Raw, after.Raw)
			}
		})
	}

	if res, page := post(t, ctx, erase, url.Values{"confirm": {"yes"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("delete with confirm=yes: %s\n%s", res.Status, page)
	}
	if p := kbproc.Show(t, o, r.address); p.Subscriber != nil || !p.Erased || len(p.Events) != 0 || len(p.Mails) != 0 {
		t.Errorf("after the erasure kb subscribers show says:\n%s", p.Raw)
	}
	if n := len(k.emails(t, r.address)); n != 0 {
		t.Errorf("%d outbox emails to the erased person are left (kb subscribers delete removes them)", n)
	}
	if s := kbproc.Show(t, o, other.address).Status(); s != "confirmed" {
		t.Errorf("the other reader is %q after the erasure, want confirmed", s)
	}
	if n := len(k.emails(t, other.address)); n != 2 {
		t.Errorf("the other reader's outbox emails: %d, want their 2", n)
	}
	refused(t, k, r.prefs, "the erased person's own link")
}

// confirmYes is the hidden field of the confirmation step's form.
var confirmYes = regexp.MustCompile(`name="confirm"\s+value="yes"`)

// TestForgedLinksRefused: a preference link with a bit flipped, cut short
// or missing, a link signed for another purpose (the unsubscribe and
// confirmation links of the same reader), and the link of a person erased
// with kb subscribers delete are refused by the page and by each of its
// forms with a Polish 4xx page, and change nothing.
func TestForgedLinksRefused(t *testing.T) {
	first, _ := builds(t)
	k := start(t, first)
	readers := k.join(t, false, "prawdziwy@example.pl", "usuniety@example.pl")
	r, erased := readers[0], readers[1]
	o := k.on(first)
	kbproc.MustRun(t, o, "subscribers", "delete", erased.address)
	before := kbproc.Show(t, o, r.address)

	tok := tokenOf(t, r.prefs)
	confirmations := k.emails(t, r.address, "kb-confirm")
	if len(confirmations) != 1 {
		t.Fatalf("%d confirmation emails, want 1", len(confirmations))
	}
	tests := []struct{ name, token string }{
		{"bit flipped in the subscriber id", flipBit(t, tok, 2)},
		{"bit flipped in the signature", flipBit(t, tok, -1)},
		{"cut short", tok[:len(tok)-3]},
		{"no token", ""},
		{"the unsubscribe token", tokenOf(t, r.welcome.TokenPath(t, "/api/unsubscribe"))},
		{"the confirmation token", tokenOf(t, confirmations[0].TokenPath(t, "/api/confirm"))},
		{"an erased person's token", tokenOf(t, erased.prefs)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refused(t, k, "/api/preferences?token="+url.QueryEscape(tt.token), tt.name)
		})
	}
	if after := kbproc.Show(t, o, r.address); after.Raw != before.Raw {
		t.Errorf("the refused requests changed the reader:\n%s\n→\n%s", before.Raw, after.Raw)
	}
	if p := kbproc.Show(t, o, erased.address); p.Subscriber != nil || !p.Erased {
		t.Errorf("the erased person is back:\n%s", p.Raw)
	}
}

// refused checks that the preference page at prefs (path and query) and
// each of its forms refuse the link: a 4xx HTML page in Polish, with no
// form of the page and no data.
func refused(t *testing.T, k *kb, prefs, what string) {
	t.Helper()
	ctx := t.Context()
	rest, _ := strings.CutPrefix(prefs, "/api/preferences")
	requests := []struct {
		method, path string
		form         url.Values
	}{
		{http.MethodGet, "/api/preferences", nil},
		{http.MethodPost, "/api/preferences", url.Values{"topics": {"rozmowy"}, "frequency": {"digest"}}},
		{http.MethodPost, "/api/preferences/export", nil},
		{http.MethodPost, "/api/preferences/delete", url.Values{"confirm": {"yes"}}},
	}
	for _, rq := range requests {
		var res *http.Response
		var page string
		if rq.method == http.MethodGet {
			res, page = get(t, ctx, k.srv.URL+rq.path+rest)
		} else {
			res, page = post(t, ctx, k.srv.URL+rq.path+rest, rq.form)
		}
		switch {
		case res.StatusCode < 400 || res.StatusCode > 499:
			t.Errorf("%s: %s %s answers %s, want a 4xx refusal", what, rq.method, rq.path, res.Status)
		case !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, `<html lang="pl"`) ||
			!polish.MatchString(page):
			t.Errorf("%s: %s %s refused without a Polish page (%s):\n%s", what, rq.method, rq.path, res.Header.Get("Content-Type"), page)
		case strings.Contains(page, `name="topics"`) || strings.Contains(page, `"events"`):
			t.Errorf("%s: %s %s shows the page's form or data:\n%s", what, rq.method, rq.path, page)
		}
	}
}

// polish matches a Polish letter: a page readers see is written in Polish.
var polish = regexp.MustCompile(`[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]`)

// tokenOf is the token of a link's path and query.
func tokenOf(t *testing.T, pathQuery string) string {
	t.Helper()
	u, err := url.Parse(pathQuery)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no token in %q (%v)", pathQuery, err)
	}
	return u.Query().Get("token")
}

// flipBit flips the lowest bit of the token's byte at i (negative: from
// the end).
func flipBit(t *testing.T, tok string, i int) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	if i < 0 {
		i += len(raw)
	}
	raw[i] ^= 1
	return base64.RawURLEncoding.EncodeToString(raw)
}
