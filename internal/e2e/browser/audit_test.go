package browser

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axe-core, from the npm package pinned in package.json/package-lock.json.
var axe struct {
	once   sync.Once
	source string
	err    error
}

const axePath = "node_modules/axe-core/axe.min.js"

// axeSource reads axe.min.js, running `npm ci` in this folder once when
// node_modules is missing. Without it the audit skips locally and fails
// under CI.
func axeSource(t *testing.T) string {
	t.Helper()
	axe.once.Do(func() {
		if _, err := os.Stat(axePath); err != nil {
			cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
			if out, err := cmd.CombinedOutput(); err != nil {
				axe.err = fmt.Errorf("npm ci in internal/e2e/browser: %v\n%s", err, out)
				return
			}
		}
		b, err := os.ReadFile(axePath)
		if err != nil {
			axe.err = err
			return
		}
		axe.source = string(b)
	})
	if axe.err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("skipping the accessibility audit: axe-core unavailable: %v", axe.err)
		}
		t.Fatal(axe.err)
	}
	return axe.source
}

// violation is one failed axe rule with the nodes that fail it.
type violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// axeRun runs axe on the whole document for WCAG 2.0/2.1 A and AA and
// returns the violations, each node's target as a CSS selector.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})
  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.map(String).join(' >>> '), summary: n.failureSummary || ''}))})))`

// audit injects axe-core into the page and fails the test for every
// WCAG 2.1 AA violation, with what to fix and where.
func audit(t *testing.T, tb *tab, name string) {
	t.Helper()
	for _, p := range auditProblems(t, tb) {
		t.Errorf("%s: %s", name, p)
	}
}

// auditProblems runs axe-core on the page and describes each violation:
// rule, impact, help, and every failing node with its fix.
func auditProblems(t *testing.T, tb *tab) []string {
	t.Helper()
	src := axeSource(t)
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	var problems []string
	for _, v := range eval[[]violation](t, tb, axeRun) {
		var b strings.Builder
		fmt.Fprintf(&b, "axe %s (%s): %s — %s", v.ID, v.Impact, v.Help, v.URL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n    %s\n      %s", n.Target, strings.ReplaceAll(n.Summary, "\n", "\n      "))
		}
		problems = append(problems, b.String())
	}
	return problems
}

// layout is what the phone-width checks measure.
type layout struct {
	ScrollWidth float64 `json:"scrollWidth"`
	InnerWidth  float64 `json:"innerWidth"`
	// Wide lists the outermost elements that reach past the viewport.
	Wide []string `json:"wide"`
	// Small lists interactive elements under 44×44 CSS px that the inline
	// exception does not cover.
	Small []string `json:"small"`
	// Checked counts the interactive elements measured.
	Checked int `json:"checked"`
}

// layoutScript, called with the viewport width, measures horizontal
// overflow and tap targets.
//
// Tap-target rule (WCAG 2.5.5 at 44×44 CSS px, with its inline exception
// made precise): every visible a[href], button, input, select, textarea,
// summary and [role=button] must be at least 44×44, except a link that is
// part of running text — display inline, whose nearest block ancestor is a
// p, li, dd, td, th, blockquote, figcaption or label that has letters
// outside every link and control (a list of links separated by "·" is not
// running text), and that is not inside site chrome or a component
// (nav, header, footer, .card, .tags, .pagination, .toc, .breadcrumb,
// .form-error). A checkbox or radio button counts together with its
// labels, which take the same click. Hidden elements (display none,
// visibility hidden, aria-hidden, the 1-px visually-hidden pattern) are
// not targets.
const layoutScript = `((vw) => {
  const path = el => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && parts.length < 4; e = e.parentElement) {
      if (e.id) { parts.unshift('#' + e.id); break; }
      let p = e.tagName.toLowerCase();
      const cls = [...e.classList].slice(0, 2);
      if (cls.length) p += '.' + cls.join('.');
      const same = e.parentElement ? [...e.parentElement.children].filter(c => c.tagName === e.tagName) : [];
      if (same.length > 1) p += ':nth-of-type(' + (same.indexOf(e) + 1) + ')';
      parts.unshift(p);
    }
    return parts.join(' > ');
  };
  const label = el => (el.textContent || el.value || el.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ').slice(0, 40);

  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= vw + 0.5) continue;
    if (el.closest('[aria-hidden="true"]')) continue;
    // Only the outermost offender; its children follow it out.
    let p = el.parentElement, nested = false;
    for (; p && p !== document.body; p = p.parentElement) {
      if (p.getBoundingClientRect().right > vw + 0.5) { nested = true; break; }
      const ox = getComputedStyle(p).overflowX;
      if (ox === 'auto' || ox === 'scroll' || ox === 'hidden' || ox === 'clip') { nested = true; break; }
    }
    if (!nested) wide.push(path(el) + ' right=' + Math.round(r.right) + 'px');
  }

  const hidden = el => {
    if (el.closest('[aria-hidden="true"], [hidden], [inert]')) return true;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') return true;
    const r = el.getBoundingClientRect();
    return r.width <= 1 || r.height <= 1;
  };
  const letters = /\p{L}/u;
  const inlineInText = el => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    if (el.closest('nav, header, footer, .card, .tags, .pagination, .toc, .breadcrumb, .form-error')) return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith('inline')) block = block.parentElement;
    if (!block || !block.matches('p, li, dd, td, th, blockquote, figcaption, label')) return false;
    let text = '';
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    // Running text is text outside every link and control, not the other
    // links of a list of links.
    const inControl = n => { for (let e = n.parentElement; e && e !== block; e = e.parentElement) if (e.matches('a, button, select, textarea')) return true; return false; };
    for (let n = walker.nextNode(); n; n = walker.nextNode()) if (!inControl(n)) text += n.data;
    return letters.test(text);
  };
  const box = el => {
    let r = el.getBoundingClientRect();
    let x1 = r.left, y1 = r.top, x2 = r.right, y2 = r.bottom;
    if (el.matches('input[type=checkbox], input[type=radio]') && el.labels) {
      for (const l of el.labels) {
        const q = l.getBoundingClientRect();
        x1 = Math.min(x1, q.left); y1 = Math.min(y1, q.top); x2 = Math.max(x2, q.right); y2 = Math.max(y2, q.bottom);
      }
    }
    return {w: x2 - x1, h: y2 - y1};
  };
  const small = [];
  let checked = 0;
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]')) {
    if (hidden(el) || inlineInText(el)) continue;
    checked++;
    const b = box(el);
    if (b.w < 43.5 || b.h < 43.5) small.push(path(el) + ' "' + label(el) + '" ' + b.w.toFixed(1) + '×' + b.h.toFixed(1));
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, wide, small, checked};
})`

// checkPhoneLayout fails for horizontal scrolling and small tap targets
// at phone width.
func checkPhoneLayout(t *testing.T, tb *tab, name string) {
	t.Helper()
	for _, p := range phoneLayoutProblems(t, tb) {
		t.Errorf("%s: %s", name, p)
	}
}

// phoneLayoutProblems measures the page (at the phone viewport) for
// horizontal scrolling and tap targets under 44×44 CSS px.
func phoneLayoutProblems(t *testing.T, tb *tab) []string {
	t.Helper()
	l := eval[layout](t, tb, fmt.Sprintf("%s(%d)", layoutScript, phoneWidth))
	var problems []string
	// A mobile browser zooms out to fit a page that is too wide, so the
	// viewport grows with it: both numbers must stay at the phone's width.
	if l.ScrollWidth > phoneWidth || l.InnerWidth != phoneWidth {
		problems = append(problems, fmt.Sprintf("page wider than the %d px phone viewport (horizontal scroll or zoomed out): scrollWidth %v, innerWidth %v; too wide:\n    %s",
			phoneWidth, l.ScrollWidth, l.InnerWidth, strings.Join(l.Wide, "\n    ")))
	}
	if l.Checked == 0 {
		problems = append(problems, "no interactive element measured: the tap-target check saw nothing")
	}
	if len(l.Small) > 0 {
		problems = append(problems, fmt.Sprintf("tap targets under 44×44 CSS px at %d px:\n    %s", phoneWidth, strings.Join(l.Small, "\n    ")))
	}
	return problems
}

// settle waits until web fonts are ready and two frames have been drawn
// since the last change, so a screenshot shows the finished layout.
const settle = `document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))))`

// screenshot writes a full-page PNG to the screenshot folder as
// name-width.png. The viewport is stretched to the page's height for the
// capture: Chromium's capture beyond the viewport lays the page out again
// without the emulated touch screen and pointer, so it can show what no
// reader sees.
func screenshot(t *testing.T, tb *tab, name string, width int) {
	t.Helper()
	height := eval[int64](t, tb, `Math.ceil(document.documentElement.scrollHeight)`)
	tb.emulate(t, int64(width), height)
	defer tb.viewport(t, int64(width))
	eval[bool](t, tb, settle)
	buf, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("%s: screenshot: %v", name, err)
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width)), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// inspect runs every check on the page the tab shows, at desktop and phone
// width: the axe audit and a screenshot at both, the layout checks at the
// phone width. It leaves the tab at desktop width.
func inspect(t *testing.T, tb *tab, name string) {
	t.Helper()
	for _, width := range []int{desktopWidth, phoneWidth} {
		tb.viewport(t, int64(width))
		eval[bool](t, tb, settle)
		audit(t, tb, fmt.Sprintf("%s at %d px", name, width))
		if width == phoneWidth {
			checkPhoneLayout(t, tb, name)
		}
		screenshot(t, tb, name, width)
	}
	tb.viewport(t, desktopWidth)
}
