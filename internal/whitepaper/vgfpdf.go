package whitepaper

import (
	"image"
	"image/color"
	"math"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
)

// pathPDF is the part of fpdf a chart draws with; *fpdf.Fpdf implements it.
type pathPDF interface {
	SetDrawColor(r, g, b int)
	SetFillColor(r, g, b int)
	SetTextColor(r, g, b int)
	SetLineWidth(width float64)
	SetLineCapStyle(styleStr string)
	SetLineJoinStyle(styleStr string)
	SetDashPattern(dashArray []float64, dashPhase float64)
	SetFont(familyStr, styleStr string, size float64)
	MoveTo(x, y float64)
	LineTo(x, y float64)
	CurveBezierCubicTo(cx0, cy0, cx1, cy1, x, y float64)
	ClosePath()
	DrawPath(styleStr string)
	Text(x, y float64, txtStr string)
	TransformBegin()
	TransformRotate(angle, x, y float64)
	TransformEnd()
}

// vgPDF is a gonum/plot vg.Canvas that draws straight into the whitepaper's
// PDF page: the chart stays vector, its text stays text in the embedded Go
// fonts (searchable, Polish letters included) and nothing is rasterised.
// vg's origin is the bottom left and its unit the point; fpdf's the top
// left and the millimetre.
type vgPDF struct {
	pdf    pathPDF
	m      *metrics
	left   float64 // page x (mm) of the canvas's left edge
	bottom float64 // page y (mm) of its bottom edge
	w, h   vg.Length
	st     vgState
	stack  []vgState
}

type vgState struct {
	t      affine
	width  vg.Length
	dash   []vg.Length
	offset vg.Length
	col    color.Color
}

// affine maps (x, y) to (a·x + c·y + e, b·x + d·y + f).
type affine struct{ a, b, c, d, e, f float64 }

var identity = affine{a: 1, d: 1}

func (t affine) apply(p vg.Point) (float64, float64) {
	x, y := float64(p.X), float64(p.Y)
	return t.a*x + t.c*y + t.e, t.b*x + t.d*y + t.f
}

// then is t applied after u: a point goes through u first.
func (t affine) then(u affine) affine {
	return affine{
		a: t.a*u.a + t.c*u.b, b: t.b*u.a + t.d*u.b,
		c: t.a*u.c + t.c*u.d, d: t.b*u.c + t.d*u.d,
		e: t.a*u.e + t.c*u.f + t.e, f: t.b*u.e + t.d*u.f + t.f,
	}
}

func newVGPDF(pdf pathPDF, m *metrics, left, top, wMM, hMM float64) *vgPDF {
	c := &vgPDF{pdf: pdf, m: m, left: left, bottom: top + hMM, w: vg.Length(wMM / mmPerPt), h: vg.Length(hMM / mmPerPt)}
	c.st = vgState{t: identity, width: 1, col: color.Black}
	pdf.SetLineCapStyle("butt")
	pdf.SetLineJoinStyle("round")
	return c
}

// finish puts back what the rest of the document assumes: solid lines
// with square ends.
func (c *vgPDF) finish() {
	c.pdf.SetDashPattern([]float64{}, 0)
	c.pdf.SetLineJoinStyle("miter")
	c.pdf.SetLineCapStyle("butt")
}

func (c *vgPDF) Size() (vg.Length, vg.Length) { return c.w, c.h }

func (c *vgPDF) SetLineWidth(w vg.Length) { c.st.width = w }
func (c *vgPDF) SetLineDash(pattern []vg.Length, offset vg.Length) {
	c.st.dash, c.st.offset = append([]vg.Length(nil), pattern...), offset
}
func (c *vgPDF) SetColor(col color.Color) {
	if col == nil {
		col = color.Black
	}
	c.st.col = col
}

func (c *vgPDF) Rotate(rad float64) {
	s, co := math.Sincos(rad)
	c.st.t = c.st.t.then(affine{a: co, b: s, c: -s, d: co})
}
func (c *vgPDF) Translate(p vg.Point) {
	c.st.t = c.st.t.then(affine{a: 1, d: 1, e: float64(p.X), f: float64(p.Y)})
}
func (c *vgPDF) Scale(x, y float64) { c.st.t = c.st.t.then(affine{a: x, d: y}) }

func (c *vgPDF) Push() {
	s := c.st
	s.dash = append([]vg.Length(nil), c.st.dash...)
	c.stack = append(c.stack, s)
}
func (c *vgPDF) Pop() {
	if len(c.stack) == 0 {
		return
	}
	c.st = c.stack[len(c.stack)-1]
	c.stack = c.stack[:len(c.stack)-1]
}

// page converts a point in the current user space to page millimetres.
func (c *vgPDF) page(p vg.Point) (float64, float64) {
	x, y := c.st.t.apply(p)
	return c.left + x*mmPerPt, c.bottom - y*mmPerPt
}

// colour returns the current colour as 8-bit RGB; ok is false when it is
// fully transparent and nothing should be drawn. Partial transparency is
// drawn opaque: the charts use none, and fpdf's alpha adds graphics states.
func (c *vgPDF) colour() (rgb, bool) {
	r, g, b, a := c.st.col.RGBA()
	if a == 0 {
		return rgb{}, false
	}
	un := func(v uint32) int { return int(math.Round(float64(v) * 255 / float64(a))) }
	return rgb{un(r), un(g), un(b)}, true
}

func (c *vgPDF) Stroke(p vg.Path) {
	col, ok := c.colour()
	if !ok || c.st.width <= 0 || len(p) == 0 {
		return
	}
	c.pdf.SetDrawColor(col.r, col.g, col.b)
	c.pdf.SetLineWidth(float64(c.st.width) * mmPerPt)
	dash := make([]float64, len(c.st.dash))
	for i, d := range c.st.dash {
		dash[i] = float64(d) * mmPerPt
	}
	c.pdf.SetDashPattern(dash, float64(c.st.offset)*mmPerPt)
	if c.path(p) {
		c.pdf.DrawPath("D")
	}
}

func (c *vgPDF) Fill(p vg.Path) {
	col, ok := c.colour()
	if !ok || len(p) == 0 {
		return
	}
	c.pdf.SetFillColor(col.r, col.g, col.b)
	if c.path(p) {
		c.pdf.DrawPath("F")
	}
}

// path emits p; it reports false when p has nothing to draw.
func (c *vgPDF) path(p vg.Path) bool {
	started := false
	var cur vg.Point // in user space, for raising quadratics to cubics
	to := func(pt vg.Point) {
		x, y := c.page(pt)
		if started {
			c.pdf.LineTo(x, y)
		} else {
			c.pdf.MoveTo(x, y)
			started = true
		}
		cur = pt
	}
	for _, comp := range p {
		switch comp.Type {
		case vg.MoveComp:
			x, y := c.page(comp.Pos)
			c.pdf.MoveTo(x, y)
			started, cur = true, comp.Pos
		case vg.LineComp:
			to(comp.Pos)
		case vg.ArcComp:
			cur = c.arc(comp, to)
		case vg.CurveComp:
			ctrl := comp.Control
			if !started || len(ctrl) < 1 || len(ctrl) > 2 {
				continue
			}
			if len(ctrl) == 1 {
				q := ctrl[0]
				ctrl = []vg.Point{cur.Add(q.Sub(cur).Scale(2.0 / 3)), comp.Pos.Add(q.Sub(comp.Pos).Scale(2.0 / 3))}
			}
			x1, y1 := c.page(ctrl[0])
			x2, y2 := c.page(ctrl[1])
			x, y := c.page(comp.Pos)
			c.pdf.CurveBezierCubicTo(x1, y1, x2, y2, x, y)
			cur = comp.Pos
		case vg.CloseComp:
			if started {
				c.pdf.ClosePath()
			}
		}
	}
	return started
}

// arc draws an arc as cubic Béziers of at most a quarter turn each, in user
// space, so any transform applies to it exactly. It returns where it ends.
func (c *vgPDF) arc(comp vg.PathComp, to func(vg.Point)) vg.Point {
	r := float64(comp.Radius)
	at := func(a float64) vg.Point {
		s, co := math.Sincos(a)
		return vg.Point{X: comp.Pos.X + vg.Length(r*co), Y: comp.Pos.Y + vg.Length(r*s)}
	}
	to(at(comp.Start))
	n := int(math.Ceil(math.Abs(comp.Angle) / (math.Pi / 2)))
	if n == 0 || r <= 0 {
		return at(comp.Start)
	}
	seg := comp.Angle / float64(n)
	k := 4.0 / 3 * math.Tan(seg/4) * r
	for i := range n {
		a0 := comp.Start + float64(i)*seg
		a1 := a0 + seg
		p0, p3 := at(a0), at(a1)
		s0, c0 := math.Sincos(a0)
		s1, c1 := math.Sincos(a1)
		p1 := vg.Point{X: p0.X - vg.Length(k*s0), Y: p0.Y + vg.Length(k*c0)}
		p2 := vg.Point{X: p3.X + vg.Length(k*s1), Y: p3.Y - vg.Length(k*c1)}
		x1, y1 := c.page(p1)
		x2, y2 := c.page(p2)
		x, y := c.page(p3)
		c.pdf.CurveBezierCubicTo(x1, y1, x2, y2, x, y)
	}
	return at(comp.Start + comp.Angle)
}

// FillString draws text with the whitepaper's own embedded faces; the
// plot measured it with the same Go fonts (chartFonts), so alignment holds.
func (c *vgPDF) FillString(f font.Face, p vg.Point, s string) {
	col, ok := c.colour()
	size := f.Font.Size.Points()
	if !ok || size <= 0 || s == "" {
		return
	}
	fc := faceRegular
	switch bold, italic := f.Font.Weight >= xfont.WeightBold, f.Font.Style == xfont.StyleItalic; {
	case f.Font.Variant == "Mono":
		fc = faceMono
	case bold && italic:
		fc = faceBoldItalic
	case bold:
		fc = faceBold
	case italic:
		fc = faceItalic
	}
	c.pdf.SetFont(faces[fc].family, faces[fc].style, size)
	c.pdf.SetTextColor(col.r, col.g, col.b)
	x, y := c.page(p)
	s = c.m.sanitize(s)
	// The angle of the user space's x axis; vg and fpdf both count it
	// counter-clockwise as seen on the page.
	angle := math.Atan2(c.st.t.b, c.st.t.a) * 180 / math.Pi
	if math.Abs(angle) < 1e-9 {
		c.pdf.Text(x, y, s)
		return
	}
	c.pdf.TransformBegin()
	c.pdf.TransformRotate(angle, x, y)
	c.pdf.Text(x, y, s)
	c.pdf.TransformEnd()
}

// DrawImage is never used by the charts; images are not embedded.
func (c *vgPDF) DrawImage(vg.Rectangle, image.Image) {}

var _ vg.CanvasSizer = (*vgPDF)(nil)
