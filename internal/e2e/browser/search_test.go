package browser

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// oldSearchResults are what the search found on the real guides before it
// was split into fragments (issue 15): each query run once through the
// old assets/js/search.js (the whole index downloaded, every word a
// substring) on the site as built then, frozen here. Each inner list is
// one rank: pages with the same score and date, whose order the old sort
// left to chance.
var oldSearchResults = []struct {
	query string
	ranks [][]string
}{
	{"faktura", [][]string{{"/poradniki/ulga-na-zle-dlugi/"}, {"/poradniki/umowa-z-klientem-lista-kontrolna/", "/poradniki/male-dlugi-w-sadzie/", "/poradniki/ksef-w-biurze-rachunkowym/", "/poradniki/klient-z-zaleglosciami-wobec-us-i-zus/", "/poradniki/zakonczenie-wspolpracy-z-klientem/"}, {"/poradniki/przeplywy-pieniezne-malej-firmy/"}, {"/poradniki/wspolny-cel-pytanie-dlaczego/"}, {"/biala-ksiega/strategia-przeplywow-pienieznych/"}, {"/poradniki/gdy-rozmowa-sie-psuje/"}, {"/poradniki/rozmowa-o-zaleglej-fakturze/"}, {"/poradniki/ustal-zasady-platnosci-na-starcie/"}, {"/poradniki/zobowiaz-sie-do-trudnych-rozmow/"}}},
	{"zaleglosci", [][]string{{"/poradniki/klient-z-zaleglosciami-wobec-us-i-zus/"}, {"/poradniki/ustal-zasady-platnosci-na-starcie/"}, {"/poradniki/umowa-z-klientem-lista-kontrolna/", "/poradniki/ulga-na-zle-dlugi/", "/poradniki/male-dlugi-w-sadzie/", "/poradniki/zakonczenie-wspolpracy-z-klientem/"}, {"/poradniki/przeplywy-pieniezne-malej-firmy/"}, {"/poradniki/wspolny-cel-pytanie-dlaczego/"}, {"/biala-ksiega/strategia-przeplywow-pienieznych/"}, {"/poradniki/rozmowa-o-zaleglej-fakturze/"}, {"/poradniki/zobowiaz-sie-do-trudnych-rozmow/"}}},
	{"ulga na zle dlugi", [][]string{{"/poradniki/ulga-na-zle-dlugi/"}, {"/poradniki/male-dlugi-w-sadzie/"}, {"/poradniki/klient-z-zaleglosciami-wobec-us-i-zus/"}}},
	{"KSeF", [][]string{{"/poradniki/ksef-w-biurze-rachunkowym/"}, {"/poradniki/zakonczenie-wspolpracy-z-klientem/"}, {"/poradniki/umowa-z-klientem-lista-kontrolna/", "/poradniki/male-dlugi-w-sadzie/"}, {"/poradniki/przeplywy-pieniezne-malej-firmy/"}, {"/biala-ksiega/strategia-przeplywow-pienieznych/"}, {"/poradniki/gdy-rozmowa-sie-psuje/"}, {"/poradniki/rozmowa-o-zaleglej-fakturze/"}, {"/poradniki/podwyzka-honorarium/"}, {"/poradniki/ustal-zasady-platnosci-na-starcie/"}, {"/poradniki/zobowiaz-sie-do-trudnych-rozmow/"}}},
	{"honorarium", [][]string{{"/poradniki/podwyzka-honorarium/"}, {"/poradniki/ksef-w-biurze-rachunkowym/"}, {"/poradniki/emocje-pod-kontrola/"}, {"/poradniki/ustal-zasady-platnosci-na-starcie/"}, {"/poradniki/umowa-z-klientem-lista-kontrolna/", "/poradniki/ulga-na-zle-dlugi/", "/poradniki/male-dlugi-w-sadzie/", "/poradniki/klient-z-zaleglosciami-wobec-us-i-zus/"}, {"/poradniki/wspolny-cel-pytanie-dlaczego/"}, {"/poradniki/zobowiaz-sie-do-trudnych-rozmow/"}}},
	{"przeplywy", [][]string{{"/poradniki/przeplywy-pieniezne-malej-firmy/"}, {"/poradniki/wspolny-cel-pytanie-dlaczego/"}, {"/biala-ksiega/strategia-przeplywow-pienieznych/"}}},
	{"rozmowa klient", [][]string{{"/poradniki/gdy-rozmowa-sie-psuje/"}, {"/poradniki/zakonczenie-wspolpracy-z-klientem/"}, {"/poradniki/klient-z-zaleglosciami-wobec-us-i-zus/"}, {"/poradniki/wspolny-cel-pytanie-dlaczego/"}, {"/poradniki/emocje-pod-kontrola/"}, {"/poradniki/rozmowa-o-zaleglej-fakturze/"}, {"/poradniki/podwyzka-honorarium/"}, {"/poradniki/zobowiaz-sie-do-trudnych-rozmow/"}, {"/poradniki/ksef-w-biurze-rachunkowym/"}, {"/poradniki/przeplywy-pieniezne-malej-firmy/"}, {"/poradniki/ustal-zasady-platnosci-na-starcie/"}, {"/poradniki/ulga-na-zle-dlugi/"}, {"/biala-ksiega/strategia-przeplywow-pienieznych/"}}},
	{"faktur", [][]string{{"/poradniki/rozmowa-o-zaleglej-fakturze/"}, {"/poradniki/ulga-na-zle-dlugi/"}, {"/poradniki/umowa-z-klientem-lista-kontrolna/", "/poradniki/male-dlugi-w-sadzie/", "/poradniki/ksef-w-biurze-rachunkowym/", "/poradniki/klient-z-zaleglosciami-wobec-us-i-zus/", "/poradniki/zakonczenie-wspolpracy-z-klientem/"}, {"/poradniki/przeplywy-pieniezne-malej-firmy/"}, {"/poradniki/wspolny-cel-pytanie-dlaczego/"}, {"/biala-ksiega/strategia-przeplywow-pienieznych/"}, {"/poradniki/gdy-rozmowa-sie-psuje/"}, {"/poradniki/podwyzka-honorarium/"}, {"/poradniki/ustal-zasady-platnosci-na-starcie/"}, {"/poradniki/zobowiaz-sie-do-trudnych-rozmow/"}}},
	{"kryptowaluty", [][]string{}},
	{"Zaległości ZUS", [][]string{{"/poradniki/klient-z-zaleglosciami-wobec-us-i-zus/"}, {"/poradniki/zakonczenie-wspolpracy-z-klientem/"}, {"/poradniki/umowa-z-klientem-lista-kontrolna/", "/poradniki/ulga-na-zle-dlugi/"}, {"/poradniki/przeplywy-pieniezne-malej-firmy/"}, {"/poradniki/wspolny-cel-pytanie-dlaczego/"}, {"/biala-ksiega/strategia-przeplywow-pienieznych/"}, {"/poradniki/rozmowa-o-zaleglej-fakturze/"}, {"/poradniki/zobowiaz-sie-do-trudnych-rozmow/"}}},
	{"termin płatności", [][]string{{"/poradniki/ustal-zasady-platnosci-na-starcie/"}, {"/poradniki/ksef-w-biurze-rachunkowym/"}, {"/poradniki/wspolny-cel-pytanie-dlaczego/"}, {"/poradniki/umowa-z-klientem-lista-kontrolna/", "/poradniki/ulga-na-zle-dlugi/", "/poradniki/male-dlugi-w-sadzie/", "/poradniki/klient-z-zaleglosciami-wobec-us-i-zus/", "/poradniki/zakonczenie-wspolpracy-z-klientem/"}, {"/poradniki/przeplywy-pieniezne-malej-firmy/"}, {"/biala-ksiega/strategia-przeplywow-pienieznych/"}, {"/poradniki/rozmowa-o-zaleglej-fakturze/"}, {"/poradniki/podwyzka-honorarium/"}}},
	{"emocje", [][]string{{"/poradniki/emocje-pod-kontrola/"}, {"/poradniki/gdy-rozmowa-sie-psuje/"}, {"/poradniki/zobowiaz-sie-do-trudnych-rozmow/"}}},
	{"biała lista", [][]string{{"/poradniki/przeplywy-pieniezne-malej-firmy/"}}},
}

// openSearch opens the real site's search page in a new tab and waits
// until its manifest is loaded, which the prompt in the status line shows.
// It returns the tab, the server and the prompt as a JavaScript string.
func openSearch(t *testing.T) (*tab, *kbproc.Server, string) {
	t.Helper()
	tb := newTab(t, tabOptions{})
	srv, _ := startSite(t, "")
	prompt := jsString(siteText(t, "searchPrompt"))
	tb.open(t, srv.URL+"/szukaj/", 200)
	tb.waitJS(t, "the search manifest", `document.getElementById('search-status').textContent === `+prompt)
	return tb, srv, prompt
}

// TestSearchFindsWhatItFoundBefore types each query into the search page
// in Chromium and compares every result, in order of rank, with the old
// search's.
func TestSearchFindsWhatItFoundBefore(t *testing.T) {
	t.Parallel()
	tb, srv, prompt := openSearch(t)
	for _, tt := range oldSearchResults {
		// Clear the box first: the prompt marks the end of the last query.
		tb.do(t, "clear the query", chromedp.Evaluate[chromedp.Void](`(() => { const q = document.getElementById('search-q'); q.value = ''; q.dispatchEvent(new Event('input')); })()`))
		tb.waitJS(t, "the prompt", `document.getElementById('search-status').textContent === `+prompt+` && !document.querySelector('#search-results li')`)
		tb.do(t, "type "+tt.query, chromedp.SendKeys(chromedp.ID("search-q"), tt.query))
		tb.waitJS(t, "results for "+tt.query, fmt.Sprintf(`new URLSearchParams(location.search).get('q') === %s && document.getElementById('search-status').textContent !== %s && !!document.querySelector('#search-results li')`, jsString(tt.query), prompt))
		// Every page of results.
		for range 100 {
			if eval[bool](t, tb, `document.querySelector('.search-more').hidden`) {
				break
			}
			n := eval[int](t, tb, `document.querySelectorAll('#search-results .card').length`)
			tb.do(t, "more results", chromedp.Click(chromedp.ID("search-more")))
			tb.waitJS(t, "the next page", fmt.Sprintf(`document.querySelectorAll('#search-results .card').length > %d`, n))
		}
		got := eval[[]string](t, tb, `[...document.querySelectorAll('#search-results .card-title a')].map(a => a.getAttribute('href'))`)
		if len(tt.ranks) == 0 {
			if len(got) != 0 || eval[string](t, tb, `document.getElementById('search-status').textContent`) != siteText(t, "searchNone") {
				t.Errorf("%q: found %v, want the no-results message", tt.query, got)
			}
			continue
		}
		if !sameRanks(got, tt.ranks) {
			t.Errorf("%q finds\n\t%v\nthe old search found (by rank)\n\t%v", tt.query, got, tt.ranks)
		}
		want := 0
		for _, r := range tt.ranks {
			want += len(r)
		}
		if status := eval[string](t, tb, `document.getElementById('search-status').textContent`); !strings.Contains(status, fmt.Sprint(want)) {
			t.Errorf("%q: status %q does not count %d results", tt.query, status, want)
		}
	}
	tb.mon.check(t, origin(srv), nil)
}

// sameRanks reports whether got lists the pages of ranks, rank by rank, in
// any order within a rank.
func sameRanks(got []string, ranks [][]string) bool {
	for _, r := range ranks {
		if len(got) < len(r) {
			return false
		}
		head := slices.Clone(got[:len(r)])
		slices.Sort(head)
		want := slices.Sorted(slices.Values(r))
		if !slices.Equal(head, want) {
			return false
		}
		got = got[len(r):]
	}
	return len(got) == 0
}

// TestSearchWithoutJavaScript: the search page says plainly that it needs
// JavaScript and where to browse instead, and fetches no index.
func TestSearchWithoutJavaScript(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{noScript: true})
	srv, _ := startSite(t, "")
	tb.open(t, srv.URL+"/szukaj/?q=faktura", 200)
	msg := siteText(t, "searchNoJS")
	first := msg[:strings.Index(msg, "<")]
	text := eval[string](t, tb, `document.querySelector('[data-search]').innerText`)
	if !strings.Contains(text, strings.TrimSpace(first)) {
		t.Errorf("without JavaScript the search says %q, want %q", text, first)
	}
	links := eval[[]string](t, tb, `[...document.querySelectorAll('[data-search] .notice a')].map(a => a.getAttribute('href'))`)
	if !slices.Contains(links, "/poradniki/") || !slices.Contains(links, "/tagi/") {
		t.Errorf("the no-JavaScript message links %v, want the guides and the tags", links)
	}
	if n := eval[int](t, tb, `performance.getEntriesByType('resource').filter(e => e.name.includes('/search/')).length`); n != 0 {
		t.Errorf("without JavaScript the page fetched %d index files", n)
	}
	tb.mon.check(t, origin(srv), nil)
}

// TestSearchNewestQueryWins: every input runs a search at once, so an
// earlier query whose fragment comes in late must not replace the results
// of the query typed after it.
func TestSearchNewestQueryWins(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, _ := startSite(t, "")
	prompt := jsString(siteText(t, "searchPrompt"))

	tb.open(t, srv.URL+"/szukaj/?q=faktura", 200)
	tb.waitJS(t, "results for faktura", `!!document.querySelector('#search-results .card')`)
	// Hold back the next word fragment requested, until released; done
	// resolves one task after search.js has its JSON, by when a stale run
	// that was not dropped would have rendered (the metadata is in).
	tb.do(t, "hold a fragment", chromedp.Evaluate[chromedp.Void](`(() => {
		const real = window.fetch;
		let release;
		const held = new Promise(r => { release = r; });
		window.releaseHeld = () => release();
		window.heldDone = new Promise(done => {
			window.fetch = function (url, opts) {
				if (!window.holdNext || !new URL(url, location.href).pathname.startsWith('/search/w')) return real.apply(this, arguments);
				window.holdNext = false;
				return held.then(() => real(url, opts)).then(res => {
					const json = res.json.bind(res);
					res.json = () => { const p = json(); p.then(() => setTimeout(done, 0)); return p; };
					return res;
				});
			};
		});
	})()`))
	tb.do(t, "type the slow query", chromedp.Evaluate[chromedp.Void](`(() => {
		const q = document.getElementById('search-q');
		window.holdNext = true;
		q.value = 'emocje';
		q.dispatchEvent(new Event('input'));
		q.value = 'przeplywy';
		q.dispatchEvent(new Event('input'));
	})()`))
	want := `/poradniki/przeplywy-pieniezne-malej-firmy/`
	tb.waitJS(t, "results for przeplywy", fmt.Sprintf(`document.querySelector('#search-results .card-title a')?.getAttribute('href') === %s`, jsString(want)))
	before := eval[[]string](t, tb, `[...document.querySelectorAll('#search-results .card-title a')].map(a => a.getAttribute('href'))`)
	status := eval[string](t, tb, `document.getElementById('search-status').textContent`)
	tb.do(t, "release the slow fragment", chromedp.Evaluate[chromedp.Void](`(() => { window.releaseHeld(); return window.heldDone; })()`, chromedp.EvalAwaitPromise))
	after := eval[[]string](t, tb, `[...document.querySelectorAll('#search-results .card-title a')].map(a => a.getAttribute('href'))`)
	if !slices.Equal(after, before) || len(after) != 3 {
		t.Errorf("after the older query's fragment came in the results are %v, want przeplywy's %v", after, before)
	}
	if got := eval[string](t, tb, `document.getElementById('search-status').textContent`); got != status || got == prompt {
		t.Errorf("status %q after the older query's fragment, want %q", got, status)
	}
	tb.mon.check(t, origin(srv), nil)
}

// TestSearchURLAfterResults: the address keeps the newest query, but it is
// set only once that query's results are on screen: history.replaceState
// is a same-document navigation that, done on every input, held up a
// throttled phone's first result by tens of milliseconds.
func TestSearchURLAfterResults(t *testing.T) {
	t.Parallel()
	tb, srv, _ := openSearch(t)
	tb.do(t, "watch the history", chromedp.Evaluate[chromedp.Void](`(() => {
		window.urlCalls = [];
		const real = history.replaceState.bind(history);
		history.replaceState = (state, title, url) => {
			const q = new URL(url, location.href).searchParams.get('q');
			window.urlCalls.push(q + ':' + document.querySelectorAll('#search-results .card').length);
			return real(state, title, url);
		};
	})()`))
	tb.do(t, "type two queries", chromedp.Evaluate[chromedp.Void](`(() => {
		const q = document.getElementById('search-q');
		q.value = 'emocje';
		q.dispatchEvent(new Event('input'));
		q.value = 'przeplywy';
		q.dispatchEvent(new Event('input'));
	})()`))
	tb.waitJS(t, "the query in the URL", `new URLSearchParams(location.search).get('q') === 'przeplywy'`)
	calls := eval[[]string](t, tb, `window.urlCalls`)
	if len(calls) != 1 || calls[0] == "przeplywy:0" || !strings.HasPrefix(calls[0], "przeplywy:") {
		t.Errorf("history.replaceState calls (query:cards on screen) %v, want one for przeplywy with its results shown", calls)
	}
	tb.mon.check(t, origin(srv), nil)
}
