package browser

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// TestReadingJourney follows a reader from the home page to a guide, its
// table of contents, a tag page and back, and checks that nothing on the
// way breaks: no console error, no failed request, no other host.
func TestReadingJourney(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, _ := startSite(t, "")

	tb.open(t, srv.URL+"/", 200)
	guide := eval[string](t, tb, `document.querySelector('.card-list .card-title a').getAttribute('href')`)
	if !strings.HasPrefix(guide, "/poradniki/") {
		t.Fatalf("first guide card links %q, want a /poradniki/ page", guide)
	}
	res, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(`.card-list .card-title a[href="`+guide+`"]`)))
	if err != nil || res.Status != 200 {
		t.Fatalf("click the guide %s: %v %v", guide, statusOf(res), err)
	}
	if got := tb.location(t); !strings.HasSuffix(got, guide) {
		t.Fatalf("after the click the tab shows %s, want %s", got, guide)
	}

	// Table of contents: the link scrolls to its heading and the fragment
	// becomes the URL's.
	href := eval[string](t, tb, `(document.querySelector('nav.toc a') || {getAttribute: () => ''}).getAttribute('href')`)
	if !strings.HasPrefix(href, "#") || len(href) < 2 {
		t.Fatalf("the guide %s has no table-of-contents link (got %q)", guide, href)
	}
	tb.do(t, "click the table-of-contents link "+href, chromedp.Click(chromedp.CSS(`nav.toc a[href="`+href+`"]`)))
	tb.waitJS(t, "the fragment "+href, `decodeURIComponent(location.hash) === `+jsString(href))
	heading := eval[string](t, tb, `(() => { const h = document.getElementById(`+jsString(href[1:])+`); return h && /^H[2-4]$/.test(h.tagName) ? h.textContent.trim() : ''; })()`)
	if heading == "" {
		t.Fatalf("no heading with id %s on %s", href[1:], guide)
	}
	linkText := eval[string](t, tb, `document.querySelector('nav.toc a[href="`+href+`"]').textContent.trim()`)
	if heading != linkText {
		t.Errorf("table-of-contents link %q leads to the heading %q", linkText, heading)
	}
	tb.waitJS(t, "the heading scrolled into view", `(() => { const r = document.getElementById(`+jsString(href[1:])+`).getBoundingClientRect(); return r.top >= -1 && r.top < window.innerHeight / 2; })()`)

	tag := eval[string](t, tb, `document.querySelector('.tag-list a').getAttribute('href')`)
	res, err = chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(`.tag-list a[href="`+tag+`"]`)))
	if err != nil || res.Status != 200 {
		t.Fatalf("click the tag %s: %v %v", tag, statusOf(res), err)
	}
	listed := eval[bool](t, tb, `[...document.querySelectorAll('.card-title a')].some(a => a.getAttribute('href') === `+jsString(guide)+`)`)
	if !listed {
		t.Errorf("the tag page %s does not list the guide %s it was reached from", tag, guide)
	}

	tb.back(t)
	want := srv.URL + guide + href
	if !eval[bool](t, tb, `!!document.getElementById(`+jsString(href[1:])+`)`) {
		t.Errorf("back on the guide, the heading #%s is missing", href[1:])
	}
	if got, _ := url.PathUnescape(tb.location(t)); got != want {
		t.Errorf("back from the tag page the tab shows %s, want %s", got, want)
	}

	if tb.mon.requestCount() < 4 {
		t.Fatalf("the monitor saw %d requests: it does not see the traffic", tb.mon.requestCount())
	}
	tb.mon.check(t, origin(srv), nil)
}

// TestSearch types a word without Polish letters and finds the guides
// that have it with them; a query without results gets the Polish help.
func TestSearch(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, _ := startSite(t, "")
	prompt := siteText(t, "searchPrompt")

	tb.open(t, srv.URL+"/szukaj/", 200)
	tb.waitJS(t, "the search index", `document.getElementById('search-status').textContent === `+jsString(prompt))
	tb.do(t, "type the query", chromedp.SendKeys(chromedp.ID("search-q"), "zaleglosci"))
	// Results show while the query is still being typed ("zaleglo" finds
	// guides too): wait for those of the whole query.
	tb.waitJS(t, "results", `new URLSearchParams(location.search).get('q') === 'zaleglosci' && document.querySelectorAll('#search-results .card').length > 0`)

	got := eval[[]string](t, tb, `[...document.querySelectorAll('#search-results .card-title a')].map(a => a.getAttribute('href'))`)
	want := guidesContaining(t, "zaległości")
	if len(want) == 0 {
		t.Fatal("no guide in content/poradniki has the word „zaległości”: the test has nothing to find")
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("search for „zaleglosci” does not find %s, which has „zaległości”; found %v", w, got)
		}
	}
	if q := eval[string](t, tb, `new URLSearchParams(location.search).get('q')`); q != "zaleglosci" {
		t.Errorf("the URL keeps the query as %q, want zaleglosci", q)
	}

	// A query that finds nothing: the helpful message and the ways out.
	tb.do(t, "new query", chromedp.Evaluate[chromedp.Void](`document.getElementById('search-q').value = ''`), chromedp.SendKeys(chromedp.ID("search-q"), "kryptowaluty"))
	none := siteText(t, "searchNone")
	tb.waitJS(t, "the no-results message", `document.getElementById('search-status').textContent === `+jsString(none))
	if n := eval[int](t, tb, `document.querySelectorAll('#search-results .card').length`); n != 0 {
		t.Errorf("a query without matches shows %d results", n)
	}
	links := eval[[]string](t, tb, `[...document.querySelectorAll('#search-results .search-none a')].map(a => a.getAttribute('href'))`)
	if !slices.Contains(links, "/poradniki/") || !slices.Contains(links, "/tagi/") {
		t.Errorf("no-results help links %v, want the guides and the tags", links)
	}
	tb.mon.check(t, origin(srv), nil)
}

// guidesContaining lists the guide pages whose markdown has word.
func guidesContaining(t *testing.T, word string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(kbproc.RepoRoot(), "content", "poradniki", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	for _, f := range files {
		if filepath.Base(f) == "_index.md" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), word) {
			pages = append(pages, "/poradniki/"+strings.TrimSuffix(filepath.Base(f), ".md")+"/")
		}
	}
	return pages
}

// origin is the server's scheme://host.
func origin(srv *kbproc.Server) string {
	u, err := url.Parse(srv.URL)
	if err != nil {
		panic(err)
	}
	return u.Scheme + "://" + u.Host
}

// jsString quotes s as a JavaScript string literal (JSON is one).
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
