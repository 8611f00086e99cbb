package browser

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// tabTimeout bounds everything one test does in one tab, so that a hang
// fails the test. The slowest test (the audit of every page type) takes
// about a minute in make test, but over three when the machine's two cores
// are also running the other packages' race-enabled tests.
const tabTimeout = 6 * time.Minute

// The viewports: a desktop window (every new tab) and a phone.
const (
	desktopWidth  = 1280
	desktopHeight = 800
	phoneWidth    = 390
	phoneHeight   = 844
)

// shared is the one Chromium of this test binary, started and stopped by
// TestMain; every test opens tabs in it.
var shared struct {
	ctx     context.Context // the browser's first tab; tabs are its children
	cancel  func()
	profile string
	err     error
	output  lockedBuffer // Chromium's stdout and stderr, for failures
}

func TestMain(m *testing.M) {
	// Screenshots of page types that no longer exist must not linger; a
	// filtered run (-run) keeps the others.
	if flag.Parse(); flag.Lookup("test.run").Value.String() == "" {
		old, _ := filepath.Glob(filepath.Join(screenshotDir(), "*.png"))
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	startBrowser()
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	if shared.profile != "" {
		_ = os.RemoveAll(shared.profile)
	}
	if dir := screenshotDir(); code == 0 && dirHasFiles(dir) {
		fmt.Printf("browser: screenshots in %s\n", dir)
	}
	os.Exit(code)
}

// errNoChromium marks a machine without Chromium: skipped locally, failed
// under CI.
var errNoChromium = errors.New("chromium not found (install Debian's chromium: apt-get install -y chromium)")

// chromiumPath finds Debian's Chromium: /usr/bin/chromium, or a chromium
// on PATH.
func chromiumPath() (string, error) {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errNoChromium
}

// startBrowser starts the shared Chromium once, with exactly the flags a
// reproducible headless run needs and a fresh profile.
func startBrowser() {
	path, err := chromiumPath()
	if err != nil {
		shared.err = err
		return
	}
	shared.profile, err = os.MkdirTemp("", "kb-e2e-chromium-")
	if err != nil {
		shared.err = fmt.Errorf("chromium profile folder: %w", err)
		return
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // runs as root in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(shared.profile),
		chromedp.CombinedOutput(&shared.output),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	shared.cancel = func() { bcancel(); acancel() }
	if err := chromedp.Do(bctx); err != nil {
		shared.err = fmt.Errorf("start chromium %s: %w\n%s", path, err, shared.output.String())
		return
	}
	shared.ctx = bctx
}

// requireBrowser skips the test when Chromium is missing, and fails it
// under CI, where a missing browser is a broken machine.
func requireBrowser(t *testing.T) {
	t.Helper()
	switch {
	case shared.err == nil:
	case errors.Is(shared.err, errNoChromium) && os.Getenv("CI") == "":
		t.Skipf("skipping browser test: %v", shared.err)
	default:
		t.Fatal(shared.err)
	}
}

// tab is one browser tab in a browser context of its own (no cookies or
// storage shared with other tests), with a monitor of what its pages do.
type tab struct {
	ctx context.Context
	mon *monitor
}

type tabOptions struct {
	noScript bool // JavaScript off, as a reader who disabled it
}

// newTab opens a tab at the desktop size; it closes when the test ends.
func newTab(t *testing.T, o tabOptions) *tab {
	t.Helper()
	requireBrowser(t)
	mon := newMonitor()
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(mon.listen))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	ctx, tcancel := context.WithTimeout(ctx, tabTimeout)
	t.Cleanup(tcancel)
	tb := &tab{ctx: ctx, mon: mon}
	// Focus emulation: tabs of parallel tests are separate windows, and
	// each page must behave as the focused one (autofocus, focus()).
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("focus emulation: %v", err)
	}
	if o.noScript {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("disable JavaScript: %v", err)
		}
	}
	tb.viewport(t, desktopWidth)
	return tb
}

// viewport emulates a phone (390 px, mobile, a touch screen: pointer
// coarse) or a desktop window.
//
// Every tab also prefers reduced motion: headless Chromium does not
// advance smooth-scroll animations, and the site scrolls smoothly only for
// readers who have not asked for reduced motion, so anchors jump.
func (tb *tab) viewport(t *testing.T, width int64) {
	t.Helper()
	tb.emulate(t, width, 0)
}

// emulate sets the viewport to width×height (height 0: the device's).
func (tb *tab) emulate(t *testing.T, width, height int64) {
	t.Helper()
	p := emulation.SetDeviceMetricsOverrideParams{Width: width, Height: desktopHeight, DeviceScaleFactor: 1}
	touch := emulation.SetTouchEmulationEnabledParams{}
	if width < 600 {
		p.Height, p.Mobile = phoneHeight, true
		touch = emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}
	}
	if height > 0 {
		p.Height = height
	}
	if _, err := chromedp.Call(tb.ctx, emulation.SetDeviceMetricsOverride, p); err != nil {
		t.Fatalf("viewport %d: %v", width, err)
	}
	if _, err := chromedp.Call(tb.ctx, emulation.SetTouchEmulationEnabled, touch); err != nil {
		t.Fatalf("touch emulation at %d px: %v", width, err)
	}
	media := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, media); err != nil {
		t.Fatalf("reduced motion: %v", err)
	}
}

// do runs actions and fails the test with what and the error.
func (tb *tab) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to url and fails unless the document answers want.
func (tb *tab) open(t *testing.T, url string, want int64) {
	t.Helper()
	res, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if res == nil || res.Status != want {
		t.Fatalf("open %s: status %v, want %d", url, statusOf(res), want)
	}
}

// eval evaluates a JavaScript expression (promises awaited).
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %.80q: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript condition holds, checked on every
// animation frame.
func (tb *tab) waitJS(t *testing.T, what, cond string) {
	t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("wait for %s (%s): %v", what, cond, err)
	}
}

// back goes one step back in the tab's history, as the Back button does,
// and waits until the main frame shows the previous page, restored from
// the back/forward cache (no load event) or loaded again.
func (tb *tab) back(t *testing.T) {
	t.Helper()
	h, err := chromedp.Call(tb.ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if h.CurrentIndex < 1 {
		t.Fatal("back: no previous page in the history")
	}
	prev := h.Entries[h.CurrentIndex-1]
	goBack := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: prev.ID})
		return err
	})
	mainFrame := func(e page.EventFrameNavigated) bool { return e.Frame.ParentID == "" }
	if _, err := chromedp.Run(tb.ctx, chromedp.WaitEvent(page.FrameNavigated, mainFrame, goBack)); err != nil {
		t.Fatalf("back to %s: %v", prev.URL, err)
	}
	// chromedp's DOM and execution-context tracking does not follow a
	// restore from the back/forward cache; Evaluate runs in the page's
	// current context, so wait for the load there.
	eval[bool](t, tb, `new Promise(r => document.readyState === 'complete' ? r(true) : addEventListener('load', () => r(true), {once: true}))`)
}

// location is the tab's current URL.
func (tb *tab) location(t *testing.T) string {
	t.Helper()
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return loc
}

// startSite starts `kb serve` for the site at root ("" = the repository)
// with a fresh data folder.
func startSite(t *testing.T, root string) (*kbproc.Server, kbproc.Options) {
	t.Helper()
	o := kbproc.Options{Root: root, Data: filepath.Join(t.TempDir(), "data"), Env: map[string]string{"KB_SECRET": testSecret}}
	return kbproc.Start(t, o), o
}

// testSecret signs links; the tests sign links of their own with it (an
// expired confirmation link).
const testSecret = "browser-e2e-secret-0123456789abcdef0123456789"

// gatedSite copies the site sources into a temp folder with the whitepaper
// gated ([params.whitepaper] gated = true) and returns the folder.
func gatedSite(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	kbproc.CopySite(t, dst)
	cfg, err := os.ReadFile(filepath.Join(dst, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	const free, gated = "gated = false", "gated = true"
	if n := bytes.Count(cfg, []byte(free)); n != 1 {
		t.Fatalf("config.toml has %d %q lines, want 1 (under [params.whitepaper])", n, free)
	}
	cfg = bytes.Replace(cfg, []byte(free), []byte(gated), 1)
	if err := os.WriteFile(filepath.Join(dst, "config.toml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// screenshotDir is $KB_SCREENSHOTS or <repo>/test-artifacts/screenshots.
func screenshotDir() string {
	if d := os.Getenv("KB_SCREENSHOTS"); d != "" {
		return d
	}
	return filepath.Join(kbproc.RepoRoot(), "test-artifacts", "screenshots")
}

func dirHasFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) > 0
}

// lockedBuffer collects Chromium's output, written from its own goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
