package site

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
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
