package site

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbpress/kb/internal/guide"
)

// TestDraftsStayUnpublished: the fixture's draft (szkic.md) and future
// guide (przyszly.md) are never in a default build's publish dir nor in
// the guides kb send reads (LoadGuides), and appear, marked "Szkic", only
// in a Drafts build — which leaves the default publish dir alone.
func TestDraftsStayUnpublished(t *testing.T) {
	root := newFixture(t)
	ctx := context.Background()
	unpublished := []string{"szkic", "przyszly"}
	has := func(guides []guide.Guide, slug string) bool {
		for _, g := range guides {
			if g.Slug == slug {
				return true
			}
		}
		return false
	}
	public := filepath.Join(t.TempDir(), "public")
	opts := Options{Root: root, PublishDir: public, BaseURL: "http://localhost:8080/", Logger: testLogger(t)}
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadGuides(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, slug := range unpublished {
		if has(res.Guides, slug) || has(loaded, slug) {
			t.Errorf("%s is among the published guides (Build %v, LoadGuides %v)", slug, has(res.Guides, slug), has(loaded, slug))
		}
		if _, err := os.Stat(filepath.Join(public, "poradniki", slug)); !os.IsNotExist(err) {
			t.Errorf("%s has a page in the publish dir (stat: %v)", slug, err)
		}
	}
	home := readFile(t, filepath.Join(public, "index.html"))
	if strings.Contains(home, "draft-badge") {
		t.Error("a default build shows the draft badge")
	}
	before := listTree(t, public)

	drafts := filepath.Join(t.TempDir(), "drafts")
	dopts := opts
	dopts.PublishDir, dopts.Drafts = drafts, true
	dres, err := Build(ctx, dopts)
	if err != nil {
		t.Fatal(err)
	}
	for _, slug := range unpublished {
		if !has(dres.Guides, slug) {
			t.Errorf("a Drafts build leaves out %s", slug)
		}
		page := readFile(t, filepath.Join(drafts, "poradniki", slug, "index.html"))
		if !strings.Contains(page, `<strong class="draft-badge">Szkic</strong>`) {
			t.Errorf("%s's page in a Drafts build has no Szkic badge", slug)
		}
	}
	list := readFile(t, filepath.Join(drafts, "poradniki", "index.html"))
	if n := strings.Count(list, `class="draft-badge"`); n != len(unpublished) {
		t.Errorf("the guide list marks %d cards as drafts, want %d", n, len(unpublished))
	}
	page := readFile(t, filepath.Join(drafts, "poradniki", "zalegla-faktura", "index.html"))
	if strings.Contains(page, "draft-badge") {
		t.Error("a published guide is marked as a draft")
	}
	if after := listTree(t, public); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Error("a Drafts build into another directory changed the publish dir")
	}
}
