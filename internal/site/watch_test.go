package site

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type buildReport struct {
	res *Result
	err error
}

func TestWatch(t *testing.T) {
	root := newFixture(t)
	out := filepath.Join(t.TempDir(), "public")
	opts := Options{Root: root, PublishDir: out, Logger: testLogger(t)}
	if _, err := Build(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	w, err := newWatcher(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	ctx, cancel := context.WithCancel(context.Background())
	builds := make(chan buildReport, 16)
	stopped := make(chan error, 1)
	go func() {
		rebuild := func(ctx context.Context) (*Result, error) { return Build(ctx, opts) }
		stopped <- w.run(ctx, rebuild, func(res *Result, err error) { builds <- buildReport{res, err} })
	}()

	// next waits for the first build that satisfies ok; builds that came
	// from an earlier part of a burst are skipped.
	next := func(what string, ok func(buildReport) bool) buildReport {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case b := <-builds:
				if ok(b) {
					return b
				}
			case <-deadline:
				t.Fatalf("no rebuild: %s", what)
			}
		}
	}
	hasGuide := func(b buildReport, slug, title string) bool {
		if b.err != nil || b.res == nil {
			return false
		}
		for _, g := range b.res.Guides {
			if g.Slug == slug && (title == "" || g.Title == title) {
				return true
			}
		}
		return false
	}

	guide := filepath.Join(root, "content/poradniki/podwyzka.md")
	src := readFile(t, guide)
	writeFile(t, guide, strings.Replace(src, `title: "Podwyżka honorarium"`, `title: "Podwyżka – nowy tytuł"`, 1))
	next("edited guide", func(b buildReport) bool { return hasGuide(b, "podwyzka", "Podwyżka – nowy tytuł") })
	if !strings.Contains(readFile(t, filepath.Join(out, "poradniki/podwyzka/index.html")), "Podwyżka – nowy tytuł") {
		t.Error("published page was not updated")
	}

	// A new sub-folder is watched too.
	bundle := filepath.Join(root, "content/poradniki/nowy")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	page := "---\ntitle: \"Nowy\"\ndescription: \"Nowy poradnik.\"\ndate: 2026-11-01\n---\n\nTreść nowego poradnika o płynności.\n"
	writeFile(t, filepath.Join(bundle, "index.md"), page)
	next("new guide in a new folder", func(b buildReport) bool { return hasGuide(b, "nowy", "Nowy") })
	writeFile(t, filepath.Join(bundle, "index.md"), strings.Replace(page, `"Nowy"`, `"Nowszy"`, 1))
	next("edit inside the new folder", func(b buildReport) bool { return hasGuide(b, "nowy", "Nowszy") })

	// A broken guide fails the rebuild, keeps the site, and watching goes on.
	writeFile(t, guide, "---\ntitle: \"bez końca\n---\n")
	failed := next("broken front matter", func(b buildReport) bool { return b.err != nil })
	if !strings.Contains(failed.err.Error(), "content/poradniki/podwyzka.md") {
		t.Errorf("error does not name the file: %v", failed.err)
	}
	if !strings.Contains(readFile(t, filepath.Join(out, "poradniki/podwyzka/index.html")), "Podwyżka – nowy tytuł") {
		t.Error("failed rebuild changed the published site")
	}
	writeFile(t, guide, src)
	next("fixed guide", func(b buildReport) bool { return hasGuide(b, "podwyzka", "Podwyżka honorarium") })

	// config.toml is watched.
	cfg := filepath.Join(root, "config.toml")
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), `title = "Saldo · Wiedza`, `title = "Zmienione · Wiedza`, 1))
	next("config change", func(b buildReport) bool {
		return b.err == nil && strings.Contains(readFile(t, filepath.Join(out, "index.html")), "Zmienione · Wiedza")
	})

	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop")
	}
}
