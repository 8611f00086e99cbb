package whitepaper

import "strings"

// The drawing primitives the layout uses: graphics state set only when it
// changes, lines of words, and the flow of lines across pages.

func (r *renderer) font(f face, size float64) {
	if r.stateKnown && r.curFace == f && r.curSize == size {
		return
	}
	r.pdf.SetFont(faces[f].family, faces[f].style, size)
	r.curFace, r.curSize = f, size
	r.knowState()
}

func (r *renderer) drawColor(c rgb) {
	if r.stateKnown && r.curDraw == c {
		return
	}
	r.pdf.SetDrawColor(c.r, c.g, c.b)
	r.curDraw = c
	r.knowState()
}

func (r *renderer) lineWidth(w float64) {
	if r.stateKnown && r.curLW == w {
		return
	}
	r.pdf.SetLineWidth(w)
	r.curLW = w
	r.knowState()
}

// knowState starts tracking once font, colour and line width have all
// been set since the last page break.
func (r *renderer) knowState() {
	r.stateKnown = r.curFace >= 0 && r.curSize > 0 && r.curDraw.r >= 0 && r.curLW > 0
}

// addPage adds a page. Header and footer run inside it, and fpdf then
// restores its own state, so the tracked state is forgotten.
func (r *renderer) addPage() {
	r.pdf.AddPage()
	r.forgetState()
}

func (r *renderer) forgetState() {
	r.stateKnown = false
	r.curFace, r.curSize, r.curDraw, r.curLW = -1, 0, rgb{-1, -1, -1}, 0
}

func (r *renderer) textColor(c rgb) { r.pdf.SetTextColor(c.r, c.g, c.b) }
func (r *renderer) fillColor(c rgb) { r.pdf.SetFillColor(c.r, c.g, c.b) }

// baseline of text set at size in a line box of height lh starting at top.
func baseline(top, lh, size float64) float64 {
	return top + lh/2 + 0.34*size*mmPerPt
}

// drawLine draws one line with its top at r.y. Justified lines stretch
// their gaps, unless that would open gaps wider than a few spaces.
func (r *renderer) drawLine(ln line, x, w float64, ts textStyle) {
	extra := 0.0
	off := 0.0
	switch ts.align {
	case alignJustify:
		if !ln.last && len(ln.words) > 1 {
			extra = (w - ln.w) / float64(len(ln.words)-1)
			if extra > 0.55*ts.size*mmPerPt*2.2 || extra < 0 {
				extra = 0
			}
		}
	case alignRight:
		off = w - ln.w
	case alignCenter:
		off = (w - ln.w) / 2
	}
	bl := baseline(r.y, ts.lh, ts.size)
	sizeMM := ts.size * mmPerPt
	cx := x + off
	for wi, wd := range ln.words {
		for fi, f := range wd.frags {
			fc := faceOf(f.st)
			col := ts.color
			if f.color != nil {
				col = *f.color
			}
			if f.link != "" {
				col = colLink
			}
			if f.st&stCode != 0 {
				r.fillColor(colCodeBg)
				r.pdf.Rect(cx-0.5, bl-sizeMM*0.82, f.w+1, sizeMM*1.12, "F")
			}
			r.font(fc, ts.size)
			r.textColor(col)
			r.pdf.Text(cx, bl, f.text)
			if f.st&stStrike != 0 {
				r.drawColor(col)
				r.lineWidth(0.2)
				r.pdf.Line(cx, bl-sizeMM*0.28, cx+f.w, bl-sizeMM*0.28)
			}
			if f.link != "" {
				// Underline through the gap when the next fragment continues
				// the same link, so a linked phrase reads as one.
				uw := f.w
				if fi == len(wd.frags)-1 && wi+1 < len(ln.words) && ln.words[wi+1].frags[0].link == f.link {
					uw += wd.space + extra
				}
				r.drawColor(colLink)
				r.lineWidth(0.15)
				r.pdf.Line(cx, bl+0.6, cx+uw, bl+0.6)
				if strings.HasPrefix(f.link, "#") {
					if h := r.anchors[f.link[1:]]; h != nil {
						r.pdf.Link(cx, r.y, uw, ts.lh, h.link)
					}
				} else {
					r.pdf.LinkString(cx, r.y, uw, ts.lh, f.link)
				}
			}
			cx += f.w
		}
		cx += wd.space + extra
	}
	r.advance(ts.lh)
}

// flowLines draws lines from the current position, breaking pages between
// lines. It never leaves a single first line at the foot of a page (orphan)
// and, when it can, never carries a single last line over (widow).
func (r *renderer) flowLines(lines []line, x, w float64, ts textStyle) error {
	for i := 0; i < len(lines); {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		fit := int((contentBot - r.y + eps) / ts.lh)
		left := len(lines) - i
		if fit <= 0 {
			if r.atTop() {
				fit = 1 // a line taller than the page: draw it anyway
			} else {
				r.newPage()
				continue
			}
		}
		n := min(fit, left)
		if n < left {
			if n == 1 && !r.atTop() {
				r.newPage()
				continue
			}
			if left-n == 1 && n >= 3 {
				n--
			}
		}
		for _, ln := range lines[i : i+n] {
			r.drawMarkers(ts)
			r.drawLine(ln, x, w, ts)
		}
		i += n
		if i < len(lines) {
			r.newPage()
		}
	}
	return nil
}

// drawMarkers draws pending list markers beside the line about to be drawn
// at r.y.
func (r *renderer) drawMarkers(ts textStyle) {
	for _, mk := range r.markers {
		bl := baseline(r.y, ts.lh, ts.size)
		f := faceRegular
		col := colAccent
		if mk.text == "•" || mk.text == "–" || mk.text == "◦" {
			f = faceBold
		}
		size := mk.ts.size
		r.font(f, size)
		r.textColor(col)
		mw := r.m.width(f, size, mk.text)
		r.pdf.Text(mk.x+mk.w-mw, bl, mk.text)
	}
	r.markers = r.markers[:0]
}

func (r *renderer) quoteRule(q *quoteBar, bottom float64) {
	if bottom <= q.top+eps {
		return
	}
	r.fillColor(colAccent)
	r.pdf.Rect(q.x, q.top, 0.9, bottom-q.top, "F")
}
