package browser

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// download is a file the browser saved.
type download struct {
	Name string // the name the browser suggested (Content-Disposition or the URL)
	Data []byte
}

// download runs trigger (a click on a link, a navigation) and waits for
// the download it starts to complete in a temp folder.
func (tb *tab) download(t *testing.T, trigger chromedp.Action[chromedp.Void]) download {
	t.Helper()
	dir := t.TempDir()
	_, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID,
		DownloadPath:     dir,
		EventsEnabled:    new(true),
	})
	if err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	// Subscribe before the trigger, so no event is missed.
	ctx, cancel := context.WithCancel(tb.ctx)
	defer cancel()
	begins := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	tb.do(t, "start the download", trigger)

	// Downloads of other tests' tabs come through the same browser: ours
	// is the one our tab's main frame (whose id is the target's) started.
	frame := string(chromedp.FromContext(tb.ctx).Target.TargetID)
	var begin browser.EventDownloadWillBegin
	for ev, err := range begins {
		if err != nil {
			t.Fatalf("no download started: %v", err)
		}
		if string(ev.FrameID) == frame {
			begin = ev
			break
		}
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download of %s did not finish: %v", begin.URL, err)
		}
		if ev.GUID != begin.GUID {
			continue
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, begin.GUID))
			if err != nil {
				t.Fatalf("downloaded file: %v", err)
			}
			return download{Name: begin.SuggestedFilename, Data: data}
		case browser.DownloadProgressStateCanceled:
			t.Fatalf("download of %s was cancelled", begin.URL)
		}
	}
	t.Fatal("download events ended")
	return download{}
}

// navigateNoWait starts a navigation without waiting for a page: a link
// that answers with an attachment loads no page.
func navigateNoWait(url string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.Navigate, page.NavigateParams{URL: url})
		return err
	})
}

// checkPDF fails unless d is a PDF file.
func checkPDF(t *testing.T, d download, from string) {
	t.Helper()
	if !bytes.HasPrefix(d.Data, []byte("%PDF-")) {
		t.Errorf("%s downloaded %q (%d bytes) that does not start with %%PDF-", from, d.Name, len(d.Data))
	}
	if !strings.HasSuffix(strings.ToLower(d.Name), ".pdf") {
		t.Errorf("%s downloads as %q, want a .pdf name", from, d.Name)
	}
	if len(d.Data) < 10<<10 {
		t.Errorf("%s downloaded only %d bytes", from, len(d.Data))
	}
}

// fetched is what the page's own fetch() got for a URL.
type fetched struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Head   string `json:"head"`
	Size   int    `json:"size"`
}

// fetchInPage requests url from the page (same origin, the browser's own
// HTTP stack) and returns the status, Content-Type and the first bytes.
func fetchInPage(t *testing.T, tb *tab, url string) fetched {
	t.Helper()
	return eval[fetched](t, tb, `fetch(`+jsString(url)+`).then(async r => {
		const b = new Uint8Array(await r.arrayBuffer());
		return {status: r.status, type: r.headers.get('content-type') || '', head: String.fromCharCode(...b.slice(0, 5)), size: b.length};
	})`)
}

// TestWhitepaperFree downloads the PDF from the landing page's link.
func TestWhitepaperFree(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, _ := startSite(t, "")

	tb.open(t, srv.URL+"/biala-ksiega/", 200)
	const link = `.download a.button[href$=".pdf"]`
	href := attr(t, tb, link, "href")
	got := fetchInPage(t, tb, href)
	if got.Status != 200 || !strings.HasPrefix(got.Type, "application/pdf") || got.Head != "%PDF-" {
		t.Errorf("the download link %s answers %d %q starting %q, want 200 application/pdf starting %%PDF-", href, got.Status, got.Type, got.Head)
	}
	d := tb.download(t, chromedp.Click(chromedp.CSS(link)))
	checkPDF(t, d, "the landing page's link "+href)
	if len(d.Data) != got.Size {
		t.Errorf("the click saved %d bytes, the fetch got %d", len(d.Data), got.Size)
	}
	tb.mon.check(t, origin(srv), nil)
}

// TestWhitepaperGated signs up from the gated landing page, confirms, and
// downloads the PDF from the confirmed page and from the follow-up email.
func TestWhitepaperGated(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	root := gatedSite(t)
	srv, o := startSite(t, root)
	const address = "ewa.zielinska@example.pl"

	tb.open(t, srv.URL+"/biala-ksiega/", 200)
	if n := eval[int](t, tb, `document.querySelectorAll('a[href$=".pdf"]').length`); n != 0 {
		t.Errorf("the gated landing page links the PDF %d times", n)
	}
	pdfPath := "/biala-ksiega/strategia-przeplywow-pienieznych.pdf"
	if got := fetchInPage(t, tb, pdfPath); got.Status != 404 {
		t.Errorf("gated: %s answers %d, want 404 (the PDF stays out of public/)", pdfPath, got.Status)
	}
	if !eval[bool](t, tb, `document.getElementById('signup-whitepaper-whitepaper').checked`) {
		t.Error("the whitepaper box of the gated form is not ticked")
	}
	signUpWithJS(t, tb, "signup-whitepaper", address, true)
	if s := showSubscriber(t, o, address); !s.WhitepaperRequested {
		t.Errorf("%s signed up from the gated page without the whitepaper request", address)
	}

	confirmFromEmail(t, tb, srv, o, address)
	const offer = `.download-box a.button[href^="/api/whitepaper?token="]`
	if title := text(t, tb, ".download-box h2"); title != webMessage(t, "msgConfirmedWPTitle") {
		t.Errorf("confirmed page's download box title %q, want %q", title, webMessage(t, "msgConfirmedWPTitle"))
	}
	checkPDF(t, tb.download(t, chromedp.Click(chromedp.CSS(offer))), "the confirmed page's download button")

	e := waitEmail(t, tb.ctx, srv, address, "welcome") // the welcome email carries the link
	checkPDF(t, tb.download(t, navigateNoWait(e.link(t, "/api/whitepaper"))), "the whitepaper email's link")

	tb.mon.check(t, origin(srv), anyOf(
		answered(pdfPath, 404),
		// A navigation that turns into a download is aborted as a page load.
		func(f failedRequest) bool {
			return f.Status == 0 && f.Error == "net::ERR_ABORTED" && strings.Contains(f.URL, "/api/whitepaper?token=")
		},
	))
}

// TestUnsubscribe opens the unsubscribe link of an email: the page with
// the button changes nothing, the button unsubscribes.
func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	srv, o := startSite(t, "")
	const address = "piotr.wisniewski@example.pl"

	tb.open(t, srv.URL+"/newsletter/", 200)
	signUpWithJS(t, tb, "signup-page", address, false)
	e := confirmFromEmail(t, tb, srv, o, address)

	link := e.listUnsubscribe(t)
	if footer := e.link(t, "/api/unsubscribe"); footer != link {
		t.Errorf("the email's footer unsubscribe link %s differs from List-Unsubscribe %s", footer, link)
	}
	tb.open(t, link, 200)
	if h1 := text(t, tb, "main h1"); h1 != webMessage(t, "titleUnsubscribe") {
		t.Errorf("unsubscribe page heading %q, want %q", h1, webMessage(t, "titleUnsubscribe"))
	}
	if s := showSubscriber(t, o, address); s.Status != "confirmed" {
		t.Fatalf("opening the unsubscribe link (GET) changed the status to %q; it must change nothing", s.Status)
	}
	res, err := chromedp.RunResponse(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('form.link-action button[type="submit"]').click()`))
	if err != nil || res.Status != 200 {
		t.Fatalf("press the unsubscribe button: %v %v", statusOf(res), err)
	}
	if h1 := text(t, tb, "main h1"); h1 != webMessage(t, "titleUnsubDone") {
		t.Errorf("after the button the heading is %q, want %q", h1, webMessage(t, "titleUnsubDone"))
	}
	if s := showSubscriber(t, o, address); s.Status != "unsubscribed" {
		t.Errorf("after the button %s is %q, want unsubscribed", address, s.Status)
	}
	tb.mon.check(t, origin(srv), nil)
}
