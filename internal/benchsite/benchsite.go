// Package benchsite writes the synthetic guides the benchmarks build and
// search (internal/site's BenchmarkBuild, internal/e2e/browser's
// BenchmarkSearchPage), so that both measure the same site.
package benchsite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var (
	tags = []string{
		"rozmowy z klientem", "komunikacja", "emocje", "honorarium", "należności",
		"przepływy pieniężne", "płynność finansowa", "płatności", "umowa z klientem", "doradztwo",
		"podatki", "ZUS", "VAT", "windykacja", "planowanie", "zespół", "organizacja pracy",
		"kadry i płace", "KSeF", "biała lista",
	}
	words = strings.Fields(`księgowa klient faktura termin płatność rozmowa zaległość
		gotówka prognoza tydzień miesiąc rachunek należność zobowiązanie podatek składka
		biuro umowa honorarium podwyżka przedsiębiorca firma zysk koszt przychód saldo
		spokojnie jasno konkretnie wcześniej później zawsze często rzadko dlatego więc
		jednak również właśnie przygotuj zapytaj wyjaśnij zaproponuj sprawdź zapisz
		porozmawiaj ustal pokaż policz zaplanuj łatwo trudno ważne pilne źródło żądanie`)
)

// WriteGuides writes n generated guides into dir (a site's
// content/poradniki): about 600 words each, four h2 sections, three tags
// from a pool of 20 (some with ł), one hour apart from 2020-01-01. The
// same n gives the same files.
func WriteGuides(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	word := func() string { return words[rng.IntN(len(words))] }
	var buf strings.Builder
	for i := range n {
		buf.Reset()
		t := rng.Perm(len(tags))[:3]
		fmt.Fprintf(&buf, "---\ntitle: \"Poradnik %d: %s %s\"\ndescription: \"Opis poradnika numer %d o tym, jak %s.\"\ndate: %s\ntags: [%q, %q, %q]\n---\n\n",
			i, word(), word(), i, word(), start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339),
			tags[t[0]], tags[t[1]], tags[t[2]])
		for s := range 4 {
			fmt.Fprintf(&buf, "## Część %d: %s\n\n", s+1, word())
			for range 3 {
				for w := range 50 {
					if w > 0 {
						buf.WriteByte(' ')
					}
					buf.WriteString(word())
				}
				buf.WriteString(".\n\n")
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("poradnik-%05d.md", i)), []byte(buf.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
