package report

import (
	"fmt"
	"hash/fnv"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Charts are inline SVG written here rather than by gonum.org/v1/plot
// (which the whitepaper uses for print): vgsvg writes a fixed size in
// points with no viewBox, no role and no <title>/<desc>, and draws text
// with embedded font names, so making its output accessible and fluid
// would mean rewriting it after the fact. This writer is small: a
// viewBox and width 100% (it scales down to a 390 px phone),
// role="img" labelled by its <title> and <desc>, a <title> on every
// point or bar (its value), presentation attributes only (no style
// attribute, no CSS, no script, no external reference, so it passes a
// strict Content-Security-Policy). The same numbers go in a table beside
// every chart.

// Series is one named row of values of a bar chart.
type Series struct {
	Name   string
	Values []float64
}

// Geometry of the drawing, in viewBox units.
const (
	chartW, chartH = 640.0, 300.0
	padLeft        = 48.0
	padRight       = 12.0
	padTop         = 16.0
	padBottom      = 40.0
	fontSize       = 12.0
	maxXLabels     = 12
)

// palette: dark enough on white for text-level contrast (WCAG 3:1 for
// graphics at least), told apart by more than hue alone where it matters.
var palette = []string{"#1f5f99", "#2e7d32", "#b35900", "#b3261e", "#6a3d9a", "#00796b"}

const (
	inkColor  = "#333333"
	gridColor = "#d0d0d0"
)

// LineChart draws values over labels as a line with a marker per point.
func LineChart(title, desc string, labels []string, values []float64) template.HTML {
	vals := clean(values)
	c := newCanvas(title, desc, labels, maxOf(vals))
	if len(vals) > 0 {
		var pts []string
		for i, v := range vals {
			pts = append(pts, c.xCenter(i, len(vals))+","+num(c.y(v)))
		}
		fmt.Fprintf(&c.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"/>`, strings.Join(pts, " "), palette[0])
		for i, v := range vals {
			fmt.Fprintf(&c.b, `<circle cx="%s" cy="%s" r="4" fill="%s"><title>%s: %s</title></circle>`,
				c.xCenter(i, len(vals)), num(c.y(v)), palette[0], esc(label(labels, i)), num(v))
		}
	}
	return c.finish(nil)
}

// BarChart draws the series as groups of bars, one group per label, with
// a legend.
func BarChart(title, desc string, labels []string, series []Series) template.HTML {
	top := 0.0
	n := len(labels)
	cleaned := make([][]float64, len(series))
	for i, s := range series {
		cleaned[i] = clean(s.Values)
		top = math.Max(top, maxOf(cleaned[i]))
		n = max(n, len(cleaned[i]))
	}
	c := newCanvas(title, desc, labels, top)
	if n > 0 && len(series) > 0 {
		group := c.plotW() / float64(n)
		bar := group * 0.8 / float64(len(series))
		for si, s := range series {
			color := palette[si%len(palette)]
			for i := 0; i < n; i++ {
				v := 0.0
				if i < len(cleaned[si]) {
					v = cleaned[si][i]
				}
				x := padLeft + group*float64(i) + group*0.1 + bar*float64(si)
				y := c.y(v)
				fmt.Fprintf(&c.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s, %s: %s</title></rect>`,
					num(x), num(y), num(math.Max(bar-1, 0.5)), num(padTop+c.plotH()-y), color, esc(s.Name), esc(label(labels, i)), num(v))
			}
		}
	}
	return c.finish(series)
}

// canvas is one chart being written.
type canvas struct {
	b      strings.Builder
	id     string
	top    float64 // the value at the top of the plot
	labels []string
	height float64
}

func newCanvas(title, desc string, labels []string, maxValue float64) *canvas {
	step := niceStep(maxValue)
	c := &canvas{labels: labels, height: chartH, top: step * math.Max(1, math.Ceil(maxValue/step))}
	h := fnv.New64a()
	fmt.Fprint(h, title, "\x00", desc, "\x00", labels, maxValue)
	c.id = "chart-" + strconv.FormatUint(h.Sum64(), 36)
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="100%%" preserveAspectRatio="xMidYMid meet" role="img" aria-labelledby="%s-t %s-d" font-family="sans-serif" font-size="%s">`,
		num(chartW), num(chartH+legendH), c.id, c.id, num(fontSize))
	fmt.Fprintf(&c.b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, c.id, esc(title), c.id, esc(desc))
	// Horizontal grid lines with their values.
	for v := 0.0; v <= c.top+step/2; v += step {
		y := c.y(v)
		fmt.Fprintf(&c.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`,
			num(padLeft), num(y), num(chartW-padRight), num(y), gridColor)
		fmt.Fprintf(&c.b, `<text x="%s" y="%s" text-anchor="end" fill="%s">%s</text>`, num(padLeft-6), num(y+4), inkColor, num(v))
	}
	// Labels under the axis, thinned out so they never overlap.
	every := max(1, (len(labels)+maxXLabels-1)/maxXLabels)
	for i, l := range labels {
		if i%every != 0 && i != len(labels)-1 {
			continue
		}
		fmt.Fprintf(&c.b, `<text x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`,
			c.xCenter(i, len(labels)), num(padTop+c.plotH()+18), inkColor, esc(l))
	}
	fmt.Fprintf(&c.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`,
		num(padLeft), num(padTop+c.plotH()), num(chartW-padRight), num(padTop+c.plotH()), inkColor)
	return c
}

// legendH is the room under the plot for the legend.
const legendH = 24.0

func (c *canvas) finish(series []Series) template.HTML {
	x := padLeft
	y := chartH + 4
	for i, s := range series {
		fmt.Fprintf(&c.b, `<rect x="%s" y="%s" width="12" height="12" fill="%s"/>`, num(x), num(y), palette[i%len(palette)])
		fmt.Fprintf(&c.b, `<text x="%s" y="%s" fill="%s">%s</text>`, num(x+16), num(y+11), inkColor, esc(s.Name))
		x += 16 + float64(len([]rune(s.Name)))*fontSize*0.6 + 16
	}
	c.b.WriteString("</svg>")
	return template.HTML(c.b.String()) // every text in it went through esc
}

func (c *canvas) plotW() float64 { return chartW - padLeft - padRight }
func (c *canvas) plotH() float64 { return c.height - padTop - padBottom }

func (c *canvas) y(v float64) float64 {
	return padTop + c.plotH()*(1-v/c.top)
}

// xCenter is the middle of the i-th of n slots.
func (c *canvas) xCenter(i, n int) string {
	if n <= 0 {
		n = 1
	}
	return num(padLeft + c.plotW()*(float64(i)+0.5)/float64(n))
}

// niceStep is a round grid step (1, 2 or 5 × 10^k) giving about four lines
// up to top.
func niceStep(top float64) float64 {
	if top <= 0 {
		return 1
	}
	raw := top / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return math.Max(1, m*mag) // counts: no fractional grid lines
		}
	}
	return math.Max(1, 10*mag)
}

// clean replaces what cannot be drawn (NaN, ±Inf, negative) with 0.
func clean(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) && x > 0 {
			out[i] = x
		}
	}
	return out
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func label(labels []string, i int) string {
	if i < len(labels) {
		return labels[i]
	}
	return strconv.Itoa(i + 1)
}

// num formats a coordinate or value compactly ("12", "12.5").
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// esc makes text safe inside SVG elements and attributes.
func esc(s string) string { return html.EscapeString(s) }
