package whitepaper

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/go-pdf/fpdf"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// RendererVersion changes whenever the renderer's output changes for the
// same input; it is part of Build's cache key and the PDF's /Producer.
const RendererVersion = "2"

// Options are the settings that are not in the document itself.
type Options struct {
	// Firm is the publisher's name on the cover and in the running header.
	Firm string `json:"firm"`
	// FirmAddress is printed at the foot of the cover.
	FirmAddress string `json:"firm_address"`
	// BaseURL turns site-relative links (/poradniki/x/) into absolute,
	// clickable URLs. Without it such links are printed as plain text.
	BaseURL string `json:"base_url"`
	// Language is the document language: "pl" (default) or "en". It selects
	// the fixed labels and sets the PDF's /Lang.
	Language string `json:"language"`
}

// Info describes a rendered PDF; the site shows Pages and Size next to the
// download link.
type Info struct {
	Pages  int    `json:"pages"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Warnings name things rendered differently from the markdown, such as
	// images shown as their alt text.
	Warnings []string `json:"warnings,omitempty"`
	// Cached is set by Build when the PDF came from the cache.
	Cached bool `json:"-"`
}

// labels are the fixed words printed in the PDF.
type labels struct {
	lang    string
	toc     string
	page    string // "Strona %d z %d"
	version string // "Wersja %s"
	kind    string // printed above the title on the cover
	image   string
	months  [12]string
	issued  string
	edition string
	author  string
}

var languages = map[string]labels{
	"pl": {
		lang: "pl", toc: "Spis treści", page: "Strona %d z %d", version: "Wersja %s",
		kind: "BIAŁA KSIĘGA", image: "Ilustracja", issued: "Data wydania", edition: "Wydanie", author: "Autor",
		months: [12]string{"styczeń", "luty", "marzec", "kwiecień", "maj", "czerwiec",
			"lipiec", "sierpień", "wrzesień", "październik", "listopad", "grudzień"},
	},
	"en": {
		lang: "en", toc: "Contents", page: "Page %d of %d", version: "Version %s",
		kind: "WHITE PAPER", image: "Image", issued: "Published", edition: "Edition", author: "Author",
		months: [12]string{"January", "February", "March", "April", "May", "June",
			"July", "August", "September", "October", "November", "December"},
	},
}

// markdown builds the parser: CommonMark plus GFM tables, strikethrough
// and bare-URL links. Raw HTML is parsed but never rendered.
func markdown() goldmark.Markdown {
	return goldmark.New(
		goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify),
		goldmark.WithParserOptions(parser.WithAutoHeadingID()),
	)
}

func parseMarkdown(body []byte) ast.Node {
	return markdown().Parser().Parse(text.NewReader(body))
}

// Render lays out doc and writes the PDF to w. The output depends only on
// doc, opts and RendererVersion: dates come from the document, the
// producer string is fixed and fpdf writes no random IDs.
func Render(ctx context.Context, doc *Document, opts Options, w io.Writer) (info Info, err error) {
	if doc == nil {
		return Info{}, fmt.Errorf("whitepaper: nil document")
	}
	// fpdf reports some faults by panicking (bad font data, out-of-range
	// glyph tables); they must not take the build down.
	defer func() {
		if p := recover(); p != nil {
			info, err = Info{}, fmt.Errorf("whitepaper %s: render failed: %v", doc.Path, p)
		}
	}()
	if doc.Title == "" || doc.Date.IsZero() {
		return Info{}, fmt.Errorf("whitepaper %s: document has no title or date (use Parse)", doc.Path)
	}
	lang := opts.Language
	if lang == "" {
		lang = "pl"
	}
	lab, ok := languages[lang]
	if !ok {
		return Info{}, fmt.Errorf("whitepaper %s: unsupported language %q (have pl, en)", doc.Path, opts.Language)
	}
	var base *url.URL
	if opts.BaseURL != "" {
		if base, err = url.Parse(opts.BaseURL); err != nil || base.Scheme == "" || base.Host == "" {
			return Info{}, fmt.Errorf("whitepaper %s: base URL %q is not an absolute URL", doc.Path, opts.BaseURL)
		}
	}
	m, err := newMetrics()
	if err != nil {
		return Info{}, fmt.Errorf("whitepaper %s: load fonts: %w", doc.Path, err)
	}
	root := parseMarkdown(doc.Body)
	charts, err := findCharts(root, doc.Body, doc.bodyLine+1)
	if err != nil {
		return Info{}, fmt.Errorf("whitepaper %s: %w", doc.Path, err)
	}

	// Pass 1 lays out on a canvas that only counts pages, to learn where
	// each heading lands and how many pages there are; pass 2 draws for
	// real and prints those numbers in the table of contents and footers.
	// The table of contents takes the same room in both passes (its page
	// numbers sit in a fixed right-hand column), so the pages normally agree
	// at once; a third pass settles any disagreement.
	var known []int
	total := 0
	for pass := 1; pass <= 3; pass++ {
		r := newRenderer(ctx, doc, opts, lab, base, m, root, charts)
		r.known, r.total = known, total
		if err := r.run(pass > 1); err != nil {
			return Info{}, err
		}
		pages := r.headingPages()
		if pass > 1 && slices.Equal(pages, known) && r.pdf.PageNo() == total {
			var buf bytes.Buffer
			if err := r.out.Output(&buf); err != nil {
				return Info{}, fmt.Errorf("whitepaper %s: write PDF: %w", doc.Path, err)
			}
			sum := sha256.Sum256(buf.Bytes())
			info = Info{Pages: total, Size: int64(buf.Len()), SHA256: hex.EncodeToString(sum[:]), Warnings: r.warnings}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return Info{}, fmt.Errorf("whitepaper %s: write PDF: %w", doc.Path, err)
			}
			return info, nil
		}
		known, total = pages, r.pdf.PageNo()
	}
	return Info{}, fmt.Errorf("whitepaper %s: page layout did not settle after 3 passes", doc.Path)
}

// Page geometry in millimetres (A4).
const (
	pageW        = 210.0
	pageH        = 297.0
	marginL      = 22.0
	marginR      = 22.0
	marginT      = 27.0
	marginB      = 23.0
	contentW     = pageW - marginL - marginR
	contentBot   = pageH - marginB
	minTextWidth = 60.0 // nesting never squeezes text narrower than this
	eps          = 1e-6
)

type rgb struct{ r, g, b int }

var (
	colText     = rgb{33, 37, 45}
	colAccent   = rgb{20, 62, 107}
	colAccentLt = rgb{225, 233, 243}
	colMuted    = rgb{104, 113, 125}
	colRule     = rgb{206, 212, 220}
	colZebra    = rgb{244, 246, 249}
	colLink     = rgb{16, 88, 170}
	colCodeBg   = rgb{239, 241, 244}
	colQuote    = rgb{64, 70, 82}
	colWhite    = rgb{255, 255, 255}
	colCoverSub = rgb{201, 216, 235}
)

type align int

const (
	alignJustify align = iota
	alignLeft
	alignRight
	alignCenter
)

// textStyle is how a block's text is set.
type textStyle struct {
	size  float64 // points
	lh    float64 // line height, mm
	color rgb
	base  style
	align align
}

var (
	tsBody  = textStyle{size: 10, lh: 5.0, color: colText, align: alignJustify}
	tsH1    = textStyle{size: 16, lh: 7.6, color: colAccent, base: stBold, align: alignLeft}
	tsH2    = textStyle{size: 12.5, lh: 6.2, color: colAccent, base: stBold, align: alignLeft}
	tsH3    = textStyle{size: 10, lh: 5.0, color: colText, base: stBold, align: alignLeft}
	tsTable = textStyle{size: 8.8, lh: 4.3, color: colText, align: alignLeft}
	tsCode  = textStyle{size: 8.6, lh: 4.2, color: colText, base: stCode, align: alignLeft}
)

// heading is a section heading, collected before layout so the table of
// contents can be drawn first.
type heading struct {
	level  int // 1 (##), 2 (###), 3 (deeper: not in the contents)
	text   string
	number string
	id     string
	node   *ast.Heading
	link   int
	page   int
}

type quoteBar struct{ x, top float64 }

type pendingMarker struct {
	text string
	x, w float64 // the marker is right-aligned in [x, x+w]
	ts   textStyle
}

// renderer is one layout pass over the document.
type renderer struct {
	ctx    context.Context
	pdf    canvas
	out    *fpdf.Fpdf // the real PDF; nil in the first pass
	m      *metrics
	doc    *Document
	opts   Options
	lab    labels
	base   *url.URL
	src    []byte
	root   ast.Node
	charts map[ast.Node]*chart // the chart blocks, parsed once for all passes

	heads   []*heading
	byNode  map[*ast.Heading]*heading
	anchors map[string]*heading
	known   []int // heading pages from the previous pass
	total   int   // page count from the previous pass

	y          float64
	lastDrawn  float64 // bottom of the last thing drawn on this page
	pendingGap float64
	quotes     []*quoteBar
	markers    []pendingMarker
	bookLevel  int

	warnings []string
	warned   map[string]bool

	// The graphics state last set, so unchanged settings are not written
	// again for every word (fpdf writes each call into the page).
	curFace    face
	curSize    float64
	curDraw    rgb
	curLW      float64
	stateKnown bool
}

func newRenderer(ctx context.Context, doc *Document, opts Options, lab labels, base *url.URL, m *metrics, root ast.Node, charts map[ast.Node]*chart) *renderer {
	r := &renderer{
		ctx: ctx, m: m, doc: doc, opts: opts, lab: lab, base: base, src: doc.Body, root: root, charts: charts,
		byNode: map[*ast.Heading]*heading{}, anchors: map[string]*heading{}, warned: map[string]bool{},
		bookLevel: -1,
	}
	r.forgetState()
	r.collectHeadings()
	return r
}

func (r *renderer) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !r.warned[msg] {
		r.warned[msg] = true
		r.warnings = append(r.warnings, msg)
	}
}

// collectHeadings numbers the headings. The shallowest heading level used
// in the body becomes level 1, whatever its number of #s.
func (r *renderer) collectHeadings() {
	minLevel := 7
	_ = ast.Walk(r.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			minLevel = min(minLevel, h.Level)
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	var n1, n2 int
	_ = ast.Walk(r.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !ok || !entering {
			return ast.WalkContinue, nil
		}
		hd := &heading{level: min(h.Level-minLevel+1, 3), node: h, text: clean(r.m.sanitize(plainText(r.src, h)))}
		switch hd.level {
		case 1:
			n1, n2 = n1+1, 0
			hd.number = fmt.Sprint(n1)
		case 2:
			n2++
			if n1 > 0 {
				hd.number = fmt.Sprintf("%d.%d", n1, n2)
			}
		}
		if id, ok := h.AttributeString("id"); ok {
			if b, ok := id.([]byte); ok {
				hd.id = string(b)
				if _, dup := r.anchors[hd.id]; !dup {
					r.anchors[hd.id] = hd
				}
			}
		}
		r.heads = append(r.heads, hd)
		r.byNode[h] = hd
		return ast.WalkSkipChildren, nil
	})
}

// inTOC reports whether h is listed in the table of contents.
func (h *heading) inTOC() bool { return h.level <= 2 && h.text != "" }

func (r *renderer) headingPages() []int {
	out := make([]int, len(r.heads))
	for i, h := range r.heads {
		out[i] = h.page
	}
	return out
}

// run lays the document out once, on fpdf when draw is set and on a
// dryCanvas otherwise.
func (r *renderer) run(draw bool) error {
	if !draw {
		r.pdf = &dryCanvas{}
		return r.layout()
	}
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "P", UnitStr: "mm", SizeStr: "A4"})
	r.pdf, r.out = pdf, pdf
	pdf.SetCatalogSort(true) // fpdf otherwise writes fonts in map order
	pdf.SetCreationDate(r.doc.Date)
	pdf.SetModificationDate(r.doc.Lastmod)
	pdf.SetProducer("kb whitepaper renderer "+RendererVersion+" (fpdf)", true)
	pdf.SetCreator("kb", true)
	pdf.SetTitle(r.doc.Title, true)
	author := r.doc.Author
	if author == "" {
		author = r.opts.Firm
	}
	if author != "" {
		pdf.SetAuthor(author, true)
	}
	if r.doc.Description != "" {
		pdf.SetSubject(r.doc.Description, true)
	}
	keywords := r.doc.Keywords
	if len(keywords) == 0 {
		keywords = []string{r.doc.Title}
	}
	pdf.SetKeywords(strings.Join(keywords, ", "), true)
	pdf.SetLang(r.lab.lang)
	pdf.SetDisplayMode("default", "continuous")
	pdf.SetMargins(marginL, marginT, marginR)
	pdf.SetAutoPageBreak(false, marginB) // every break is decided here
	pdf.SetCellMargin(0)
	addFonts(pdf)
	pdf.SetHeaderFuncMode(r.header, false)
	pdf.SetFooterFunc(r.footer)
	if err := r.layout(); err != nil {
		return err
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("whitepaper %s: %w", r.doc.Path, err)
	}
	return nil
}

func (r *renderer) layout() error {
	r.cover()
	r.contents()
	r.newPage()
	return r.blocks(r.root, box{x: marginL, w: contentW, ts: tsBody})
}

// canvas is the part of fpdf the layout draws with; *fpdf.Fpdf implements
// it. The first pass draws on a dryCanvas, which only counts pages and
// links, so learning the page numbers costs no PDF work.
type canvas interface {
	AddPage()
	PageNo() int
	AddLink() int
	SetLink(link int, y float64, page int)
	Link(x, y, w, h float64, link int)
	LinkString(x, y, w, h float64, linkStr string)
	Bookmark(txtStr string, level int, y float64)
	SetFont(familyStr, styleStr string, size float64)
	SetTextColor(r, g, b int)
	SetFillColor(r, g, b int)
	SetDrawColor(r, g, b int)
	SetLineWidth(width float64)
	SetLineCapStyle(styleStr string)
	SetDashPattern(dashArray []float64, dashPhase float64)
	Text(x, y float64, txtStr string)
	Rect(x, y, w, h float64, styleStr string)
	Line(x1, y1, x2, y2 float64)
}

type dryCanvas struct{ pages, links int }

func (d *dryCanvas) AddPage()                                              { d.pages++ }
func (d *dryCanvas) PageNo() int                                           { return d.pages }
func (d *dryCanvas) AddLink() int                                          { d.links++; return d.links }
func (d *dryCanvas) SetLink(int, float64, int)                             {}
func (d *dryCanvas) Link(float64, float64, float64, float64, int)          {}
func (d *dryCanvas) LinkString(float64, float64, float64, float64, string) {}
func (d *dryCanvas) Bookmark(string, int, float64)                         {}
func (d *dryCanvas) SetFont(string, string, float64)                       {}
func (d *dryCanvas) SetTextColor(int, int, int)                            {}
func (d *dryCanvas) SetFillColor(int, int, int)                            {}
func (d *dryCanvas) SetDrawColor(int, int, int)                            {}
func (d *dryCanvas) SetLineWidth(float64)                                  {}
func (d *dryCanvas) SetLineCapStyle(string)                                {}
func (d *dryCanvas) SetDashPattern([]float64, float64)                     {}
func (d *dryCanvas) Text(float64, float64, string)                         {}
func (d *dryCanvas) Rect(float64, float64, float64, float64, string)       {}
func (d *dryCanvas) Line(float64, float64, float64, float64)               {}

// --- page flow -----------------------------------------------------------

func (r *renderer) atTop() bool { return r.y <= marginT+eps }

// newPage closes the blockquote rules on this page and opens a new page.
func (r *renderer) newPage() {
	for _, q := range r.quotes {
		r.quoteRule(q, r.lastDrawn)
	}
	r.addPage()
	r.y, r.lastDrawn, r.pendingGap = marginT, marginT, 0
	for _, q := range r.quotes {
		q.top = marginT
	}
}

// ensure starts a new page unless h millimetres fit below the current
// position (a new page is pointless when already at the top).
func (r *renderer) ensure(h float64) bool {
	if r.y+h > contentBot+eps && !r.atTop() {
		r.newPage()
		return true
	}
	return false
}

// startBlock applies the larger of the pending gap and gap, except at the
// top of a page where gaps vanish.
func (r *renderer) startBlock(gap float64) {
	g := max(r.pendingGap, gap)
	r.pendingGap = 0
	if !r.atTop() {
		r.y += g
	}
}

func (r *renderer) advance(h float64) {
	r.y += h
	r.lastDrawn = r.y
}

func (r *renderer) header() {
	if r.pdf.PageNo() <= 1 {
		return
	}
	r.forgetState() // fpdf has just restored its own state for the new page
	r.font(faceRegular, 8)
	r.textColor(colMuted)
	right := r.opts.Firm
	rw := r.m.width(faceRegular, 8, right)
	title := r.fitText(faceRegular, 8, r.doc.Title, contentW-rw-10)
	r.pdf.Text(marginL, 15, title)
	r.pdf.Text(pageW-marginR-rw, 15, right)
	r.drawColor(colRule)
	r.lineWidth(0.2)
	r.pdf.Line(marginL, 17.5, pageW-marginR, 17.5)
}

func (r *renderer) footer() {
	n := r.pdf.PageNo()
	if n <= 1 {
		return
	}
	r.forgetState()
	total := r.total
	if total < n {
		total = n
	}
	r.drawColor(colRule)
	r.lineWidth(0.2)
	r.pdf.Line(marginL, pageH-15.5, pageW-marginR, pageH-15.5)
	r.font(faceRegular, 8)
	r.textColor(colMuted)
	left := r.monthYear()
	if r.doc.Version != "" {
		left = fmt.Sprintf(r.lab.version, r.doc.Version) + " · " + left
	}
	r.pdf.Text(marginL, pageH-11, r.fitText(faceRegular, 8, left, contentW/2))
	pg := fmt.Sprintf(r.lab.page, n, total)
	r.pdf.Text(pageW-marginR-r.m.width(faceRegular, 8, pg), pageH-11, pg)
}

func (r *renderer) monthYear() string {
	return fmt.Sprintf("%s %d", r.lab.months[r.doc.Date.Month()-1], r.doc.Date.Year())
}

// fitText shortens s with an ellipsis to fit w.
func (r *renderer) fitText(f face, size float64, s string, w float64) string {
	s = r.m.sanitize(s)
	if r.m.width(f, size, s) <= w {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && r.m.width(f, size, string(rs)+"…") > w {
		rs = rs[:len(rs)-1]
	}
	return strings.TrimSpace(string(rs)) + "…"
}
