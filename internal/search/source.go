package search

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path"
	"path/filepath"
)

const (
	// HugoIndex is what layouts/home.searchindex.json renders into the
	// built site: every searchable page with its plain text. It is the
	// source of the fragments and is not published.
	HugoIndex = "search-index.json"
	// Dir is the fragments' folder in the built site; the search page
	// loads Dir/ManifestName.
	Dir = "search"
)

// hugoIndex is HugoIndex's format.
type hugoIndex struct {
	Items []struct {
		Title       string   `json:"title"`
		URL         string   `json:"url"`
		Description string   `json:"description"`
		Tags        []string `json:"tags"`
		Date        string   `json:"date"`
		Reading     int      `json:"reading"`
		Content     string   `json:"content"`
	} `json:"items"`
}

// ReadHugoIndex reads the documents from a HugoIndex file. The text is
// Hugo's .Plain, which keeps HTML entities (&amp;, &rsquo;): they are
// decoded here, so that their letters do not become words.
func ReadHugoIndex(file string) ([]Document, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	var idx hugoIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("search: %s: %w", file, err)
	}
	docs := make([]Document, len(idx.Items))
	for i, it := range idx.Items {
		docs[i] = Document{URL: it.URL, Title: it.Title, Description: it.Description, Tags: it.Tags,
			Date: it.Date, Reading: it.Reading, Text: html.UnescapeString(it.Content)}
	}
	return docs, nil
}

// FromHugoIndex turns the HugoIndex file of a built site into the
// fragments under siteDir/Dir and deletes it, so that only the fragments
// are published. It returns the files written, as slash paths relative to
// siteDir (for site.Options.AfterRender).
func FromHugoIndex(siteDir string, opts Options) ([]string, error) {
	src := filepath.Join(siteDir, HugoIndex)
	docs, err := ReadHugoIndex(src)
	if err != nil {
		return nil, fmt.Errorf("%w (layouts/home.searchindex.json renders it)", err)
	}
	files, err := Write(filepath.Join(siteDir, Dir), docs, opts)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(src); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	for i, f := range files {
		files[i] = path.Join(Dir, f)
	}
	return files, nil
}
