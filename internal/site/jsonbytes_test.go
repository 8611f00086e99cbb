package site

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHandWrittenJSON pins the JSON the layouts write piece by piece for
// speed (home.searchindex.json item by item, jsonld-article.html field by
// field) to the bytes jsonify of the whole value gives: keys sorted, HTML
// escaped, no spaces. Decoding and encoding again with encoding/json (what
// jsonify uses) must give the file back unchanged.
func TestHandWrittenJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "public")
	res, err := Build(context.Background(), Options{Root: repoRoot, PublishDir: out, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ldScript := regexp.MustCompile(`<script type="application/ld\+json">(.*?)</script>`)
	type doc struct {
		name string
		json []byte
	}
	var docs []doc
	index, err := os.ReadFile(filepath.Join(out, "search-index.json"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, doc{"search-index.json", index})
	for _, g := range res.Guides {
		page, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(g.OutputPath)))
		if err != nil {
			t.Fatal(err)
		}
		m := ldScript.FindAllSubmatch(page, -1)
		if len(m) != 1 {
			t.Fatalf("%s: %d JSON-LD blocks", g.OutputPath, len(m))
		}
		docs = append(docs, doc{g.OutputPath + " JSON-LD", m[0][1]})
	}
	if len(docs) < 3 {
		t.Fatalf("only %d documents", len(docs))
	}
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			dec := json.NewDecoder(bytes.NewReader(d.json))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.json, want) {
				i := 0
				for i < len(want) && i < len(d.json) && want[i] == d.json[i] {
					i++
				}
				t.Errorf("differs from jsonify of the whole at byte %d:\n got %q\nwant %q", i, snippet(d.json, i), snippet(want, i))
			}
		})
	}
	// Every guide is in the index once, in the order of site.RegularPages.
	var idx searchIndex
	if err := json.Unmarshal(index, &idx); err != nil {
		t.Fatal(err)
	}
	urls := map[string]bool{}
	for _, it := range idx.Items {
		if urls[it.URL] {
			t.Errorf("%s twice in the index", it.URL)
		}
		urls[it.URL] = true
	}
	for _, g := range res.Guides {
		if u := "/" + strings.TrimSuffix(g.OutputPath, "index.html"); !urls[u] {
			t.Errorf("%s missing from the index", u)
		}
	}
}

func snippet(b []byte, i int) string {
	lo, hi := max(i-40, 0), min(i+40, len(b))
	return string(b[lo:hi])
}
