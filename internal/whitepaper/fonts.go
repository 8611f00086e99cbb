package whitepaper

import (
	"bytes"
	"math"
	"strings"
	"unicode"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// style is a set of inline text attributes.
type style uint8

const (
	stBold style = 1 << iota
	stItalic
	stCode
	stStrike
)

// face is one embedded font file.
type face int

const (
	faceRegular face = iota
	faceBold
	faceItalic
	faceBoldItalic
	faceMono
	numFaces
)

// faces maps each face to its fpdf family/style and its TTF bytes. The Go
// fonts cover Latin Extended-A (all Polish letters), typographic quotes and
// dashes, and the bullets used for lists; they ship inside the binary, so the
// PDF never depends on fonts installed on the machine.
var faces = [numFaces]struct {
	family, style string
	ttf           []byte
}{
	faceRegular:    {"go", "", goregular.TTF},
	faceBold:       {"go", "B", gobold.TTF},
	faceItalic:     {"go", "I", goitalic.TTF},
	faceBoldItalic: {"go", "BI", gobolditalic.TTF},
	faceMono:       {"gomono", "", gomono.TTF},
}

func faceOf(st style) face {
	if st&stCode != 0 {
		return faceMono
	}
	switch st & (stBold | stItalic) {
	case stBold:
		return faceBold
	case stItalic:
		return faceItalic
	case stBold | stItalic:
		return faceBoldItalic
	}
	return faceRegular
}

// addFonts embeds the faces. Each fpdf instance gets its own copy of the
// TTF bytes: fpdf v0.9.0 writes into the slice it is given while
// subsetting (getMetrics appends to a sub-slice of the font), which would
// corrupt the shared gofont variables, race between concurrent renders and
// make one render depend on the previous one.
func addFonts(pdf *fpdf.Fpdf) {
	for _, f := range faces {
		pdf.AddUTF8FontFromBytes(f.family, f.style, bytes.Clone(f.ttf))
	}
}

const (
	mmPerPt = 25.4 / 72
	// fastRunes covers Latin, Latin Extended and General Punctuation, where
	// nearly every character of a Polish text lives; the rest goes to maps.
	fastRunes = 0x2100
	// replacement stands in for characters the fonts cannot draw.
	replacement = '\uFFFD'
)

// metrics measures text exactly as fpdf will draw it. fpdf's width of a
// character is round(1000 × advance / unitsPerEm) from the font's hmtx
// table; metrics computes the same numbers from the TTF with sfnt (a test
// holds the two equal) and caches them per face, so measuring never needs
// an fpdf instance of its own.
type metrics struct {
	fonts [numFaces]*sfnt.Font
	buf   sfnt.Buffer
	fast  [numFaces][]int32
	slow  [numFaces]map[rune]int32

	// covered: 0 unknown, 1 drawable, 2 missing from the fonts.
	coveredFast []uint8
	coveredSlow map[rune]bool
}

func newMetrics() (*metrics, error) {
	m := &metrics{coveredFast: make([]uint8, fastRunes), coveredSlow: map[rune]bool{}}
	for f := range m.fast {
		sf, err := sfnt.Parse(faces[f].ttf)
		if err != nil {
			return nil, err
		}
		m.fonts[f] = sf
		m.fast[f] = make([]int32, fastRunes)
		for i := range m.fast[f] {
			m.fast[f][i] = -1
		}
		m.slow[f] = map[rune]int32{}
	}
	return m, nil
}

// units is the advance of r in thousandths of the font size.
func (m *metrics) units(f face, r rune) int32 {
	if r >= 0 && r < fastRunes {
		if w := m.fast[f][r]; w >= 0 {
			return w
		}
	} else if w, ok := m.slow[f][r]; ok {
		return w
	}
	w := m.advance(f, r)
	if r >= 0 && r < fastRunes {
		m.fast[f][r] = w
	} else {
		m.slow[f][r] = w
	}
	return w
}

func (m *metrics) advance(f face, r rune) int32 {
	sf := m.fonts[f]
	upem := int(sf.UnitsPerEm())
	g, err := sf.GlyphIndex(&m.buf, r)
	if err != nil {
		return 0
	}
	// At ppem = unitsPerEm the advance comes back in font units (26.6).
	adv, err := sf.GlyphAdvance(&m.buf, g, fixed.Int26_6(upem<<6), font.HintingNone)
	if err != nil {
		return 0
	}
	return int32(math.Round(1000 * float64(adv) / 64 / float64(upem)))
}

// width of s in millimetres at sizePt.
func (m *metrics) width(f face, sizePt float64, s string) float64 {
	var u int64
	for _, r := range s {
		u += int64(m.units(f, r))
	}
	return float64(u) * sizePt * mmPerPt / 1000
}

// drawable reports whether the embedded fonts have a glyph for r. fpdf's
// width tables and CID maps stop at U+FFFF and it draws nothing for a missing
// glyph, so everything else is replaced before it reaches fpdf.
func (m *metrics) drawable(r rune) bool {
	if r < 0 || r > 0xFFFF {
		return false
	}
	if r < fastRunes {
		switch m.coveredFast[r] {
		case 1:
			return true
		case 2:
			return false
		}
	} else if ok, seen := m.coveredSlow[r]; seen {
		return ok
	}
	// The Go fonts share one character repertoire, so the regular face
	// answers for all of them.
	g, err := m.fonts[faceRegular].GlyphIndex(&m.buf, r)
	ok := err == nil && g != 0
	if r < fastRunes {
		m.coveredFast[r] = 2
		if ok {
			m.coveredFast[r] = 1
		}
	} else {
		m.coveredSlow[r] = ok
	}
	return ok
}

// sanitize makes s safe to hand to fpdf: control and invisible formatting
// characters go, tabs become spaces, undrawable characters become U+FFFD.
func (m *metrics) sanitize(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r >= 0x7F {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case invisible(r):
		case !m.drawable(r):
			b.WriteRune(replacement)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// invisible characters carry no ink and only confuse measurement.
func invisible(r rune) bool {
	switch r {
	case '\u00AD', '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF':
		return true
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) && r != '\u00AD'
}

// clean normalises a front matter value to one line of text: control
// characters and line breaks become single spaces. Non-breaking spaces stay:
// Polish typography puts them after one-letter words.
func clean(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.IsControl(r) {
			space = true
			continue
		}
		if invisible(r) {
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
