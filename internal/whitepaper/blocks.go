package whitepaper

import (
	"fmt"
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
)

// box is the horizontal extent and text style blocks are laid out in.
type box struct {
	x, w      float64
	ts        textStyle
	listDepth int
}

const (
	listIndent  = 6.5
	quoteIndent = 7.0
	// Nesting deeper than this keeps its parent's indentation: a list
	// nested fifty levels deep is still readable, just no longer staircased.
	maxIndentDepth = 8
	itemGap        = 1.3
)

func paraGap(ts textStyle) float64 { return ts.lh * 0.56 }

// indent narrows b by d unless that would squeeze the text too much.
func (b box) indent(d float64) box {
	if b.w-d < minTextWidth {
		return b
	}
	b.x += d
	b.w -= d
	return b
}

func (r *renderer) blocks(parent ast.Node, b box) error {
	for c := parent.FirstChild(); c != nil; c = c.NextSibling() {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := r.block(c, b); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) block(n ast.Node, b box) error {
	switch n := n.(type) {
	case *ast.Heading:
		return r.heading(n, b)
	case *ast.Paragraph:
		return r.paragraph(n, b, paraGap(b.ts))
	case *ast.TextBlock:
		return r.paragraph(n, b, itemGap)
	case *ast.List:
		return r.list(n, b)
	case *ast.Blockquote:
		return r.blockquote(n, b)
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		if c := r.charts[n]; c != nil {
			return r.chart(c, b)
		}
		return r.codeBlock(n, b)
	case *ast.ThematicBreak:
		r.thematicBreak(b)
	case *east.Table:
		return r.table(n, b)
	case *ast.HTMLBlock:
		// Raw HTML is never interpreted.
	default:
		return r.blocks(n, b)
	}
	return nil
}

// textLines lays out inline content n in b.
func (r *renderer) textLines(n ast.Node, ts textStyle, w float64) []line {
	return r.breakLines(r.words(r.spans(n, ts.base, "", nil), ts.size), w, ts.size)
}

// plainLines lays out a plain string.
func (r *renderer) plainLines(s string, st style, ts textStyle, w float64) []line {
	return r.breakLines(r.words([]span{{text: s, st: st}}, ts.size), w, ts.size)
}

func (r *renderer) paragraph(n ast.Node, b box, after float64) error {
	lines := r.textLines(n, b.ts, b.w)
	if len(lines) == 0 {
		return nil
	}
	r.startBlock(0)
	// A short paragraph that introduces what follows ("…the steps are:")
	// stays with the start of it, as a heading does.
	if next := n.NextSibling(); next != nil && len(lines) <= 4 && endsWithColon(lines) {
		if need := float64(len(lines))*b.ts.lh + after + r.minHeight(next, b, 1); need <= contentBot-marginT {
			r.ensure(need)
		}
	}
	if err := r.flowLines(lines, b.x, b.w, b.ts); err != nil {
		return err
	}
	r.pendingGap = max(r.pendingGap, after)
	return nil
}

func endsWithColon(lines []line) bool {
	ws := lines[len(lines)-1].words
	if len(ws) == 0 {
		return false
	}
	fs := ws[len(ws)-1].frags
	return len(fs) > 0 && strings.HasSuffix(fs[len(fs)-1].text, ":")
}

// headingStyle returns the text style and the space before and after a
// heading of the given level.
func headingStyle(level int) (ts textStyle, before, after float64) {
	switch level {
	case 1:
		return tsH1, 10, 4.2
	case 2:
		return tsH2, 6.5, 2.2
	}
	return tsH3, 4.5, 1.2
}

func (r *renderer) headingLines(h *heading, ts textStyle, w float64) []line {
	sp := r.spans(h.node, ts.base, "", nil)
	if h.number != "" {
		sp = append([]span{{text: h.number + "\u00a0", st: ts.base}}, sp...)
	}
	return r.breakLines(r.words(sp, ts.size), w, ts.size)
}

// headingRule is the extra height of the rule under level-1 headings.
const headingRule = 2.6

func (r *renderer) heading(n *ast.Heading, b box) error {
	h := r.byNode[n]
	ts, before, after := headingStyle(h.level)
	lines := r.headingLines(h, ts, b.w)
	height := float64(len(lines)) * ts.lh
	if h.level == 1 {
		height += headingRule
	}
	r.startBlock(before)
	// Keep with next: the heading moves to the next page unless the start
	// of what follows fits below it.
	need := height + after + r.minHeight(n.NextSibling(), b, 0)
	if need > contentBot-marginT {
		need = height
	}
	r.ensure(need)
	h.page = r.pdf.PageNo()
	r.pdf.SetLink(h.link, r.y, -1)
	r.bookmark(h.text, h.level-1)
	if err := r.flowLines(lines, b.x, b.w, ts); err != nil {
		return err
	}
	if h.level == 1 {
		r.drawColor(colAccentLt)
		r.lineWidth(0.5)
		r.pdf.Line(b.x, r.y+1.2, b.x+b.w, r.y+1.2)
		r.advance(headingRule)
	}
	r.pendingGap = after
	return nil
}

// bookmark adds an outline entry, never deeper than one below the previous
// entry (fpdf links a skipped level to the wrong parent).
func (r *renderer) bookmark(text string, level int) {
	if text == "" {
		return
	}
	level = max(0, min(level, r.bookLevel+1))
	r.bookLevel = level
	r.font(faceBold, 10) // Bookmark encodes as UTF-16 only under a UTF-8 font
	r.pdf.Bookmark(text, level, r.y)
}

// minHeight is how much of block n must fit below a heading for the heading
// to stay on this page: two lines of a paragraph, a table's header and first
// row, and so on.
func (r *renderer) minHeight(n ast.Node, b box, depth int) float64 {
	if n == nil || depth > 3 {
		return 0
	}
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		lines := r.textLines(n, b.ts, b.w)
		return float64(min(len(lines), 2)) * b.ts.lh
	case *ast.Heading:
		h := r.byNode[n]
		ts, before, after := headingStyle(h.level)
		return before + float64(len(r.headingLines(h, ts, b.w)))*ts.lh + after + r.minHeight(n.NextSibling(), b, depth+1)
	case *ast.List:
		if item := n.FirstChild(); item != nil {
			if h := r.minHeight(item.FirstChild(), b.indent(listIndent), depth+1); h > 0 {
				return h
			}
		}
		return b.ts.lh
	case *ast.Blockquote:
		return r.minHeight(n.FirstChild(), b.indent(quoteIndent), depth+1)
	case *east.Table:
		return r.tableMinHeight(n, b)
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		if c := r.charts[n]; c != nil {
			return r.chartHeight(c, b) // a chart is never split
		}
		return float64(min(n.Lines().Len(), 3))*tsCode.lh + 5
	case *ast.HTMLBlock:
		return r.minHeight(n.NextSibling(), b, depth+1)
	}
	return 2 * b.ts.lh
}

func (r *renderer) list(l *ast.List, b box) error {
	depth := b.listDepth + 1
	ib := b
	if depth <= maxIndentDepth {
		ib = b.indent(listIndent)
	}
	ib.listDepth = depth
	gap := paraGap(b.ts)
	if b.listDepth > 0 {
		gap = itemGap
	}
	r.startBlock(gap)
	num := l.Start
	bullets := []string{"•", "–", "◦"}
	for item := l.FirstChild(); item != nil; item = item.NextSibling() {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if item != l.FirstChild() {
			r.startBlock(itemGap)
		}
		text := bullets[(depth-1)%len(bullets)]
		if l.IsOrdered() {
			text = fmt.Sprintf("%d%c", num, l.Marker)
			num++
		}
		r.markers = append(r.markers, pendingMarker{text: text, x: ib.x - listIndent, w: listIndent - 2, ts: b.ts})
		if err := r.blocks(item, ib); err != nil {
			return err
		}
		if len(r.markers) > 0 { // an empty item: its marker alone
			r.ensure(b.ts.lh)
			r.drawMarkers(b.ts)
			r.advance(b.ts.lh)
		}
	}
	r.pendingGap = max(r.pendingGap, gap)
	return nil
}

func (r *renderer) blockquote(n *ast.Blockquote, b box) error {
	r.startBlock(paraGap(b.ts))
	ib := b.indent(quoteIndent)
	ib.ts.base |= stItalic
	ib.ts.color = colQuote
	ib.ts.align = alignLeft
	var q *quoteBar
	if ib.x > b.x { // no room for a rule when nesting has used it up
		q = &quoteBar{x: b.x + 1.5, top: r.y}
		r.quotes = append(r.quotes, q)
	}
	err := r.blocks(n, ib)
	if q != nil {
		r.quotes = r.quotes[:len(r.quotes)-1]
		r.quoteRule(q, r.lastDrawn)
	}
	r.pendingGap = max(r.pendingGap, paraGap(b.ts))
	return err
}

func (r *renderer) codeBlock(n ast.Node, b box) error {
	const pad = 2.4
	ts := tsCode
	w := b.w - 2*pad - 1
	var vis []line
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		s := strings.TrimRight(string(seg.Value(r.src)), "\r\n")
		s = r.m.sanitize(strings.ReplaceAll(s, "\t", "    "))
		if s == "" {
			vis = append(vis, line{last: true})
			continue
		}
		wd := word{frags: []frag{{text: s, st: stCode, w: r.m.width(faceMono, ts.size, s)}}}
		wd.w = wd.frags[0].w
		for _, p := range r.breakLines([]word{wd}, w, ts.size) {
			vis = append(vis, p)
		}
	}
	if len(vis) == 0 {
		return nil
	}
	r.startBlock(paraGap(b.ts))
	for i := 0; i < len(vis); {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		fit := int((contentBot - r.y - 2*pad + eps) / ts.lh)
		if fit < min(2, len(vis)-i) && !r.atTop() {
			r.newPage()
			continue
		}
		n := max(1, min(fit, len(vis)-i))
		h := float64(n)*ts.lh + 2*pad
		r.fillColor(colCodeBg)
		r.pdf.Rect(b.x, r.y, b.w, h, "F")
		r.drawMarkers(b.ts)
		top := r.y
		r.y += pad
		for _, ln := range vis[i : i+n] {
			r.drawLine(ln, b.x+pad+0.5, w, ts)
		}
		r.y = top
		r.advance(h)
		i += n
		if i < len(vis) {
			r.newPage()
		}
	}
	r.pendingGap = paraGap(b.ts)
	return nil
}

func (r *renderer) thematicBreak(b box) {
	r.startBlock(paraGap(b.ts))
	r.ensure(6)
	r.drawMarkers(b.ts)
	r.drawColor(colRule)
	r.lineWidth(0.3)
	mid := b.x + b.w/2
	r.pdf.Line(mid-b.w/4, r.y+3, mid+b.w/4, r.y+3)
	r.advance(6)
	r.pendingGap = paraGap(b.ts)
}
