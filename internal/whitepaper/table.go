package whitepaper

import (
	"strings"
	"unicode"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
)

const (
	cellPadX = 1.8
	cellPadY = 1.4
)

type cellLayout struct {
	lines []line
	align align
}

type rowLayout struct {
	cells []cellLayout
	lines int // the tallest cell's line count
}

type tableLayout struct {
	widths []float64
	header *rowLayout
	rows   []rowLayout
}

func (tl *tableLayout) height(row *rowLayout, from int) float64 {
	return float64(max(row.lines-from, 0))*tsTable.lh + 2*cellPadY
}

// layoutTable sizes the columns like a browser's automatic table layout:
// every column gets at least its longest word, the rest of the width is
// shared in proportion to how much each column's text wants; then every
// cell wraps to its column.
func (r *renderer) layoutTable(t *east.Table, b box) *tableLayout {
	type cellWords struct {
		words []word
		text  string
	}
	var header []cellWords
	var body [][]cellWords
	ncols := len(t.Alignments)
	cells := func(row ast.Node, st style) []cellWords {
		var out []cellWords
		for c := row.FirstChild(); c != nil; c = c.NextSibling() {
			if _, ok := c.(*east.TableCell); !ok {
				continue
			}
			ts := tsTable
			out = append(out, cellWords{
				words: r.words(r.spans(c, st, "", nil), ts.size),
				text:  plainText(r.src, c),
			})
		}
		ncols = max(ncols, len(out))
		return out
	}
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		switch row.(type) {
		case *east.TableHeader:
			header = cells(row, stBold)
		case *east.TableRow:
			body = append(body, cells(row, 0))
		}
	}
	if ncols == 0 {
		return nil
	}
	W := b.w
	natural := make([]float64, ncols)
	minimum := make([]float64, ncols)
	numericCol := make([]bool, ncols)
	nonEmpty := make([]bool, ncols)
	for j := range numericCol {
		numericCol[j] = true
	}
	measure := func(row []cellWords, isBody bool) {
		for j, c := range row {
			nat, longest := 0.0, 0.0
			for _, wd := range c.words {
				nat += wd.w + wd.space
				longest = max(longest, wd.w)
			}
			natural[j] = max(natural[j], min(nat, W)+2*cellPadX)
			minimum[j] = max(minimum[j], longest+2*cellPadX)
			if isBody && strings.TrimSpace(c.text) != "" {
				nonEmpty[j] = true
				numericCol[j] = numericCol[j] && numeric(c.text)
			}
		}
	}
	measure(header, false)
	for _, row := range body {
		measure(row, true)
	}
	widths := columnWidths(natural, minimum, W)
	aligns := make([]align, ncols)
	for j := range aligns {
		a := east.AlignNone
		if j < len(t.Alignments) {
			a = t.Alignments[j]
		}
		switch {
		case a == east.AlignRight:
			aligns[j] = alignRight
		case a == east.AlignCenter:
			aligns[j] = alignCenter
		case a == east.AlignLeft:
			aligns[j] = alignLeft
		case numericCol[j] && nonEmpty[j]:
			aligns[j] = alignRight
		default:
			aligns[j] = alignLeft
		}
	}
	build := func(row []cellWords) rowLayout {
		rl := rowLayout{cells: make([]cellLayout, ncols), lines: 1}
		for j := range rl.cells {
			rl.cells[j].align = aligns[j]
			if j < len(row) {
				rl.cells[j].lines = r.breakLines(row[j].words, widths[j]-2*cellPadX, tsTable.size)
				rl.lines = max(rl.lines, len(rl.cells[j].lines))
			}
		}
		return rl
	}
	tl := &tableLayout{widths: widths}
	if len(header) > 0 {
		h := build(header)
		tl.header = &h
	}
	for _, row := range body {
		tl.rows = append(tl.rows, build(row))
	}
	return tl
}

// columnWidths shares W between columns. Columns whose text fits in a
// fair share get their natural width, so short columns (dates, amounts)
// never wrap; the rest share what is left in proportion to how much each
// wants beyond its longest word, as a browser's automatic layout does.
func columnWidths(natural, minimum []float64, W float64) []float64 {
	n := len(natural)
	widths := make([]float64, n)
	fixed := make([]bool, n)
	for j := range natural {
		natural[j] = max(natural[j], minimum[j], 8)
	}
	rest, left := W, n
	for changed := true; changed && left > 0; {
		changed = false
		share := rest / float64(left)
		for j := range natural {
			if !fixed[j] && natural[j] <= share {
				fixed[j], widths[j] = true, natural[j]
				rest -= natural[j]
				left--
				changed = true
			}
		}
	}
	if left == 0 {
		// Everything fits: stretch to the full width in proportion.
		sum := W - rest
		for j := range widths {
			widths[j] += rest * widths[j] / sum
		}
		return widths
	}
	sumNat, sumMin := 0.0, 0.0
	for j := range natural {
		if !fixed[j] {
			sumNat += natural[j]
			sumMin += minimum[j]
		}
	}
	for j := range widths {
		switch {
		case fixed[j]:
		case sumMin >= rest:
			// Even the longest words do not fit: shrink in proportion and
			// let the line breaker cut the words.
			widths[j] = rest * minimum[j] / sumMin
		default:
			widths[j] = minimum[j] + (rest-sumMin)*(natural[j]-minimum[j])/(sumNat-sumMin)
		}
	}
	return widths
}

// numeric reports whether a cell holds a number, an amount or a percentage
// ("32 500", "−3 500", "+10 800", "12,5%", "1 200 zł").
func numeric(s string) bool {
	s = strings.TrimSpace(s)
	for _, unit := range []string{"%", "zł", "PLN", "EUR", "€", "USD", "$"} {
		s = strings.TrimSpace(strings.TrimSuffix(s, unit))
	}
	s = strings.TrimLeft(s, "+-−±")
	digits := 0
	for _, c := range s {
		switch {
		case unicode.IsDigit(c):
			digits++
		case c == ' ' || c == '\u00a0' || c == '\u202f' || c == '.' || c == ',':
		default:
			return false
		}
	}
	return digits > 0
}

func (r *renderer) tableMinHeight(t *east.Table, b box) float64 {
	tl := r.layoutTable(t, b)
	if tl == nil {
		return 0
	}
	// The header never stands alone: it needs its first two rows below it.
	h := 0.0
	if tl.header != nil {
		h += tl.height(tl.header, 0)
	}
	for i := range min(len(tl.rows), 2) {
		h += tl.height(&tl.rows[i], 0)
	}
	return min(h, contentBot-marginT)
}

func (r *renderer) table(t *east.Table, b box) error {
	tl := r.layoutTable(t, b)
	if tl == nil {
		return nil
	}
	r.startBlock(paraGap(b.ts))
	r.ensure(r.tableMinHeight(t, b))
	r.drawMarkers(b.ts)
	r.tableHeader(tl, b.x)
	for i := range tl.rows {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		// The last row does not go over to a new page alone: the one
		// before it goes with it.
		if n := len(tl.rows); i == n-2 && i > 0 {
			h := tl.height(&tl.rows[i], 0) + tl.height(&tl.rows[i+1], 0)
			if r.y+tl.height(&tl.rows[i], 0) <= contentBot+eps && r.y+h > contentBot+eps && h <= contentBot-marginT {
				r.newPage()
				r.tableHeader(tl, b.x)
			}
		}
		r.tableRow(tl, &tl.rows[i], i, b.x)
	}
	r.drawColor(colAccent)
	r.lineWidth(0.4)
	r.pdf.Line(b.x, r.y, b.x+b.w, r.y)
	r.pendingGap = paraGap(b.ts)
	return nil
}

func (r *renderer) tableHeader(tl *tableLayout, x float64) {
	if tl.header == nil {
		return
	}
	r.rowSlice(tl, tl.header, x, 0, tl.header.lines, &colAccent, colWhite)
}

// tableRow draws one body row. A row that does not fit moves to the next
// page under a repeated header; a row taller than a whole page is split
// between lines.
func (r *renderer) tableRow(tl *tableLayout, row *rowLayout, i int, x float64) {
	var fill *rgb
	if i%2 == 1 {
		fill = &colZebra
	}
	headerH := 0.0
	if tl.header != nil {
		headerH = tl.height(tl.header, 0)
	}
	for from := 0; from < row.lines; {
		need := tl.height(row, from)
		if r.y+need <= contentBot+eps {
			r.rowSlice(tl, row, x, from, row.lines-from, fill, colText)
			return
		}
		if need <= contentBot-marginT-headerH {
			r.newPage()
			r.tableHeader(tl, x)
			continue
		}
		fit := int((contentBot - r.y - 2*cellPadY + eps) / tsTable.lh)
		if fit < 1 {
			r.newPage()
			r.tableHeader(tl, x)
			continue
		}
		r.rowSlice(tl, row, x, from, fit, fill, colText)
		from += fit
		r.newPage()
		r.tableHeader(tl, x)
	}
}

// rowSlice draws lines [from, from+n) of every cell of row.
func (r *renderer) rowSlice(tl *tableLayout, row *rowLayout, x float64, from, n int, fill *rgb, color rgb) {
	h := float64(n)*tsTable.lh + 2*cellPadY
	total := 0.0
	for _, w := range tl.widths {
		total += w
	}
	if fill != nil {
		r.fillColor(*fill)
		r.pdf.Rect(x, r.y, total, h, "F")
	}
	top := r.y
	cx := x
	for j, c := range row.cells {
		ts := tsTable
		ts.color = color
		ts.align = c.align
		r.y = top + cellPadY
		end := min(from+n, len(c.lines))
		for k := from; k < end; k++ {
			r.drawLine(c.lines[k], cx+cellPadX, tl.widths[j]-2*cellPadX, ts)
		}
		cx += tl.widths[j]
	}
	r.y = top
	r.advance(h)
	if fill == nil || *fill != colAccent {
		r.drawColor(colRule)
		r.lineWidth(0.2)
		r.pdf.Line(x, r.y, x+total, r.y)
	}
}
