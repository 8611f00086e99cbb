package guide

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Check reports the first guide that names a topic not in topicIDs (by its
// file), and the first welcome slug that is not a published guide.
func Check(guides []Guide, topicIDs, welcome []string) error {
	for _, g := range guides {
		for _, t := range g.Topics {
			if !slices.Contains(topicIDs, t) {
				return fmt.Errorf("%s: front matter topics: unknown topic %q (params.newsletter.topics has: %s)",
					g.SourcePath, t, strings.Join(topicIDs, ", "))
			}
		}
	}
	for _, slug := range welcome {
		if !slices.ContainsFunc(guides, func(g Guide) bool { return g.Slug == slug }) {
			return fmt.Errorf("params.newsletter.welcome: %q is not the slug of a published guide", slug)
		}
	}
	return nil
}

// IndexPath is where kb build writes the guides' index in the publish
// directory, for `kb serve` (the welcome email): next to the page shell,
// which the server never shows to readers.
const IndexPath = "kb-shell/guides.json"

// WriteIndex writes the guides without their bodies to dir/IndexPath.
func WriteIndex(dir string, guides []Guide) error {
	list := make([]Guide, len(guides))
	for i, g := range guides {
		g.Markdown, g.Summary = "", ""
		list[i] = g
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, filepath.FromSlash(IndexPath))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadIndex reads what WriteIndex wrote.
func ReadIndex(dir string) ([]Guide, error) {
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(IndexPath)))
	if err != nil {
		return nil, err
	}
	var list []Guide
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", IndexPath, err)
	}
	return list, nil
}

// Pick returns the guides with the given slugs, in that order; missing
// ones are left out.
func Pick(guides []Guide, slugs []string) []Guide {
	var out []Guide
	for _, s := range slugs {
		if i := slices.IndexFunc(guides, func(g Guide) bool { return g.Slug == s }); i >= 0 {
			out = append(out, guides[i])
		}
	}
	return out
}
