package browser

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestChecksCatchBrokenPages breaks a page on purpose and expects every
// check the other tests rely on to notice: a check that cannot fail
// proves nothing.
func TestChecksCatchBrokenPages(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, _ := startSite(t, "")
	// The site's Content-Security-Policy blocks requests to other hosts
	// before they leave the page; bypass it to see the host check work.
	if _, err := chromedp.Call(tb.ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	tb.open(t, srv.URL+"/", 200)
	eval[bool](t, tb, `(() => {
		const main = document.querySelector('main');
		const img = document.createElement('img');
		img.src = '/favicon.svg';
		main.append(img);
		const faint = document.createElement('p');
		faint.style.color = '#c8c8c8';
		faint.textContent = 'Szary tekst na białym tle';
		main.append(faint);
		const tiny = document.createElement('button');
		tiny.id = 'tiny';
		tiny.textContent = 'x';
		tiny.style.cssText = 'padding: 0; font-size: 10px; min-height: 0';
		main.append(tiny);
		const wide = document.createElement('div');
		wide.id = 'too-wide';
		wide.style.width = '600px';
		wide.textContent = 'za szeroki';
		main.append(wide);
		console.error('broken on purpose');
		setTimeout(() => { throw new Error('thrown on purpose'); });
		// Resolves after both requests ended and after the timer above
		// threw, so the monitor has seen it all when the result arrives.
		return Promise.all([
			fetch('/nie-ma-takiego-pliku.json').catch(() => {}),
			fetch('http://127.0.0.2:9/inny-host').catch(() => {}),
		]).then(() => new Promise(r => setTimeout(() => r(true))));
	})()`)

	audit := strings.Join(auditProblems(t, tb), "\n")
	for _, rule := range []string{"axe image-alt", "axe color-contrast"} {
		if !strings.Contains(audit, rule) {
			t.Errorf("the axe audit missed %s:\n%s", rule, audit)
		}
	}

	tb.viewport(t, phoneWidth)
	layout := strings.Join(phoneLayoutProblems(t, tb), "\n")
	for _, want := range []string{"wider than the 390 px", "#too-wide", "#tiny"} {
		if !strings.Contains(layout, want) {
			t.Errorf("the phone layout check missed %s:\n%s", want, layout)
		}
	}

	mon := strings.Join(tb.mon.problems(origin(srv), nil), "\n")
	for _, want := range []string{"broken on purpose", "thrown on purpose", "nie-ma-takiego-pliku.json answered 404", "another host", "127.0.0.2:9"} {
		if !strings.Contains(mon, want) {
			t.Errorf("the monitor missed %q:\n%s", want, mon)
		}
	}
}
