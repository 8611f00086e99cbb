package emails

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/kbpress/kb/internal/guide"
)

const imagesBase = "https://wiedza.example.pl/poradniki/wykres-salda/"

// imageGuide has a wide chart, a small photo, a decorative picture (empty
// alt), a picture that is already a link, and one the site did not record.
func imageGuide() guide.Guide {
	return guide.Guide{
		Slug:      "wykres-salda",
		Title:     "Saldo na wykresie",
		Permalink: imagesBase,
		WordCount: 40,
		Markdown: "Saldo rachunku:\n\n![Saldo od stycznia do czerwca](wykres.png)\n\n" +
			"Faktura: ![Faktura z terminem](zdjecie.jpg \"Termin\")\n\n" +
			"![](ozdoba.png)\n\n" +
			"[![Logo biura](logo.png)](https://wiedza.example.pl/)\n\n" +
			"![Stary obrazek](stary.png)\n",
		Images: map[string]guide.Image{
			"wykres.png":  {URL: imagesBase + "wykres_hu_600.png", Width: 600, Height: 300, Link: imagesBase + "wykres_hu_1000.png"},
			"zdjecie.jpg": {URL: imagesBase + "zdjecie_hu_400.jpg", Width: 400, Height: 300, Link: imagesBase + "zdjecie_hu_400.jpg"},
			"ozdoba.png":  {URL: imagesBase + "ozdoba_hu_600.png", Width: 600, Height: 60, Link: imagesBase + "ozdoba_hu_1200.png"},
			"logo.png":    {URL: imagesBase + "logo_hu_200.png", Width: 200, Height: 50, Link: imagesBase + "logo_hu_200.png"},
		},
	}
}

func TestNewsletterImages(t *testing.T) {
	e, err := newTemplates(t).Newsletter(imageGuide(), NewsletterOptions{FullTextMaxWords: 1200})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(e.HTML))
	if err != nil {
		t.Fatal(err)
	}
	type img struct{ src, alt, width, height, link string }
	var got []img
	var walk func(n *html.Node, link string)
	walk = func(n *html.Node, link string) {
		if n.Type == html.ElementNode && n.DataAtom == atom.A {
			link = attrOf(n, "href")
		}
		if n.Type == html.ElementNode && (n.DataAtom == atom.Picture || n.DataAtom == atom.Source) {
			t.Errorf("email has <%s>", n.Data)
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.Img {
			got = append(got, img{attrOf(n, "src"), attrOf(n, "alt"), attrOf(n, "width"), attrOf(n, "height"), link})
			if attrOf(n, "srcset") != "" || strings.HasSuffix(attrOf(n, "src"), ".webp") {
				t.Errorf("img %s: srcset or WebP", attrOf(n, "src"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, link)
		}
	}
	walk(doc, "")

	want := []img{
		// 600 px wide, shown at the column's 536 px.
		{imagesBase + "wykres_hu_600.png", "Saldo od stycznia do czerwca", "536", "268", imagesBase + "wykres_hu_1000.png"},
		{imagesBase + "zdjecie_hu_400.jpg", "Faktura z terminem", "400", "300", imagesBase + "zdjecie_hu_400.jpg"},
		{imagesBase + "ozdoba_hu_600.png", "", "536", "54", ""}, // decorative: no link
		{imagesBase + "logo_hu_200.png", "Logo biura", "200", "50", "https://wiedza.example.pl/"},
		{imagesBase + "stary.png", "Stary obrazek", "", "", ""}, // not recorded: resolved as before
	}
	if len(got) != len(want) {
		t.Fatalf("%d <img>, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("img %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
		if w, err := strconv.Atoi(got[i].width); err == nil && w > 600 {
			t.Errorf("img %d: width %d > 600", i, w)
		}
	}
	if n := strings.Count(e.HTML, "wykres_hu_600.png"); n != 1 {
		t.Errorf("the chart's URL appears %d times, want once", n)
	}

	// The text part keeps what the pictures said, with an address.
	for _, re := range []string{
		`Saldo od stycznia do czerwca \( ` + regexp.QuoteMeta(imagesBase+"wykres_hu_1000.png") + ` \)`,
		`Faktura z terminem \( ` + regexp.QuoteMeta(imagesBase+"zdjecie_hu_400.jpg") + ` \)`,
	} {
		if !regexp.MustCompile(re).MatchString(e.Text) {
			t.Errorf("text part lacks %s:\n%s", re, e.Text)
		}
	}
	if strings.Contains(e.Text, "ozdoba") {
		t.Errorf("text part names the decorative picture:\n%s", e.Text)
	}
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
