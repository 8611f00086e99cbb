package precompress

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

func write(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(dir, rel string) bool {
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
	return err == nil
}

// Decode reads a sibling back.
func decode(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader
	switch {
	case strings.HasSuffix(path, ".br"):
		r = brotli.NewReader(bytes.NewReader(raw))
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return out
}

func page(n int) []byte {
	return []byte("<!DOCTYPE html><title>Poradnik</title>" + strings.Repeat("<p>Rozmowa o zaległej fakturze krok po kroku.</p>\n", n))
}

func TestDirWritesSiblings(t *testing.T) {
	dir := t.TempDir()
	noise := make([]byte, 4096)
	_, _ = rand.Read(noise)
	files := map[string][]byte{
		"index.html":            page(100),
		"css/main.min.css":      bytes.Repeat([]byte("body{color:#123;margin:0 auto}"), 100),
		"search-index.json":     bytes.Repeat([]byte(`{"t":"Faktura","u":"/poradniki/x/"},`), 100),
		"index.xml":             bytes.Repeat([]byte("<item><title>Faktura</title></item>"), 100),
		"small.html":            []byte("<!DOCTYPE html><p>mała</p>"),
		"noise.json":            noise, // compresses to more than itself
		"logo.png":              bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 1000),
		".kb-manifest.json":     bytes.Repeat([]byte(`"x",`), 1000),
		"pliki/archiwum.tar.gz": []byte("a download of the site's own"),
	}
	for rel, data := range files {
		write(t, dir, rel, data)
	}
	st, err := Dir(dir, Options{BrotliLevel: 5, PageBrotliLevel: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rel      string
		siblings bool
	}{
		{"index.html", true},
		{"css/main.min.css", true},
		{"search-index.json", true},
		{"index.xml", true},
		{"small.html", false},
		{"noise.json", false},
		{"logo.png", false},
		{".kb-manifest.json", false},
	} {
		for _, suffix := range []string{".br", ".gz"} {
			if got := exists(dir, tt.rel+suffix); got != tt.siblings {
				t.Errorf("%s%s exists: %v, want %v", tt.rel, suffix, got, tt.siblings)
				continue
			}
			if !tt.siblings {
				continue
			}
			if got := decode(t, filepath.Join(dir, tt.rel+suffix)); !bytes.Equal(got, files[tt.rel]) {
				t.Errorf("%s%s does not decode to its source", tt.rel, suffix)
			}
			src, _ := os.Stat(filepath.Join(dir, tt.rel))
			sib, _ := os.Stat(filepath.Join(dir, tt.rel+suffix))
			if !sib.ModTime().Equal(src.ModTime()) {
				t.Errorf("%s%s mtime %v, want the source's %v", tt.rel, suffix, sib.ModTime(), src.ModTime())
			}
			if sib.Size() >= src.Size() {
				t.Errorf("%s%s is %d bytes, not smaller than %d", tt.rel, suffix, sib.Size(), src.Size())
			}
		}
	}
	if !exists(dir, "pliki/archiwum.tar.gz") {
		t.Error("the site's own .gz download was removed")
	}
	if st.Files != 5 || st.Written != 8 || st.Kept != 0 {
		t.Errorf("stats %+v, want 5 files (4 compressible + noise), 8 written", st)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".*.tmp-*"))
	top, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(leftovers)+len(top) != 0 {
		t.Errorf("temp files left: %v %v", leftovers, top)
	}
}

// A rebuild rewrites every file; the siblings of unchanged ones are kept
// (with the source's new mtime), those of changed ones rewritten, those of
// removed or shrunk ones removed.
func TestDirAfterRebuild(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a/index.html", page(100))
	write(t, dir, "b/index.html", page(100))
	write(t, dir, "c/index.html", page(100))
	write(t, dir, "d/index.html", page(100))
	write(t, dir, "pliki/archiwum.tar.gz", []byte("kept"))
	if _, err := Dir(dir, Options{BrotliLevel: 5, PageBrotliLevel: 5}); err != nil {
		t.Fatal(err)
	}
	brBefore, _ := os.Stat(filepath.Join(dir, "a/index.html.br"))

	// The rebuild, a second later: a unchanged but rewritten, b changed,
	// c removed, d shrunk below MinSize.
	later := time.Now().Add(time.Second)
	write(t, dir, "a/index.html", page(100))
	changed := page(120)
	write(t, dir, "b/index.html", changed)
	if err := os.Remove(filepath.Join(dir, "c/index.html")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "d/index.html", []byte("<p>krótko</p>"))
	for _, rel := range []string{"a/index.html", "b/index.html", "d/index.html"} {
		_ = os.Chtimes(filepath.Join(dir, rel), later, later)
	}

	st, err := Dir(dir, Options{BrotliLevel: 5, PageBrotliLevel: 5})
	if err != nil {
		t.Fatal(err)
	}
	if st.Kept != 1 || st.Written != 2 || st.Removed != 4 {
		t.Errorf("stats %+v, want 1 kept (a), 2 written (b), 4 removed (c, d)", st)
	}
	brAfter, _ := os.Stat(filepath.Join(dir, "a/index.html.br"))
	if !os.SameFile(brBefore, brAfter) {
		t.Error("a's unchanged sibling was written again")
	}
	if !brAfter.ModTime().Equal(later) {
		t.Errorf("a's sibling mtime %v, want its rewritten source's %v", brAfter.ModTime(), later)
	}
	for _, suffix := range []string{".br", ".gz"} {
		if got := decode(t, filepath.Join(dir, "b/index.html"+suffix)); !bytes.Equal(got, changed) {
			t.Errorf("b/index.html%s is stale after its source changed", suffix)
		}
		for _, gone := range []string{"c/index.html", "d/index.html"} {
			if exists(dir, gone+suffix) {
				t.Errorf("%s%s survived", gone, suffix)
			}
		}
	}
	if !exists(dir, "pliki/archiwum.tar.gz") {
		t.Error("the site's own .gz download was removed")
	}

	// A sibling deleted by hand is written again.
	if err := os.Remove(filepath.Join(dir, "a/index.html.gz")); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(dir, Options{BrotliLevel: 5, PageBrotliLevel: 5}); err != nil {
		t.Fatal(err)
	}
	if !exists(dir, "a/index.html.gz") {
		t.Error("a missing sibling was not written again")
	}
}

func TestSiblingSource(t *testing.T) {
	for _, tt := range []struct {
		name, src, enc string
		ok             bool
	}{
		{"css/x.css.br", "css/x.css", Brotli, true},
		{"index.html.gz", "index.html", Gzip, true},
		{"archiwum.tar.gz", "archiwum.tar", Gzip, false},
		{"index.html", "", "", false},
	} {
		src, enc, ok := SiblingSource(tt.name)
		if ok != tt.ok || (ok && (src != tt.src || enc != tt.enc)) {
			t.Errorf("SiblingSource(%q) = %q, %q, %v", tt.name, src, enc, ok)
		}
	}
}
