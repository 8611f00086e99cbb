package site

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFeedLimit: the guides feed lists the newest services.rss.limit
// guides, newest first, and every guide at -1.
func TestFeedLimit(t *testing.T) {
	for _, tt := range []struct {
		limit string
		want  []string
	}{
		{"1", []string{"zalegla-faktura"}},
		{"-1", []string{"zalegla-faktura", "podwyzka"}},
	} {
		t.Run(tt.limit, func(t *testing.T) {
			root := newFixture(t)
			cfg := filepath.Join(root, "config.toml")
			text := readFile(t, cfg)
			if !strings.Contains(text, "limit = 50") {
				t.Fatal("config.toml: no services.rss limit = 50")
			}
			writeFile(t, cfg, strings.Replace(text, "limit = 50", "limit = "+tt.limit, 1))
			out := filepath.Join(t.TempDir(), "public")
			if _, err := Build(context.Background(), Options{Root: root, PublishDir: out, Logger: testLogger(t)}); err != nil {
				t.Fatal(err)
			}
			var feed rssFeed
			readXML(t, filepath.Join(out, GuidesSection, "index.xml"), &feed)
			var got []string
			for _, it := range feed.Channel.Items {
				got = append(got, filepath.Base(strings.TrimSuffix(it.Link, "/")))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("feed lists %v, want %v", got, tt.want)
			}
		})
	}
}
