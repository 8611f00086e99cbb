package whitepaper

import (
	"fmt"
	"net/url"
	"strings"
)

var (
	tsCoverFirm  = textStyle{size: 10.5, lh: 5.2, color: colWhite, base: stBold, align: alignLeft}
	tsCoverKind  = textStyle{size: 9, lh: 5, color: colCoverSub, base: stBold, align: alignLeft}
	tsCoverTitle = textStyle{size: 30, lh: 12.4, color: colWhite, base: stBold, align: alignLeft}
	tsCoverSub   = textStyle{size: 13.5, lh: 6.8, color: colCoverSub, align: alignLeft}
	tsCoverDesc  = textStyle{size: 11.5, lh: 6.2, color: colMuted, align: alignLeft}
	tsCoverLabel = textStyle{size: 8, lh: 4.4, color: colMuted, align: alignLeft}
	tsCoverValue = textStyle{size: 11, lh: 5.6, color: colText, base: stBold, align: alignLeft}
	tsCoverFoot  = textStyle{size: 8.5, lh: 4.4, color: colMuted, align: alignLeft}
	tsTOC1       = textStyle{size: 10.5, lh: 5.6, color: colText, base: stBold, align: alignLeft}
	tsTOC2       = textStyle{size: 10, lh: 5.2, color: colText, align: alignLeft}
)

// limit keeps at most n lines, ending the last kept one with an ellipsis:
// the cover has room for a long title, not for a hostile one.
func (r *renderer) limit(lines []line, n int, ts textStyle) []line {
	if len(lines) <= n {
		return lines
	}
	lines = lines[:n]
	last := &lines[n-1]
	last.last = true
	ell := r.m.width(faceOf(ts.base), ts.size, "…")
	last.words = append(last.words, word{frags: []frag{{text: "…", st: ts.base, w: ell}}, w: ell})
	return lines
}

// drawAt draws lines from y without page breaks and returns the y below.
func (r *renderer) drawAt(lines []line, x, y, w float64, ts textStyle) float64 {
	r.y = y
	for _, ln := range lines {
		r.drawLine(ln, x, w, ts)
	}
	return r.y
}

func (r *renderer) cover() {
	r.addPage()
	x, w := marginL, contentW
	firm := r.opts.Firm
	if firm == "" {
		firm = r.doc.Author
	}
	title := r.limit(r.plainLines(r.doc.Title, tsCoverTitle.base, tsCoverTitle, w), 5, tsCoverTitle)
	var sub []line
	if r.doc.Subtitle != "" {
		sub = r.limit(r.plainLines(r.doc.Subtitle, 0, tsCoverSub, w*0.9), 4, tsCoverSub)
	}
	titleTop := 78.0
	bandBottom := max(titleTop+float64(len(title))*tsCoverTitle.lh+6+float64(len(sub))*tsCoverSub.lh+18, 132)

	r.fillColor(colAccent)
	r.pdf.Rect(0, 0, pageW, bandBottom, "F")
	r.fillColor(colLink)
	r.pdf.Rect(0, bandBottom, pageW, 1.8, "F")

	if firm != "" {
		r.drawAt(r.limit(r.plainLines(firm, tsCoverFirm.base, tsCoverFirm, w), 2, tsCoverFirm), x, 22, w, tsCoverFirm)
	}
	r.drawColor(colCoverSub)
	r.lineWidth(0.3)
	r.pdf.Line(x, titleTop-12, x+18, titleTop-12)
	r.drawAt(r.plainLines(r.lab.kind, tsCoverKind.base, tsCoverKind, w), x, titleTop-9.5, w, tsCoverKind)
	y := r.drawAt(title, x, titleTop, w, tsCoverTitle)
	r.drawAt(sub, x, y+6, w*0.9, tsCoverSub)

	y = bandBottom + 16
	if r.doc.Description != "" {
		desc := r.limit(r.plainLines(r.doc.Description, 0, tsCoverDesc, w*0.88), 8, tsCoverDesc)
		y = r.drawAt(desc, x, y, w*0.88, tsCoverDesc)
	}

	// Publication details in three columns above the foot of the page.
	metaTop := max(y+14, 226)
	cols := []struct{ label, value string }{{r.lab.issued, r.monthYear()}}
	if r.doc.Version != "" {
		cols = append(cols, struct{ label, value string }{r.lab.edition, fmt.Sprintf(r.lab.version, r.doc.Version)})
	}
	if r.doc.Author != "" {
		cols = append(cols, struct{ label, value string }{r.lab.author, r.doc.Author})
	}
	colW := []float64{44, 40, w - 84}
	cx := x
	r.drawColor(colRule)
	r.lineWidth(0.2)
	r.pdf.Line(x, metaTop-4, x+w, metaTop-4)
	for i, c := range cols {
		cw := colW[i]
		if i == len(cols)-1 {
			cw = x + w - cx
		}
		r.drawAt(r.plainLines(strings.ToUpper(c.label), 0, tsCoverLabel, cw-4), cx, metaTop, cw-4, tsCoverLabel)
		r.drawAt(r.limit(r.plainLines(c.value, tsCoverValue.base, tsCoverValue, cw-4), 3, tsCoverValue), cx, metaTop+tsCoverLabel.lh+0.6, cw-4, tsCoverValue)
		cx += cw
	}

	// Foot: who publishes it and where to find more.
	footTop := pageH - 26.0
	r.drawColor(colAccent)
	r.lineWidth(0.5)
	r.pdf.Line(x, footTop, x+w, footTop)
	var foot []string
	if firm != "" {
		foot = append(foot, firm)
	}
	if r.opts.FirmAddress != "" {
		foot = append(foot, r.opts.FirmAddress)
	}
	fy := footTop + 3
	fw := w
	if r.base != nil {
		host := hostOf(r.base)
		hw := r.m.width(faceBold, tsCoverFoot.size, host)
		hl := r.plainLines(host, stBold, tsCoverFoot, hw+1)
		r.drawAt(hl, x+w-hw, fy, hw+1, tsCoverFoot)
		fw = w - hw - 6
	}
	r.drawAt(r.limit(r.plainLines(strings.Join(foot, " · "), 0, tsCoverFoot, fw), 3, tsCoverFoot), x, fy, fw, tsCoverFoot)
}

func hostOf(u *url.URL) string {
	return strings.TrimPrefix(u.Host, "www.")
}

// contents draws the table of contents. In the first pass the page numbers
// are unknown and left blank; they sit in a fixed right-hand column, so
// the entries take the same room in both passes.
func (r *renderer) contents() {
	for _, h := range r.heads {
		h.link = r.pdf.AddLink()
	}
	listed := false
	for _, h := range r.heads {
		listed = listed || h.inTOC()
	}
	if !listed {
		return
	}
	r.newPage()
	r.bookmark(r.lab.toc, 0)
	_ = r.flowLines(r.plainLines(r.lab.toc, tsH1.base, tsH1, contentW), marginL, contentW, tsH1)
	r.drawColor(colAccentLt)
	r.lineWidth(0.5)
	r.pdf.Line(marginL, r.y+1.2, marginL+contentW, r.y+1.2)
	r.advance(headingRule)
	r.pendingGap = 5

	const (
		num1    = 9.0  // number column of level-1 entries
		indent2 = 9.0  // level-2 entries start under level-1 titles
		num2    = 11.0 // number column of level-2 entries
		pageCol = 12.0 // right-hand page-number column
	)
	first := true
	for i, h := range r.heads {
		if !h.inTOC() {
			continue
		}
		ts, numW, x0, gap := tsTOC1, num1, marginL, 3.4
		if h.level == 2 {
			ts, numW, x0, gap = tsTOC2, num2, marginL+indent2, 0.9
		}
		if first {
			gap = 0
		}
		first = false
		textX := x0 + numW
		textW := marginL + contentW - pageCol - textX
		lines := r.plainLines(h.text, ts.base, ts, textW)
		r.startBlock(gap)
		r.ensure(float64(min(len(lines), 3)) * ts.lh)
		top, page := r.y, r.pdf.PageNo()
		if h.number != "" {
			numTS := ts
			numTS.color = colAccent
			r.drawAt(r.plainLines(h.number, ts.base, numTS, numW), x0, top, numW, numTS)
			r.y = top
		}
		_ = r.flowLines(lines, textX, textW, ts) // only a cancelled context fails; the body checks it next
		lastTop := r.y - ts.lh
		if r.pdf.PageNo() == page {
			r.pdf.Link(x0, top, marginL+contentW-x0, r.y-top, h.link)
		} else {
			r.pdf.Link(x0, marginT, marginL+contentW-x0, r.y-marginT, h.link)
		}
		// Dotted leader from the end of the title to the page number.
		endX := textX + lines[len(lines)-1].w + 2
		numX := marginL + contentW - pageCol + 2
		bl := baseline(lastTop, ts.lh, ts.size)
		if numX-endX > 3 {
			r.drawColor(colRule)
			r.lineWidth(0.35)
			r.pdf.SetLineCapStyle("round")
			r.pdf.SetDashPattern([]float64{0.01, 1.4}, 0)
			r.pdf.Line(endX, bl, numX, bl)
			r.pdf.SetDashPattern([]float64{}, 0)
			r.pdf.SetLineCapStyle("butt")
		}
		if r.known != nil && i < len(r.known) {
			pg := fmt.Sprint(r.known[i])
			f := faceOf(ts.base)
			r.font(f, ts.size)
			r.textColor(colText)
			r.pdf.Text(marginL+contentW-r.m.width(f, ts.size, pg), bl, pg)
		}
	}
}
