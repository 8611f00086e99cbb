package site

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gohugoio/hugo/commands"
)

// TestRelatedGuides checks layouts/_partials/related.html: guides sharing
// two tags come before guides sharing one, the newer first within each,
// never the guide itself, at most three.
func TestRelatedGuides(t *testing.T) {
	root := newFixture(t)
	guides := []struct {
		slug, date string
		tags       []string
	}{
		{"a", "2026-01-10", []string{"x", "y"}},
		{"b-both-old", "2026-01-01", []string{"x", "y"}},
		{"c-x-new", "2026-01-09", []string{"x"}},
		{"d-y-newer", "2026-01-08", []string{"y"}},
		{"e-x-newest", "2026-01-07", []string{"x", "z"}},
		{"f-other", "2026-01-11", []string{"z"}},
	}
	for _, g := range guides {
		tags := ""
		for i, tag := range g.tags {
			if i > 0 {
				tags += ", "
			}
			tags += fmt.Sprintf("%q", tag)
		}
		writeFile(t, filepath.Join(root, "content", GuidesSection, g.slug+".md"), fmt.Sprintf(
			"---\ntitle: %q\ndescription: \"Opis.\"\ndate: %s\ntags: [%s]\n---\n\nTreść.\n", g.slug, g.date, tags))
	}
	res, err := Build(context.Background(), Options{Root: root, BaseURL: "https://example.org/"})
	if err != nil {
		t.Fatal(err)
	}
	related := regexp.MustCompile(`(?s)<section class="related".*?</section>`)
	href := regexp.MustCompile(`href="/poradniki/([^/"]+)/"`)
	cases := []struct {
		slug string
		want []string
	}{
		// b shares x and y; then c, d, e share one tag, newest first.
		{"a", []string{"b-both-old", "c-x-new", "d-y-newer"}},
		{"f-other", []string{"e-x-newest"}},
		{"e-x-newest", []string{"f-other", "a", "c-x-new"}},
	}
	for _, c := range cases {
		page := readFile(t, filepath.Join(res.PublishDir, GuidesSection, c.slug, "index.html"))
		var got []string
		for _, m := range href.FindAllStringSubmatch(related.FindString(page), -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: related %v, want %v", c.slug, got, c.want)
		}
	}
}

// TestRelatedInGoMatchesTemplate: kb build's related guides, worked out in
// Go (related.go), are those the template's own rule picks when Hugo runs
// without kb, on every guide of a generated site.
func TestRelatedInGoMatchesTemplate(t *testing.T) {
	root := newBenchSite(t, 300)
	// A draft and a future guide sharing tags with the others: neither may
	// be linked.
	for _, g := range []struct{ slug, extra string }{{"szkic-wspolny", "draft: true\n"}, {"przyszly-wspolny", ""}} {
		date := "2026-06-01"
		if g.slug == "przyszly-wspolny" {
			date = "2099-01-01"
		}
		writeFile(t, filepath.Join(root, "content", GuidesSection, g.slug+".md"), fmt.Sprintf(
			"---\ntitle: %q\ndescription: \"Opis.\"\ndate: %s\n%stags: [\"faktury\", \"rozmowy z klientem\"]\n---\n\nTreść.\n", g.slug, date, g.extra))
	}
	kbOut := filepath.Join(t.TempDir(), "kb")
	res, err := Build(context.Background(), Options{Root: root, PublishDir: kbOut})
	if err != nil {
		t.Fatal(err)
	}
	hugoOut := filepath.Join(t.TempDir(), "hugo")
	if err := commands.Execute([]string{"--source", root, "--destination", hugoOut, "--quiet", "--logLevel", "error"}); err != nil {
		t.Fatal(err)
	}
	related := regexp.MustCompile(`(?s)<section class="related".*?</section>`)
	compared := 0
	for _, g := range res.Guides {
		ours := related.FindString(readFile(t, filepath.Join(kbOut, filepath.FromSlash(g.OutputPath))))
		theirs := related.FindString(readFile(t, filepath.Join(hugoOut, filepath.FromSlash(g.OutputPath))))
		if ours != theirs {
			t.Errorf("%s: related guides differ\nkb:   %s\nhugo: %s", g.Slug, ours, theirs)
		}
		if strings.Contains(ours, "wspolny") {
			t.Errorf("%s links a draft or future guide", g.Slug)
		}
		if ours != "" {
			compared++
		}
	}
	if compared < 250 {
		t.Errorf("only %d guides have related guides", compared)
	}
}
