package search

import (
	"github.com/kbpress/kb/internal/atomicfile"

	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// ManifestName is the manifest inside the index directory: the only file
// whose name does not change with its content (fetch it revalidating).
const ManifestName = "index.json"

// Version is the format of the manifest and fragments; search.js checks it.
const Version = 1

// Options tune the fragments; the zero value is the site's.
type Options struct {
	// MaxFragment is the size (bytes of JSON, before compression) above
	// which the words of a prefix are split by their next letter; default
	// 16 KiB.
	MaxFragment int
	// Chunk is how many documents share one metadata file; default 10.
	Chunk int
	// Head is how many of the newest documents also share one larger
	// metadata file, which search.js fetches beside the first query's
	// fragments: the best results of a common word are title matches,
	// newest first, so their cards need no second round trip; default 100.
	Head int
}

func (o Options) withDefaults() Options {
	if o.MaxFragment <= 0 {
		o.MaxFragment = 16 << 10
	}
	if o.Chunk <= 0 {
		o.Chunk = 10
	}
	if o.Head <= 0 {
		o.Head = 100
	}
	return o
}

// manifest is index.json:
//
//	{"v":1, "docs":N, "chunk":10,
//	 "leaf": {"fa": "fa.<hash>.json", …},  words with this prefix: {"faktura":[…], "fakturze":[…]}
//	 "node": {"p": "p.<hash>.json", …},    split prefix: the union of its words' postings, [...];
//	                                       longer queries look for a longer key
//	 "meta": ["m.<hash>.json", …],         chunk k: [[url, title, date, reading, description], …]
//	                                       for documents k*chunk …
//	 "head": "m.<hash>.json", "headDocs": H}  the same rows for documents 0 … H-1 in one file
//
// Keys are folded word prefixes (whole letters). Postings are encode's
// integers. A document id is its position by date, newest first. File
// names carry a hash of their content (32 hex digits, the pattern servers
// treat as fingerprinted and cache for good).
type manifest struct {
	Version int               `json:"v"`
	Docs    int               `json:"docs"`
	Chunk   int               `json:"chunk"`
	Leaf    map[string]string `json:"leaf"`
	Node    map[string]string `json:"node"`
	Meta    []string          `json:"meta"`
	Head    string            `json:"head,omitempty"`
	HeadN   int               `json:"headDocs,omitempty"`
}

// Write writes the index of docs into dir (created if missing; files there
// that the index no longer has are removed) and returns the files it
// holds, as slash paths relative to dir. The same documents give the same
// bytes, so unchanged fragments keep their names and precompressed copies.
func Write(dir string, docs []Document, opts Options) ([]string, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	w := &writer{dir: dir, opts: opts, ix: buildIndex(docs), files: map[string]bool{},
		m: manifest{Version: Version, Leaf: map[string]string{}, Node: map[string]string{}}}
	w.m.Docs, w.m.Chunk = len(w.ix.docs), opts.Chunk

	words := make([]string, 0, len(w.ix.words))
	for word := range w.ix.words {
		words = append(words, word)
	}
	slices.Sort(words)
	for _, g := range groupByRune(words, 0) {
		if err := w.prefix(g.key, g.words); err != nil {
			return nil, err
		}
	}
	rows := func(docs []Document) [][]any {
		var out [][]any
		for _, d := range docs {
			out = append(out, []any{d.URL, d.Title, d.Date, d.Reading, d.Description})
		}
		return out
	}
	for start := 0; start < len(w.ix.docs); start += opts.Chunk {
		name, err := w.put("m", rows(w.ix.docs[start:min(start+opts.Chunk, len(w.ix.docs))]))
		if err != nil {
			return nil, err
		}
		w.m.Meta = append(w.m.Meta, name)
	}
	if n := min(opts.Head, len(w.ix.docs)); n > 0 {
		name, err := w.put("m", rows(w.ix.docs[:n]))
		if err != nil {
			return nil, err
		}
		w.m.Head, w.m.HeadN = name, n
	}
	raw, err := marshal(w.m)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteIfChanged(filepath.Join(dir, ManifestName), raw); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	w.files[ManifestName] = true
	if err := removeOthers(dir, w.files); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := make([]string, 0, len(w.files))
	for f := range w.files {
		out = append(out, f)
	}
	slices.Sort(out)
	return out, nil
}

type writer struct {
	dir   string
	opts  Options
	ix    *index
	m     manifest
	files map[string]bool
}

// prefix writes the words sharing prefix p (sorted) as one leaf fragment
// or, when that would be larger than MaxFragment, as the union of their
// postings (for a query that is exactly p) and one prefix per next letter.
func (w *writer) prefix(p string, words []string) error {
	leaf := make(map[string][]int, len(words))
	for _, word := range words {
		leaf[word] = encode(w.ix.words[word])
	}
	raw, err := marshal(leaf)
	if err != nil {
		return err
	}
	if len(raw) <= w.opts.MaxFragment || len(words) == 1 {
		name, err := w.putRaw(safeName(p), raw)
		w.m.Leaf[p] = name
		return err
	}
	lists := make([][]posting, len(words))
	for i, word := range words {
		lists[i] = w.ix.words[word]
	}
	name, err := w.put(safeName(p), encode(union(lists...)))
	if err != nil {
		return err
	}
	w.m.Node[p] = name
	// A word equal to p is only in the union: no longer query matches it.
	for _, g := range groupByRune(words, utf8.RuneCountInString(p)) {
		if err := w.prefix(g.key, g.words); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) put(base string, v any) (string, error) {
	raw, err := marshal(v)
	if err != nil {
		return "", err
	}
	return w.putRaw(base, raw)
}

// putRaw writes raw as base.<hash>.json.
func (w *writer) putRaw(base string, raw []byte) (string, error) {
	sum := sha256.Sum256(raw)
	name := base + "." + hex.EncodeToString(sum[:16]) + ".json"
	if !w.files[name] {
		if err := atomicfile.WriteIfChanged(filepath.Join(w.dir, name), raw); err != nil {
			return "", fmt.Errorf("search: %w", err)
		}
		w.files[name] = true
	}
	return name, nil
}

// safeName keeps the ASCII letters and digits of a prefix for a readable
// file name ("fa"); the hash makes the name unique either way.
func safeName(p string) string {
	var b strings.Builder
	b.WriteString("w")
	for _, r := range p {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

type group struct {
	key   string
	words []string
}

// groupByRune groups sorted words by their first n+1 letters, leaving out
// words of n letters or fewer.
func groupByRune(words []string, n int) []group {
	var out []group
	for _, word := range words {
		if utf8.RuneCountInString(word) <= n {
			continue
		}
		key := word
		i := 0
		for pos := range word {
			if i == n+1 {
				key = word[:pos]
				break
			}
			i++
		}
		if len(out) > 0 && out[len(out)-1].key == key {
			out[len(out)-1].words = append(out[len(out)-1].words, word)
			continue
		}
		out = append(out, group{key, []string{word}})
	}
	return out
}

// marshal is json.Marshal without HTML escaping (the files are data, never
// inlined into a page), which keeps titles with & or < readable and short.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// removeOthers deletes the files directly in dir that keep does not name
// (an earlier build's fragments, precompressed siblings included).
func removeOthers(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || keep[e.Name()] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
