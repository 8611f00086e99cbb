// Package search writes the site's search index as static fragments, after
// Pagefind's design: a reader's browser loads a small manifest, then only
// the fragments for the words they type, then only the metadata of the
// results it shows. Nothing runs on the server, so any static host serves
// it. assets/js/search.js is the other half; the two share Fold, Words and
// the file formats described in Write.
package search

import (
	"cmp"
	"slices"
	"strings"
)

// Document is one searchable page.
type Document struct {
	URL         string
	Title       string
	Description string
	Tags        []string
	Date        string // YYYY-MM-DD; newer documents rank first among equal scores
	Reading     int    // reading time in minutes
	Text        string // the page's plain text
}

// Where a word occurs in a document; scoring in the browser gives a title
// match 10 and a description or tag match 3 (a text match only qualifies).
const (
	inTitle = 1 << iota
	inMeta
)

// posting is one document holding a word, and in which fields.
type posting struct {
	doc   int
	flags int
}

// index maps every folded word to its postings, sorted by document.
type index struct {
	docs  []Document // ordered: id = position
	words map[string][]posting
}

// order sorts documents by date, newest first, keeping the given order
// among equal dates: a document's id is its rank among equal scores.
func order(docs []Document) []Document {
	out := slices.Clone(docs)
	slices.SortStableFunc(out, func(a, b Document) int { return cmp.Compare(b.Date, a.Date) })
	return out
}

func buildIndex(docs []Document) *index {
	ix := &index{docs: order(docs), words: map[string][]posting{}}
	for id, d := range ix.docs {
		seen := map[string]int{}
		add := func(text string, flag int) {
			for _, w := range Words(Fold(text)) {
				seen[w] |= flag
			}
		}
		add(d.Title, inTitle)
		add(d.Description+" "+strings.Join(d.Tags, " "), inMeta)
		add(d.Text, 0)
		for w, f := range seen {
			ix.words[w] = append(ix.words[w], posting{id, f})
		}
	}
	return ix
}

// encode packs postings as integers: the gap from the previous document
// (the first from -1) shifted left by two, with the field flags in the low
// bits. Gaps keep numbers short; the compressor takes care of the rest.
func encode(ps []posting) []int {
	out := make([]int, len(ps))
	prev := -1
	for i, p := range ps {
		out[i] = (p.doc-prev)<<2 | p.flags
		prev = p.doc
	}
	return out
}

// union merges the postings of several words: a document holds the prefix
// when it holds any of them, in every field any of them is in.
func union(lists ...[]posting) []posting {
	flags := map[int]int{}
	for _, l := range lists {
		for _, p := range l {
			flags[p.doc] |= p.flags
		}
	}
	out := make([]posting, 0, len(flags))
	for d, f := range flags {
		out = append(out, posting{d, f})
	}
	slices.SortFunc(out, func(a, b posting) int { return cmp.Compare(a.doc, b.doc) })
	return out
}
