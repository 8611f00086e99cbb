package whitepaper

import (
	"fmt"
	"image/color"
	"math"
	"regexp"
	"sync"

	xfont "golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart geometry in millimetres, and the caption's style.
const (
	chartPlotH = 78.0 // legend, plot area and axes
	chartGap   = 2.0  // between the plot and its caption
)

var tsCaption = textStyle{size: 8.8, lh: 4.4, color: colMuted, align: alignLeft}

// The chart's colours follow the web version's (assets/css/main.css,
// .chart-*): series in turn, the threshold in amber, grid in the rule
// colour. Dashes as well as colours tell the series apart, for readers
// who do not see the difference in colour and for greyscale prints.
var (
	chartSeriesCol = []rgb{{163, 32, 42}, {18, 54, 92}, {11, 106, 106}, {94, 108, 30}, {74, 85, 102}, {120, 60, 140}}
	chartDashes    = [][]vg.Length{{4.5, 2.5}, nil, {1.5, 1.5}, {6, 2, 1.5, 2}, {3, 3}, {1, 2}}
	chartThreshCol = rgb{180, 83, 9}
	chartInk       = rgb{33, 37, 45}
	chartGrid      = rgb{214, 220, 227}
)

func (c rgb) color() color.Color { return color.RGBA{uint8(c.r), uint8(c.g), uint8(c.b), 255} }

// chartFonts gives gonum/plot the Go fonts the PDF embeds, so what it
// measures is what fpdf draws (its default, Liberation, is not embedded).
var chartFonts = sync.OnceValues(func() (*font.Cache, error) {
	var coll font.Collection
	for _, f := range []struct {
		fc     face
		weight xfont.Weight
		style  xfont.Style
	}{
		{faceRegular, xfont.WeightNormal, xfont.StyleNormal},
		{faceBold, xfont.WeightBold, xfont.StyleNormal},
		{faceItalic, xfont.WeightNormal, xfont.StyleItalic},
		{faceBoldItalic, xfont.WeightBold, xfont.StyleItalic},
	} {
		otf, err := opentype.Parse(faces[f.fc].ttf)
		if err != nil {
			return nil, err
		}
		coll = append(coll, font.Face{Font: font.Font{Typeface: "Go", Weight: f.weight, Style: f.style}, Face: otf})
	}
	return font.NewCache(coll), nil
})

// captionLabel is the "Wykres 1." that opens a caption; it is set in bold.
var captionLabel = regexp.MustCompile(`^\pL+\.? \d+[.:]`)

func (r *renderer) chartCaption(c *chart, w float64) []line {
	var sp []span
	if loc := captionLabel.FindStringIndex(c.caption); loc != nil {
		sp = append(sp, span{text: c.caption[:loc[1]], st: stBold}, span{text: c.caption[loc[1]:]})
	} else {
		sp = []span{{text: c.caption}}
	}
	for i := range sp {
		sp[i].text = r.m.sanitize(sp[i].text)
	}
	return r.breakLines(r.words(sp, tsCaption.size), w, tsCaption.size)
}

func (r *renderer) chartHeight(c *chart, b box) float64 {
	return chartPlotH + chartGap + float64(len(r.chartCaption(c, b.w)))*tsCaption.lh
}

// chart draws a chart block with its caption, kept on one page.
func (r *renderer) chart(c *chart, b box) error {
	caption := r.chartCaption(c, b.w)
	gap := paraGap(b.ts) + 1.5
	r.startBlock(gap)
	r.ensure(r.chartHeight(c, b))
	r.drawMarkers(b.ts)
	if r.out != nil {
		if err := drawChart(r.out, r.m, c, b.x, r.y, b.w, chartPlotH); err != nil {
			return fmt.Errorf("whitepaper %s: chart %q: %w", r.doc.Path, c.caption, err)
		}
		r.forgetState() // the chart set colours, widths and fonts behind the tracker's back
	}
	r.advance(chartPlotH + chartGap)
	for _, ln := range caption {
		r.drawLine(ln, b.x, b.w, tsCaption)
	}
	r.pendingGap = gap
	return nil
}

// drawChart draws c with gonum/plot onto the PDF page, in the box whose
// top left corner is (x, y), w × h millimetres.
func drawChart(pdf pathPDF, m *metrics, c *chart, x, y, w, h float64) (err error) {
	fonts, err := chartFonts()
	if err != nil {
		return fmt.Errorf("load fonts: %w", err)
	}
	// gonum/plot panics on some faults (a font it cannot measure); a chart
	// must not take the build down.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("draw: %v", p)
		}
	}()
	vc := newVGPDF(pdf, m, x, y, w, h)
	defer vc.finish()
	dc := draw.New(vc)
	st := chartStyles{fonts: fonts}

	legendH := vg.Points(16)
	c.drawLegend(draw.Crop(dc, 0, 0, dc.Max.Y-dc.Min.Y-legendH, 0), st)
	p, err := c.plot(st)
	if err != nil {
		return err
	}
	p.Draw(draw.Crop(dc, 0, 0, 0, -legendH))
	return nil
}

// chartStyles makes the text styles of a chart.
type chartStyles struct{ fonts *font.Cache }

func (s chartStyles) text(size float64, bold bool, col rgb) text.Style {
	f := font.Font{Typeface: "Go", Size: vg.Points(size)}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return text.Style{Color: col.color(), Font: f, Handler: text.Plain{Fonts: s.fonts}}
}

func seriesLine(i int) draw.LineStyle {
	width := vg.Points(1.3)
	if chartDashes[i%len(chartDashes)] == nil {
		width = vg.Points(1.8) // the solid series is the one the text argues for
	}
	return draw.LineStyle{Color: chartSeriesCol[i%len(chartSeriesCol)].color(), Width: width, Dashes: chartDashes[i%len(chartDashes)]}
}

func seriesGlyph(i int) draw.GlyphStyle {
	return draw.GlyphStyle{Color: chartSeriesCol[i%len(chartSeriesCol)].color(), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
}

// drawLegend sets the series' names in one row above the plot.
func (c *chart) drawLegend(dc draw.Canvas, st chartStyles) {
	ts := st.text(8.5, false, chartInk)
	ts.YAlign = draw.YCenter
	x := dc.Min.X + vg.Points(4)
	y := dc.Min.Y + (dc.Max.Y-dc.Min.Y)/2
	for i, s := range c.series {
		dc.StrokeLine2(seriesLine(i), x, y, x+vg.Points(22), y)
		dc.DrawGlyph(seriesGlyph(i), vg.Point{X: x + vg.Points(11), Y: y})
		dc.FillText(ts, vg.Point{X: x + vg.Points(27), Y: y}, s.Name)
		x += vg.Points(27) + ts.Width(s.Name) + vg.Points(16)
	}
}

// plot builds the gonum plot of c: grid, zero and threshold lines, one
// line with points per series, and the lowest value of each labelled.
func (c *chart) plot(st chartStyles) (*plot.Plot, error) {
	p := plot.New()
	p.BackgroundColor = nil
	p.TextHandler = text.Plain{Fonts: st.fonts}
	p.Legend.TextStyle = st.text(8.5, false, chartInk)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		label := st.text(8.5, false, chartInk)
		label.XAlign, label.YAlign = ax.Label.TextStyle.XAlign, ax.Label.TextStyle.YAlign
		ax.Label.TextStyle = label
		tick := st.text(8, false, chartInk)
		tick.XAlign, tick.YAlign = ax.Tick.Label.XAlign, ax.Tick.Label.YAlign
		ax.Tick.Label = tick
		ax.Label.Padding = vg.Points(3)
		ax.LineStyle = draw.LineStyle{Color: colMuted.color(), Width: vg.Points(0.5)}
		ax.Tick.LineStyle = ax.LineStyle
	}
	p.X.Label.Text, p.Y.Label.Text = c.xLabel, c.yLabel
	p.Y.Tick.Length = 0 // the grid marks the values
	p.Y.LineStyle.Width = 0
	p.Y.Padding = 0
	p.X.Tick.Length = vg.Points(3)
	p.Y.Tick.Marker = yTicks{c}
	p.X.Tick.Marker = xTicks{c}

	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal = draw.LineStyle{Color: chartGrid.color(), Width: vg.Points(0.5)}
	p.Add(grid, refLines{c, st})
	for i, s := range c.series {
		xys := make(plotter.XYs, len(s.Values))
		for j, v := range s.Values {
			xys[j] = plotter.XY{X: c.x[j], Y: v}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		l.LineStyle = seriesLine(i)
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		sc.GlyphStyle = seriesGlyph(i)
		p.Add(l, sc)
	}
	p.Add(lowLabels{c, st})
	// The axes are the chart's own, not gonum's: the web version computes
	// the same from the same data.
	p.X.Min, p.X.Max = c.x[0], c.x[len(c.x)-1]
	p.Y.Min, p.Y.Max = c.yMin, c.yMax
	return p, nil
}

type yTicks struct{ c *chart }

func (t yTicks) Ticks(float64, float64) []plot.Tick {
	dec := stepDecimals(t.c.yStep)
	var ts []plot.Tick
	for _, v := range t.c.yTicks() {
		ts = append(ts, plot.Tick{Value: v, Label: formatPL(v, dec)})
	}
	return ts
}

type xTicks struct{ c *chart }

// Ticks labels every x value, or every k-th when there are more than 16.
func (t xTicks) Ticks(float64, float64) []plot.Tick {
	k := xTickStride(len(t.c.x))
	var ts []plot.Tick
	for i, v := range t.c.x {
		label := ""
		if i%k == 0 {
			label = formatPL(v, -1)
		}
		ts = append(ts, plot.Tick{Value: v, Label: label})
	}
	return ts
}

func xTickStride(n int) int { return max(1, int(math.Ceil(float64(n)/16))) }

// refLines draws the zero line (when the axis goes below zero) and the
// labelled threshold.
type refLines struct {
	c  *chart
	st chartStyles
}

func (l refLines) Plot(dc draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&dc)
	if l.c.yMin < 0 {
		y := trY(0)
		dc.StrokeLine2(draw.LineStyle{Color: chartInk.color(), Width: vg.Points(0.7)}, dc.Min.X, y, dc.Max.X, y)
	}
	if !l.c.hasThreshold {
		return
	}
	y := trY(l.c.threshold)
	dc.StrokeLine2(draw.LineStyle{Color: chartThreshCol.color(), Width: vg.Points(1.1), Dashes: []vg.Length{vg.Points(5), vg.Points(2.5)}},
		dc.Min.X, y, dc.Max.X, y)
	// The label sits at the left end, where a forecast starts from the
	// known balance and a dip is least likely.
	ts := l.st.text(8, true, chartThreshCol)
	ts.XAlign, ts.YAlign = draw.XLeft, draw.YBottom
	dc.FillText(ts, vg.Point{X: dc.Min.X + vg.Points(2), Y: y + vg.Points(2.5)}, l.c.thresholdText())
}

// lowLabels writes each series' lowest value beside its point: below and
// to the right, or above when that would leave the plot.
type lowLabels struct {
	c  *chart
	st chartStyles
}

func (l lowLabels) Plot(dc draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&dc)
	seen := map[[2]float64]bool{}
	for i, s := range l.c.series {
		j := lowest(s.Values)
		at := [2]float64{l.c.x[j], s.Values[j]}
		if seen[at] {
			continue
		}
		seen[at] = true
		ts := l.st.text(8, true, chartSeriesCol[i%len(chartSeriesCol)])
		label := l.c.withUnit(s.Values[j])
		x, y := trX(at[0])+vg.Points(4), trY(at[1])-vg.Points(3)
		ts.YAlign = draw.YTop
		if j == len(s.Values)-1 {
			x -= vg.Points(8)
			ts.XAlign = draw.XRight
		}
		if y-ts.Height(label) < dc.Min.Y {
			y = trY(at[1]) + vg.Points(4)
			ts.YAlign = draw.YBottom
		}
		dc.FillText(ts, vg.Point{X: x, Y: y}, label)
	}
}
