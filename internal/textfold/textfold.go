// Package textfold folds Polish text for comparison: the URL slugs of tags
// and guides, and tags that differ only in case or diacritics.
package textfold

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// ASCII removes diacritics: Unicode NFD without combining marks, and ł/Ł
// (which have no decomposition) as l/L. "Należności" → "Naleznosci".
func ASCII(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'ł':
			r = 'l'
		case r == 'Ł':
			r = 'L'
		}
		b.WriteRune(r)
	}
	return b.String()
}
