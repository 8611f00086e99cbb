package browser

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/pelletier/go-toml/v2"

	"github.com/kbpress/kb/internal/benchsite"
	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// BenchmarkSearchPage measures the search page of a site with 2,000
// generated guides (internal/benchsite, beside the real ones), served by
// the real `kb serve`, in Chromium with the CPU slowed down 4× (as
// Lighthouse's mobile run). Each iteration is a reader with a cold cache:
//
//   - transferred-KiB: everything /szukaj/?q=faktura downloads until its
//     results show (HTML, CSS, JS, the index's manifest and fragments),
//     as the bytes on the wire (Resource Timing transferSize: compressed
//     bodies and headers);
//   - index-KiB: the part of it under /search/;
//   - first-result-ms: after that, a new query put into the box in one
//     input event (its fragments not loaded yet), from the event to the
//     first result card in the document, one frame later;
//   - fragment-ms, meta-start-ms, meta-ms: where that time goes, from the
//     same event: the word fragments in, the first metadata request sent,
//     the first metadata chunk in (Resource Timing; -1 when none);
//   - old-first-result-ms, old-meta-ms: the same for a query whose only
//     guide is older than the head file's (oldQuery), so that its card
//     needs a metadata chunk after the fragments.
//
// Run:
//
//	go test -run '^$' -bench BenchmarkSearchPage -benchtime 5x ./internal/e2e/browser
func BenchmarkSearchPage(b *testing.B) {
	if shared.err != nil {
		b.Skip(shared.err)
	}
	root := searchBenchSite(b, 2000)
	srv := kbproc.Start(b, kbproc.Options{Root: root})
	var kib, indexKiB float64
	var sum, sumOld phases
	for b.Loop() {
		t, i, p, o := searchPageOnce(b, srv.URL)
		sumOld.first += o.first
		sumOld.metaEnd += o.metaEnd
		kib += t
		indexKiB += i
		sum.first += p.first
		sum.fragment += p.fragment
		sum.metaStart += p.metaStart
		sum.metaEnd += p.metaEnd
	}
	n := float64(b.N)
	b.ReportMetric(kib/n, "transferred-KiB")
	b.ReportMetric(indexKiB/n, "index-KiB")
	b.ReportMetric(sum.first/n, "first-result-ms")
	b.ReportMetric(sum.fragment/n, "fragment-ms")
	b.ReportMetric(sum.metaStart/n, "meta-start-ms")
	b.ReportMetric(sum.metaEnd/n, "meta-ms")
	b.ReportMetric(sumOld.first/n, "old-first-result-ms")
	b.ReportMetric(sumOld.metaEnd/n, "old-meta-ms")
}

// searchBenchSite copies the site's sources and adds n generated guides.
func searchBenchSite(b *testing.B, n int) string {
	b.Helper()
	dst := b.TempDir()
	kbproc.CopySite(b, dst)
	if err := benchsite.WriteGuides(filepath.Join(dst, "content", "poradniki"), n); err != nil {
		b.Fatal(err)
	}
	return dst
}

func searchPageOnce(b *testing.B, base string) (transferredKiB, indexKiB float64, first, old phases) {
	b.Helper()
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	ctx, tcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer tcancel()
	must := func(what string, err error) {
		if err != nil {
			b.Fatalf("%s: %v", what, err)
		}
	}
	must("open tab", chromedp.Do(ctx))
	_, err := chromedp.Call(ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: 4})
	must("CPU throttling", err)
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/szukaj/?q=faktura"))
	must("open the search page", err)
	if res == nil || res.Status != 200 {
		b.Fatalf("search page: status %v", statusOf(res))
	}
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('#search-results .card').length > 0`, chromedp.WithPollingTimeout(time.Minute)))
	must("results for faktura", err)
	sizes, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
		const sum = es => es.reduce((s, e) => s + e.transferSize, 0);
		return [sum(all), sum(all.filter(e => new URL(e.name).pathname.startsWith('/search/')))];
	})()`))
	must("transferred bytes", err)

	// The reader clears the box, pauses, and enters a new query.
	prompt := jsString(siteTextB(b, "searchPrompt"))
	query := func(text string) phases {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const q = document.getElementById('search-q'); q.value = ''; q.dispatchEvent(new Event('input')); })()`))
		must("clear the query", err)
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('search-status').textContent === `+prompt, chromedp.WithPollingTimeout(time.Minute)))
		must("the prompt", err)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`new Promise(resolve => {
			const q = document.getElementById('search-q'), list = document.getElementById('search-results');
			setTimeout(() => {
				const obs = new MutationObserver(() => {
					if (!list.querySelector('.card')) return;
					obs.disconnect();
					requestAnimationFrame(() => {
						const ms = performance.now() - t0;
						// The requests since the event, as times after it.
						const es = performance.getEntriesByType('resource').filter(e => e.startTime >= t0 && new URL(e.name).pathname.startsWith('/search/'));
						const meta = es.filter(e => new URL(e.name).pathname.startsWith('/search/m.'));
						const words = es.filter(e => !meta.includes(e));
						const min = (xs, f) => xs.length ? Math.min(...xs.map(f)) - t0 : -1;
						const max = (xs, f) => xs.length ? Math.max(...xs.map(f)) - t0 : -1;
						resolve([ms, max(words, e => e.responseEnd), min(meta, e => e.startTime), min(meta, e => e.responseEnd)]);
					});
				});
				obs.observe(list, { childList: true, subtree: true });
				const t0 = performance.now();
				q.value = `+jsString(text)+`;
				q.dispatchEvent(new Event('input'));
			}, 200); // a pause before the new query
		})`, chromedp.EvalAwaitPromise))
		must("first result for "+text, err)
		return phases{got[0], got[1], got[2], got[3]}
	}
	first = query("podatek")
	old = query(oldQuery)
	return sizes[0] / 1024, sizes[1] / 1024, first, old
}

// oldQuery finds one generated guide, older than the head's 100: its card
// waits for its metadata chunk, a second round trip after the fragments.
const oldQuery = "poradnik 1500"

// phases of the first result after the input event, in milliseconds: the
// word fragments in, the first metadata request sent, the first metadata
// chunk in (Resource Timing), the first card rendered.
type phases struct{ first, fragment, metaStart, metaEnd float64 }

// siteTextB is siteText for a benchmark.
func siteTextB(b *testing.B, key string) string {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(kbproc.RepoRoot(), "i18n", "pl.toml"))
	if err != nil {
		b.Fatal(err)
	}
	var entries map[string]map[string]string
	if err := toml.Unmarshal(raw, &entries); err != nil {
		b.Fatalf("i18n/pl.toml: %v", err)
	}
	s, ok := entries[key]["other"]
	if !ok {
		b.Fatalf("i18n/pl.toml has no %s", key)
	}
	return s
}
