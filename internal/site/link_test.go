package site

import (
	"context"
	"errors"
	"html"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// linkVariants are Markdown links of every kind a guide may hold.
const linkVariants = `Wzór do pobrania: [wzór wezwania](wzor.xlsx "Arkusz").
Od razu w arkuszu: [druga zakładka](wzor.xlsx#arkusz2).
Inny poradnik: [inny](/poradniki/inny/), [kotwica](#krok-2), [tag](/tagi/rozmowy-z-klientem/?x=ł&y=2).
Na zewnątrz: [ustawa](https://isap.sejm.gov.pl/isap.nsf/search.xsp?status=O&a=b "Tytuł z \"cudzysłowem\""), <https://example.pl/auto>.
Kontakt: [telefon](tel:+48221234567), [poczta](mailto:biuro@example.pl?subject=Pytanie%20o%20faktur%C4%99).
Złe: [skrypt](javascript:alert(1)), [dane](data:text/html,hi), [zepsuty](%zz), [brak](brak.xlsx).

## Krok 2

Tekst.
`

// TestLinks: a link to a file beside the guide publishes that file (bundle
// files are otherwise not published) and points at it; every other link
// is written exactly as without layouts/_markup/render-link.html.
func TestLinks(t *testing.T) {
	build := func(t *testing.T, hook bool) (page, out string) {
		root := newFixture(t)
		dir := filepath.Join(root, "content", GuidesSection, "wezwanie")
		writeFile(t, filepath.Join(dir, "index.md"), imageGuideFront+linkVariants)
		writeFile(t, filepath.Join(dir, "wzor.xlsx"), "PK arkusz")
		writeImage(t, filepath.Join(dir, "zdjecie.jpg"), 40, 30) // not linked
		if !hook {
			if err := os.Remove(filepath.Join(root, "layouts", "_markup", "render-link.html")); err != nil {
				t.Fatal(err)
			}
		}
		out = filepath.Join(t.TempDir(), "public")
		if _, err := Build(context.Background(), Options{Root: root, PublishDir: out, Logger: testLogger(t)}); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(out, "poradniki", "wezwanie", "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw), out
	}
	withHook, out := build(t, true)
	without, _ := build(t, false)

	for _, want := range []string{
		`<a href="/poradniki/wezwanie/wzor.xlsx" title="Arkusz">wzór wezwania</a>`,
		`<a href="/poradniki/wezwanie/wzor.xlsx#arkusz2">druga zakładka</a>`,
		`<a href="tel:&#43;48221234567">telefon</a>`,
		`<a href="">skrypt</a>`,
		`<a href="brak.xlsx">brak</a>`,
	} {
		if !strings.Contains(withHook, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "poradniki", "wezwanie", "wzor.xlsx")); err != nil {
		t.Errorf("the linked file was not published: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "poradniki", "wezwanie", "zdjecie.jpg")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file nothing links to was published (%v)", err)
	}
	// Apart from the bundle file's address, the links are goldmark's: the
	// same addresses once decoded (html/template escapes "+" as &#43; and
	// writes percent escapes in lower case) and the rest of the page
	// byte for byte.
	got, rest := anchors(strings.ReplaceAll(withHook, `href="/poradniki/wezwanie/wzor.xlsx`, `href="wzor.xlsx`))
	want, wantRest := anchors(without)
	if !slices.Equal(got, want) {
		t.Errorf("links differ from goldmark's:\nhook:    %q\ndefault: %q", got, want)
	}
	if rest != wantRest {
		t.Error("the page around the links differs from goldmark's")
	}
}

var anchorRE = regexp.MustCompile(`<a href="([^"]*)"((?: title="[^"]*")?)>`)

// anchors returns each link's address and title, decoded, and the page
// with the links' start tags blanked.
func anchors(page string) ([]string, string) {
	var out []string
	rest := anchorRE.ReplaceAllStringFunc(page, func(tag string) string {
		m := anchorRE.FindStringSubmatch(tag)
		href := html.UnescapeString(m[1])
		if u, err := url.PathUnescape(href); err == nil {
			href = u
		}
		out = append(out, href+" "+html.UnescapeString(m[2]))
		return "<a>"
	})
	return out, rest
}
