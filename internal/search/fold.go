package search

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold lower-cases s and strips its diacritics exactly as assets/js/search.js
// does, so that the index and the reader's query meet: NFD, then the
// combining marks U+0300–U+036F removed, then ł/Ł (which have no
// decomposition) mapped to l/L, then lower case.
func Fold(s string) string {
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		switch {
		case r >= 0x300 && r <= 0x36f:
			continue
		case r == 'ł':
			r = 'l'
		case r == 'Ł':
			r = 'L'
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

// Words splits folded text into words: runs of letters and digits (the
// JS side splits on /[^\p{L}\p{N}]+/u, the same classes).
func Words(folded string) []string {
	return strings.FieldsFunc(folded, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}
