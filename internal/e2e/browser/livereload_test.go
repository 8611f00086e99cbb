package browser

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// waitReloaded waits until cond holds in the tab, across the reloads the
// live reload script does on its own (a poll in a page that navigates
// away fails, and is started again in the new page).
func (tb *tab) waitReloaded(t *testing.T, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(5*time.Second)))
		if err == nil {
			return
		}
		if time.Now().After(deadline) || tb.ctx.Err() != nil {
			t.Fatalf("wait for %s (%s): %v", what, cond, err)
		}
	}
}

// copySite copies the site's sources into a temp folder a test may edit.
func copySite(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	kbproc.CopySite(t, dst)
	return dst
}

// fetch GETs url and returns the status and body.
func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, string(b)
}

// TestLiveReload is the writer's loop in a real browser against
// `kb serve --watch`: a saved edit shows up without a reload by hand, a
// broken front matter replaces the page with the error (file named), and
// fixing it brings the page back by itself. The email preview shows the
// guide's subject and both parts. public/ on disk never has the script.
func TestLiveReload(t *testing.T) {
	requireBrowser(t)
	root := copySite(t)
	pub := filepath.Join(t.TempDir(), "public")
	o := kbproc.Options{Root: root, Data: filepath.Join(t.TempDir(), "data"), Env: map[string]string{"KB_SECRET": testSecret}}
	srv := kbproc.Start(t, o, "--watch", "--out", pub)
	const slug = "rozmowa-o-zaleglej-fakturze"
	const rel = "content/poradniki/" + slug + ".md"
	file := filepath.Join(root, filepath.FromSlash(rel))
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tb := newTab(t, tabOptions{})
	tb.open(t, srv.URL+"/poradniki/"+slug+"/", 200)
	tb.waitJS(t, "the live reload stream", `document.documentElement.getAttribute('data-kb-livereload') === 'open'`)
	// A mark only this page load has: it is gone once the page reloads.
	eval[bool](t, tb, `window.kbMark = true`)

	const added = "Ten akapit dopisał test przeładowania."
	write(string(orig) + "\n" + added + "\n")
	tb.waitReloaded(t, "the edit without a manual reload", `document.body.innerText.includes(`+jsString(added)+`)`)
	if eval[bool](t, tb, `window.kbMark === true`) {
		t.Error("the page changed without reloading: the mark of the old load is still there")
	}

	// Break the front matter: the page becomes the error, naming the file.
	write(strings.Replace(string(orig), "---\n", "---\ntitle: [\"niedomknięta lista\n", 1))
	tb.waitReloaded(t, "the error page", `document.querySelector('h1') && document.querySelector('h1').textContent === 'Nie udało się zbudować strony' && document.body.innerText.includes(`+jsString(rel)+`)`)
	audit(t, tb, "build error page")
	screenshot(t, tb, "dev-build-error", desktopWidth)

	// Fix it: the page comes back by itself.
	write(string(orig) + "\n" + added + "\n")
	tb.waitReloaded(t, "the page after the fix", `document.querySelector('h1') && document.querySelector('h1').textContent.includes('Rozmowa o zaległej fakturze') && document.body.innerText.includes(`+jsString(added)+`)`)

	if n := strings.Count(srv.Logs(), "rebuild failed"); n != 1 {
		t.Errorf("the failed rebuild was logged %d times, want once:\n%s", n, srv.Logs())
	}
	onDisk, err := os.ReadFile(filepath.Join(pub, "poradniki", slug, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(onDisk), added) || strings.Contains(string(onDisk), "__livereload") {
		t.Error("public/ must have the edit and never the live reload script")
	}

	// The email preview: subject, the HTML part in its frame, the text part.
	tb.open(t, srv.URL+"/__preview/email/"+slug, 200)
	tb.waitJS(t, "the email in its frame", `(() => { const f = document.querySelector('iframe'); return f && f.contentDocument && f.contentDocument.body && f.contentDocument.body.innerText.includes('Pan Krzysztof prowadzi warsztat'); })()`)
	if got := eval[string](t, tb, `document.querySelector('.kb-dev-subject').textContent`); got != "Klient nie płaci od trzech miesięcy? Tak poprowadź rozmowę" {
		t.Errorf("preview subject %q", got)
	}
	tb.open(t, srv.URL+"/__preview/email/"+slug+"?part=text", 200)
	if txt := eval[string](t, tb, `document.querySelector('pre.kb-dev-text').textContent`); !strings.Contains(txt, "Pan Krzysztof prowadzi warsztat") || !strings.Contains(txt, "przykladowy-link/wypisz") {
		t.Errorf("text part:\n%s", txt)
	}
	tb.open(t, srv.URL+"/__preview/email/nie-ma-takiego", 404)
}

// TestDraftsServe: `kb serve --drafts` shows a draft and a future guide,
// marked "Szkic", without writing them into --out; `kb build` leaves them
// out and `kb send` plans no campaign for them. Without --watch none of
// the writer's tools exist.
func TestDraftsServe(t *testing.T) {
	requireBrowser(t)
	root := copySite(t)
	for name, fm := range map[string]string{
		"e2e-szkic.md":    "draft: true\ndate: 2026-12-01",
		"e2e-przyszly.md": "date: 2099-01-15",
	} {
		body := "---\ntitle: \"Poradnik z testu szkiców\"\ndescription: \"Szkic, którego nikt poza autorem nie powinien zobaczyć przed publikacją, ani na stronie, ani w e-mailu.\"\n" +
			fm + "\nreviewed: 2026-12-01\ntags: [\"należności\"]\n---\n\nTreść szkicu.\n"
		if err := os.WriteFile(filepath.Join(root, "content", "poradniki", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pub := filepath.Join(t.TempDir(), "public")
	o := kbproc.Options{Root: root, Data: filepath.Join(t.TempDir(), "data"), Env: map[string]string{"KB_SECRET": testSecret}}
	srv := kbproc.Start(t, o, "--drafts", "--out", pub)

	tb := newTab(t, tabOptions{})
	for _, slug := range []string{"e2e-szkic", "e2e-przyszly"} {
		tb.open(t, srv.URL+"/poradniki/"+slug+"/", 200)
		badge := eval[string](t, tb, `(() => { const b = document.querySelector('.article-header .draft-badge'); if (!b) return ''; const r = b.getBoundingClientRect(); return r.width > 0 && getComputedStyle(b).backgroundColor !== 'rgba(0, 0, 0, 0)' ? b.textContent : 'invisible'; })()`)
		if badge != "Szkic" {
			t.Errorf("%s: badge %q, want a visible Szkic", slug, badge)
		}
	}
	tb.open(t, srv.URL+"/poradniki/", 200)
	if n := eval[int](t, tb, `document.querySelectorAll('.card .draft-badge').length`); n != 2 {
		t.Errorf("%d cards marked Szkic, want 2", n)
	}
	audit(t, tb, "guide list with drafts")
	if _, err := os.Stat(filepath.Join(pub, "poradniki", "e2e-szkic")); !os.IsNotExist(err) {
		t.Errorf("kb serve --drafts wrote the draft into --out (stat: %v)", err)
	}

	// kb build and kb send, on the same sources.
	kbproc.MustRun(t, o, "build", "--out", pub)
	for _, slug := range []string{"e2e-szkic", "e2e-przyszly"} {
		if _, err := os.Stat(filepath.Join(pub, "poradniki", slug)); !os.IsNotExist(err) {
			t.Errorf("kb build published %s (stat: %v)", slug, err)
		}
	}
	out := kbproc.MustRun(t, o, "send", "--dry-run", "--json", "--out", pub)
	var plan []struct{ Slug string }
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("kb send --dry-run --json: %v\n%s", err, out)
	}
	var slugs []string
	for _, p := range plan {
		slugs = append(slugs, p.Slug)
	}
	joined := "," + strings.Join(slugs, ",") + ","
	if !strings.Contains(joined, ",ulga-na-zle-dlugi,") {
		t.Fatalf("the plan lacks a due published guide, so it proves nothing: %v", slugs)
	}
	if strings.Contains(joined, ",e2e-") {
		t.Errorf("kb send plans a campaign for a draft or a future guide: %v", slugs)
	}

	// Without --watch: no live reload, no preview, no script.
	plain := kbproc.Start(t, kbproc.Options{Root: root, Data: filepath.Join(t.TempDir(), "data"), Env: map[string]string{"KB_SECRET": testSecret}})
	for _, p := range []string{"/__livereload", "/__livereload.js", "/__preview/email/"} {
		if code, _ := fetch(t, plain.URL+p); code != http.StatusNotFound {
			t.Errorf("%s without --watch: %d, want 404", p, code)
		}
	}
	if _, page := fetch(t, plain.URL+"/poradniki/ulga-na-zle-dlugi/"); strings.Contains(page, "__livereload") || strings.Contains(page, "draft-badge") {
		t.Error("a page without --watch has the live reload script or a draft badge")
	}
}
