package browser

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

const imageGuideSlug = "saldo-na-wykresie"

// imageSite copies the site sources into a temp folder and adds a guide
// bundle with two pictures: a chart at the top (loaded at once) and a
// second one further down (lazy).
func imageSite(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	kbproc.CopySite(t, dst)
	bundle := filepath.Join(dst, "content", "poradniki", imageGuideSlug)
	var para strings.Builder
	for range 8 {
		para.WriteString("Saldo rachunku firmy zmienia się z miesiąca na miesiąc: wpływy od klientów przychodzą później niż płatności dla dostawców, a podatki i składki mają stałe terminy. Warto to zobaczyć na jednym obrazku, zanim zacznie się rozmowę z klientem o jego płynności.\n\n")
	}
	files := map[string][]byte{
		filepath.Join(bundle, "index.md"): []byte(`---
title: "Saldo rachunku na wykresie"
description: "Jak czytać wykres salda rachunku firmy w półroczu i co z niego wynika dla rozmowy z klientem o terminach płatności i rezerwie."
date: 2026-01-05
reviewed: 2026-01-05
tags: ["należności"]
---

Saldo rachunku w pierwszym półroczu:

![Słupki salda rachunku od stycznia do czerwca: najniższe w marcu, najwyższe w czerwcu](saldo.png)

` + para.String() + `![Słupki wpływów i wydatków w drugim kwartale](przeplywy.png)
`),
		filepath.Join(bundle, "saldo.png"):     barChart(t, 1600, 800, []int{5, 3, 1, 4, 6, 8}),
		filepath.Join(bundle, "przeplywy.png"): barChart(t, 900, 450, []int{6, 4, 7}),
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// barChart draws navy bars on white, one per value (0–10), as a PNG.
func barChart(t *testing.T, w, h int, values []int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	navy := image.NewUniform(color.RGBA{0x12, 0x36, 0x5c, 0xff})
	slot := w / len(values)
	for i, v := range values {
		top := h - h*v/10
		draw.Draw(img, image.Rect(i*slot+slot/5, top, (i+1)*slot-slot/5, h), navy, image.Point{}, draw.Src)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGuideImages opens a guide with pictures: the browser picks the WebP
// version that fits the column, the pictures keep their space, nothing
// fails to load, and the page passes the axe audit and the phone layout
// checks. The guide's email (kb preview, read as kb send reads the guides)
// points at versions of at most 600 px that the site really serves.
func TestGuideImages(t *testing.T) {
	t.Parallel()
	tb := newTab(t, tabOptions{})
	site := imageSite(t)
	srv, o := startSite(t, site)
	axeSource(t)

	tb.open(t, srv.URL+"/poradniki/"+imageGuideSlug+"/", 200)
	tb.waitJS(t, "the first picture", `(() => { const i = document.querySelector('.prose picture img'); return i.complete && i.naturalWidth > 0; })()`)
	type shown struct {
		Current, Want string
		Width, Height float64
		Ratio         float64
		Loading       string
	}
	// At 1280 px the column is about 42rem (the sizes attribute): the
	// 800 px WebP, not the 1200 px one.
	first := eval[shown](t, tb, `(() => {
		const img = document.querySelector('.prose picture img');
		const set = img.parentElement.querySelector('source').srcset.split(',').map(s => s.trim().split(/\s+/));
		const want = set.find(([, w]) => w === '800w');
		const r = img.getBoundingClientRect();
		return {current: new URL(img.currentSrc).pathname, want: want ? want[0] : '', width: r.width, height: r.height,
			ratio: img.width / img.height, loading: img.getAttribute('loading') || ''};
	})()`)
	t.Logf("first picture: %+v", first)
	if first.Want == "" || first.Current != first.Want || !strings.HasSuffix(first.Current, ".webp") {
		t.Errorf("the browser shows %s, want the 800 px WebP %s", first.Current, first.Want)
	}
	if first.Width > 42*16*1.05 || first.Width < 42*16*0.6 {
		t.Errorf("the picture is %.0f px wide: the sizes attribute (42rem = 672 px) is off", first.Width)
	}
	if d := first.Width/first.Height - 2; d > 0.01 || d < -0.01 || first.Loading != "" {
		t.Errorf("first picture %.0f×%.0f (want 2:1), loading %q (want eager)", first.Width, first.Height, first.Loading)
	}

	// The second picture waits for the reader; scrolled to, it loads.
	eval[bool](t, tb, `(document.querySelectorAll('.prose picture img')[1].scrollIntoView(), true)`)
	tb.waitJS(t, "the second picture", `(() => { const i = document.querySelectorAll('.prose picture img')[1]; return i.loading === 'lazy' && i.complete && i.naturalWidth > 0; })()`)

	inspect(t, tb, "guide-images")
	tb.mon.check(t, origin(srv), nil)

	t.Run("email", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "preview")
		stdout, stderr, err := kbproc.Run(t, o, "preview", imageGuideSlug, "--dir", dir, "--base-url", srv.URL+"/")
		if err != nil {
			t.Fatalf("kb preview: %v\n%s", err, stderr)
		}
		htmlFile := strings.Fields(stdout)[0]
		raw, err := os.ReadFile(htmlFile)
		if err != nil {
			t.Fatal(err)
		}
		imgs := regexp.MustCompile(`<img [^>]*>`).FindAllString(string(raw), -1)
		if len(imgs) != 2 {
			t.Fatalf("%d <img> in the email, want 2:\n%s", len(imgs), imgs)
		}
		srcRe := regexp.MustCompile(`src="([^"]+)"`)
		for _, tag := range imgs {
			if !strings.Contains(tag, `alt="Słupki`) || !regexp.MustCompile(`width="([1-5]\d\d|600)"`).MatchString(tag) {
				t.Errorf("email picture lacks alt text or a width up to 600: %s", tag)
			}
			src := srcRe.FindStringSubmatch(tag)[1]
			if !strings.HasPrefix(src, srv.URL+"/poradniki/"+imageGuideSlug+"/") || !strings.HasSuffix(src, ".png") {
				t.Errorf("email picture %s is not a PNG of the guide on the site", src)
				continue
			}
			cfg := fetchImage(t, src)
			if cfg.Width > 600 {
				t.Errorf("%s is %d px wide", src, cfg.Width)
			}
		}
	})
}

// fetchImage downloads a picture from the site and reads its size.
func fetchImage(t *testing.T, u string) image.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, res.Status)
	}
	cfg, _, err := image.DecodeConfig(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return cfg
}
