package editorial

import (
	"slices"
	"testing"
)

// TestHeadingIDsMatchHugo pins the ids to the ones a real `kb build` gave
// these headings (Hugo 0.165, autoHeadingIDType github), Polish letters,
// punctuation, inline markup, repeats and a custom id included.
func TestHeadingIDsMatchHugo(t *testing.T) {
	src := "---\ntitle: x\n---\n\n" +
		"## Zażółć gęślą jaźń – ŁÓDŹ\n\n" +
		"## Krok 1. Sprawdź fakty, zanim zadzwonisz\n\n" +
		"## \"Cytat\" i „cudzysłów” oraz `kod` i **pogrubienie**\n\n" +
		"## Link [do strony](/poradniki/) i _podkreślenie_\n\n" +
		"## Liczby: 5 000,00 zł / 12% (art. 106na ust. 3)\n\n" +
		"## Powtórka\n\n## Powtórka\n\n## Powtórka-1\n\n" +
		"## Własny {#wlasny-id}\n\n" +
		"## ???\n\n" +
		"## snake_case i  dwie  spacje\n\n" +
		"### Śródtytuł — z myślnikiem\n\n" +
		"## A -- B --- C - D\n\n" +
		"## Link [do *strony* tu](/poradniki/) i dalej\n\n" +
		"Setext wiersz pierwszy\ni drugi wiersz\n--------------\n\n" +
		"## Tabulator\ti &amp; encja\n"
	want := []string{
		"zażółć-gęślą-jaźń--łódź",
		"krok-1-sprawdź-fakty-zanim-zadzwonisz",
		"cytat-i-cudzysłów-oraz-kod-i-pogrubienie",
		"link-do-strony-i-podkreślenie",
		"liczby-5-00000-zł--12-art-106na-ust-3",
		"powtórka",
		"powtórka-1",
		"powtórka-1-1",
		"wlasny-id",
		"heading",
		"snake_case-i--dwie--spacje",
		"śródtytuł--z-myślnikiem",
		"a--b--c---d",
		"link-do--i-dalej", // Hugo follows only the first child of inline markup
		"i-drugi-wiersz",
		"tabulatori--encja",
	}
	d := parseDocument("content/poradniki/x.md", []byte(src))
	got := d.headingIDs()
	if !slices.Equal(got, want) {
		t.Errorf("ids:\n got %q\nwant %q", got, want)
	}
}
