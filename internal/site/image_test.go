package site

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html/atom"

	"github.com/kbpress/kb/internal/guide"
)

const imageGuideFront = `---
title: "Saldo na wykresie"
description: "Jak czytać wykres salda rachunku."
date: 2026-09-20
tags: ["honorarium"]
---

`

// writeImage writes a w×h picture (stripes, so that it does not compress
// to nothing) as PNG or JPEG, chosen by the file's extension.
func writeImage(t testing.TB, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8((x + y) * 3), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	switch filepath.Ext(path) {
	case ".png":
		err = png.Encode(&buf, img)
	case ".jpg":
		err = jpeg.Encode(&buf, img, nil)
		// A comment segment after SOI stands for what a camera writes
		// (EXIF, GPS position): no published file may carry it.
		if err == nil {
			raw := buf.Bytes()
			seg := append([]byte{0xFF, 0xFE, 0, byte(2 + len(cameraMarker))}, cameraMarker...)
			buf = *bytes.NewBuffer(append(append(append([]byte{}, raw[:2]...), seg...), raw[2:]...))
		}
	default:
		buf.WriteString("GIF89a") // a name only; Hugo reads the type from it
	}
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.String())
}

// imageFixture is the fixture site with one guide bundle holding a wide
// PNG (1000×500), a small JPEG (400×300) and a static picture.
func imageFixture(t testing.TB) string {
	t.Helper()
	root := newFixture(t)
	dir := filepath.Join(root, "content", GuidesSection, "wykres-salda")
	writeFile(t, filepath.Join(dir, "index.md"), imageGuideFront+
		"Saldo rachunku w pierwszym półroczu:\n\n![Saldo rachunku od stycznia do czerwca](wykres.png)\n\n"+
		"Zdjęcie faktury, na które warto spojrzeć. ![Faktura z zaznaczonym terminem płatności](zdjecie.jpg \"Termin\")\n\n"+
		"![](/obrazy/logo.png)\n")
	writeImage(t, filepath.Join(dir, "wykres.png"), 1000, 500)
	writeImage(t, filepath.Join(dir, "zdjecie.jpg"), 400, 300)
	writeImage(t, filepath.Join(root, "static", "obrazy", "logo.png"), 800, 200)
	return root
}

// cameraMarker is in every JPEG writeImage makes, as a camera's metadata
// would be.
const cameraMarker = "GPS 52.2297N 21.0122E"

// srcsetWidths are the w descriptors of a srcset, in order.
func srcsetWidths(srcset string) []int {
	var out []int
	for _, part := range strings.Split(srcset, ",") {
		f := strings.Fields(part)
		if len(f) == 2 {
			n, _ := strconv.Atoi(strings.TrimSuffix(f[1], "w"))
			out = append(out, n)
		}
	}
	return out
}

// TestImageBundle builds a guide bundle with pictures and checks the page,
// the published files, the guide's email images and LoadGuides.
func TestImageBundle(t *testing.T) {
	const baseURL = "https://wiedza.test/"
	root := imageFixture(t)
	out := filepath.Join(t.TempDir(), "public")
	res, err := Build(context.Background(), Options{Root: root, PublishDir: out, BaseURL: baseURL, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var g guide.Guide
	for _, c := range res.Guides {
		if c.Slug == "wykres-salda" {
			g = c
		}
	}
	if g.SourcePath != "content/poradniki/wykres-salda/index.md" || g.OutputPath != "poradniki/wykres-salda/index.html" ||
		g.Permalink != baseURL+"poradniki/wykres-salda/" {
		t.Fatalf("bundle guide: slug %q source %q output %q permalink %q", g.Slug, g.SourcePath, g.OutputPath, g.Permalink)
	}
	if !strings.Contains(g.Markdown, "](wykres.png)") {
		t.Errorf("Markdown is not the raw body: %q", g.Markdown)
	}

	s := loadBuiltSite(t, out, baseURL)
	t.Run("links", s.checkLinks) // every src and srcset entry was published
	p := s.pages[g.OutputPath]
	if p == nil {
		t.Fatalf("no page %s", g.OutputPath)
	}
	imgs := find(p.doc, byTag(atom.Img))
	if len(imgs) != 3 {
		t.Fatalf("%d <img> on the page, want 3", len(imgs))
	}

	t.Run("picture", func(t *testing.T) {
		cases := []struct {
			i             int
			alt, w, h     string
			widths        []int
			ext           string
			lazy, picture bool
		}{
			{0, "Saldo rachunku od stycznia do czerwca", "1000", "500", []int{480, 800, 1000}, ".png", false, true},
			{1, "Faktura z zaznaczonym terminem płatności", "400", "300", []int{400}, ".jpg", true, true},
			{2, "", "800", "200", nil, ".png", true, false},
		}
		for _, c := range cases {
			img := imgs[c.i]
			get := func(k string) string { v, _ := attr(img, k); return v }
			if alt, ok := attr(img, "alt"); !ok || alt != c.alt {
				t.Errorf("img %d: alt %q (present %v), want %q", c.i, alt, ok, c.alt)
			}
			if get("width") != c.w || get("height") != c.h {
				t.Errorf("img %d: %sx%s, want %sx%s", c.i, get("width"), get("height"), c.w, c.h)
			}
			if lazy := get("loading") == "lazy" && get("decoding") == "async"; lazy != c.lazy {
				t.Errorf("img %d: loading=%q decoding=%q, want lazy %v", c.i, get("loading"), get("decoding"), c.lazy)
			}
			if !c.lazy && get("loading") != "" {
				t.Errorf("img %d: the first picture must load at once, has loading=%q", c.i, get("loading"))
			}
			if !strings.HasSuffix(get("src"), c.ext) {
				t.Errorf("img %d: src %q is not %s", c.i, get("src"), c.ext)
			}
			inPicture := img.Parent != nil && img.Parent.DataAtom == atom.Picture
			if inPicture != c.picture {
				t.Fatalf("img %d: in <picture> %v, want %v", c.i, inPicture, c.picture)
			}
			if !c.picture {
				continue
			}
			if got := srcsetWidths(get("srcset")); !slices.Equal(got, c.widths) {
				t.Errorf("img %d: srcset widths %v, want %v (%q)", c.i, got, c.widths, get("srcset"))
			}
			if !strings.Contains(get("sizes"), "rem") {
				t.Errorf("img %d: sizes %q", c.i, get("sizes"))
			}
			sources := find(img.Parent, byTag(atom.Source))
			if len(sources) != 1 {
				t.Fatalf("img %d: %d <source>", c.i, len(sources))
			}
			typ, _ := attr(sources[0], "type")
			set, _ := attr(sources[0], "srcset")
			if typ != "image/webp" || !slices.Equal(srcsetWidths(set), c.widths) || !strings.Contains(set, ".webp ") {
				t.Errorf("img %d: source type %q srcset %q", c.i, typ, set)
			}
			// The versions really have the widths the srcset claims.
			for _, part := range strings.Split(set+","+get("srcset"), ",") {
				f := strings.Fields(part)
				cfg := decodeConfig(t, filepath.Join(out, filepath.FromSlash(strings.TrimPrefix(f[0], "/"))))
				if strconv.Itoa(cfg.Width)+"w" != f[1] {
					t.Errorf("img %d: %s is %d px wide", c.i, f[0], cfg.Width)
				}
			}
		}
	})

	want := map[string]struct {
		w, h int
		ext  string
	}{
		"wykres.png":       {600, 300, ".png"},
		"zdjecie.jpg":      {400, 300, ".jpg"},
		"/obrazy/logo.png": {600, 150, ".png"},
	}
	t.Run("email images", func(t *testing.T) {
		if got := slices.Sorted(maps.Keys(g.Images)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("Images has %v", got)
		}
		for dest, w := range want {
			im := g.Images[dest]
			if im.Width != w.w || im.Height != w.h || !strings.HasPrefix(im.URL, baseURL) || !strings.HasSuffix(im.URL, w.ext) ||
				!strings.HasPrefix(im.Link, baseURL) {
				t.Errorf("%s: %+v, want %dx%d %s under %s", dest, im, w.w, w.h, w.ext, baseURL)
				continue
			}
			file := filepath.Join(out, filepath.FromSlash(strings.TrimPrefix(im.URL, baseURL)))
			cfg := decodeConfig(t, file)
			if dest != "/obrazy/logo.png" && cfg.Width != w.w {
				t.Errorf("%s: the email version %s is %d px wide, want %d", dest, im.URL, cfg.Width, w.w)
			}
		}
	})

	t.Run("originals unpublished", func(t *testing.T) {
		// Hugo publishes a bundle's files as they are unless told not to
		// (config.toml's cascade): the originals carry camera metadata.
		for _, name := range []string{"wykres.png", "zdjecie.jpg"} {
			if _, err := os.Stat(filepath.Join(out, "poradniki", "wykres-salda", name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the original %s was published (%v)", name, err)
			}
		}
		for _, f := range mustListFiles(t, out) {
			raw, err := os.ReadFile(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(cameraMarker)) {
				t.Errorf("%s carries the camera's metadata", f)
			}
		}
	})

	t.Run("LoadGuides", func(t *testing.T) {
		before := mustListFiles(t, out)
		gs, err := LoadGuides(context.Background(), Options{Root: root, PublishDir: out, BaseURL: baseURL, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(gs, func(x guide.Guide) bool { return x.Slug == g.Slug })
		if i < 0 || !maps.Equal(gs[i].Images, g.Images) {
			t.Errorf("LoadGuides images %+v, Build %+v", gs, g.Images)
		}
		if after := mustListFiles(t, out); !slices.Equal(before, after) {
			t.Errorf("LoadGuides wrote into the publish dir: %d files before, %d after", len(before), len(after))
		}
	})
}

func decodeConfig(t *testing.T, file string) image.Config {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("published file: %v", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil && filepath.Ext(file) != ".webp" {
		t.Fatalf("%s: %v", file, err)
	}
	if filepath.Ext(file) == ".webp" {
		cfg = webpConfig(t, file)
	}
	return cfg
}

// webpConfig reads a WebP file's size from its VP8/VP8L/VP8X header (the
// standard library has no WebP decoder).
func webpConfig(t *testing.T, file string) image.Config {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		t.Fatalf("%s: not a WebP file (%v)", file, err)
	}
	switch string(b[12:16]) {
	case "VP8 ":
		return image.Config{Width: int(b[26]) | int(b[27]&0x3f)<<8, Height: int(b[28]) | int(b[29]&0x3f)<<8}
	case "VP8L":
		bits := uint32(b[21]) | uint32(b[22])<<8 | uint32(b[23])<<16 | uint32(b[24])<<24
		return image.Config{Width: int(bits&0x3fff) + 1, Height: int(bits>>14&0x3fff) + 1}
	case "VP8X":
		return image.Config{Width: 1 + (int(b[24]) | int(b[25])<<8 | int(b[26])<<16), Height: 1 + (int(b[27]) | int(b[28])<<8 | int(b[29])<<16)}
	}
	t.Fatalf("%s: unknown WebP chunk %q", file, b[12:16])
	return image.Config{}
}

func mustListFiles(t *testing.T, dir string) []string {
	t.Helper()
	out, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImageErrors: a picture the site cannot show fails the build, naming
// the guide's file and the picture.
func TestImageErrors(t *testing.T) {
	cases := []struct {
		name, file, body string
		extra            []string // files written next to it
		want             *regexp.Regexp
	}{
		{"missing in bundle", "wykres/index.md", "![Wykres](brak.png)", nil, regexp.MustCompile(`brak\.png.*no file brak\.png next to the guide`)},
		{"not a bundle", "pojedynczy.md", "![Wykres](wykres.png)", nil, regexp.MustCompile(`wykres\.png.*a guide with pictures is a folder`)},
		{"remote", "zdalny/index.md", "![Wykres](https://example.com/wykres.png)", nil, regexp.MustCompile(`example\.com/wykres\.png: remote images are not allowed`)},
		{"missing static", "statyczny/index.md", "![Logo](/obrazy/nie-ma.png)", nil, regexp.MustCompile(`no such file static/obrazy/nie-ma\.png`)},
		{"not a picture format", "gif/index.md", "![Animacja](ruch.gif)", []string{"ruch.gif"}, regexp.MustCompile(`ruch\.gif.*use a JPEG, PNG or WebP file`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := newFixture(t)
			path := filepath.Join(root, "content", GuidesSection, filepath.FromSlash(c.file))
			writeFile(t, path, imageGuideFront+"Tekst poradnika.\n\n"+c.body+"\n")
			for _, f := range c.extra {
				writeImage(t, filepath.Join(filepath.Dir(path), f), 10, 10)
			}
			opts := Options{Root: root, PublishDir: filepath.Join(t.TempDir(), "public")}
			_, buildErr := Build(context.Background(), opts)
			_, loadErr := LoadGuides(context.Background(), opts) // kb send renders the guides too
			for what, err := range map[string]error{"Build": buildErr, "LoadGuides": loadErr} {
				var be *BuildError
				if !errors.As(err, &be) {
					t.Fatalf("%s: %v, want a BuildError", what, err)
				}
				if be.File != "content/"+GuidesSection+"/"+c.file || !c.want.MatchString(be.Msg) {
					t.Errorf("%s: error %q (file %q, message %q), want file content/%s/%s and %s", what, err, be.File, be.Msg, GuidesSection, c.file, c.want)
				}
				if strings.Contains(err.Error(), root) {
					t.Errorf("%s: error names the absolute path: %v", what, err)
				}
			}
		})
	}
}
