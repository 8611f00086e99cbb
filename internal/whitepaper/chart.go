package whitepaper

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/yuin/goldmark/ast"
)

// chartInfo is the info string of a fenced code block that holds a chart:
// the block's YAML is the one source of the chart's numbers, drawn here in
// the PDF and by layouts/_markup/render-codeblock-wykres.html on the web
// page. The two must accept the same fields and apply the same rules.
const chartInfo = "wykres"

// Limits of a chart block; a chart beyond them is a mistake, and bounding
// it keeps a hostile source from costing more than a page of drawing.
const (
	maxChartSeries = 6
	maxChartPoints = 100
	maxChartValue  = 1e12
	maxChartText   = 300 // caption, labels, names
	maxChartDesc   = 1000
	maxChartBlock  = 16 << 10
)

// chartSeries is one line of a chart: a value for each x.
type chartSeries struct {
	Name   string
	Values []float64
}

// chart is a validated chart block, with its axes worked out.
type chart struct {
	caption, description string
	xLabel, yLabel, unit string
	x                    []float64
	series               []chartSeries
	hasThreshold         bool
	threshold            float64
	thresholdLabel       string
	// The y axis: from yMin to yMax in steps of yStep, each a tick.
	yMin, yMax, yStep float64
}

// chartError is a fault in a chart block, at a line of the source file.
type chartError struct {
	line int
	err  error
}

func (e *chartError) Error() string { return fmt.Sprintf("line %d: chart: %v", e.line, e.err) }
func (e *chartError) Unwrap() error { return e.err }

// findCharts parses every chart block of the body. firstLine is the source
// file's line number of the body's first line, so errors name the line an
// author sees in an editor.
func findCharts(root ast.Node, body []byte, firstLine int) (map[ast.Node]*chart, error) {
	charts := map[ast.Node]*chart{}
	err := ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		fc, ok := n.(*ast.FencedCodeBlock)
		if !entering || !ok || string(fc.Language(body)) != chartInfo {
			return ast.WalkContinue, nil
		}
		fence := firstLine
		if fc.Info != nil {
			fence += bytes.Count(body[:fc.Info.Segment.Start], []byte("\n"))
		}
		var src []byte
		lines := fc.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			src = append(src, seg.Value(body)...)
		}
		c, err := parseChart(src)
		if err != nil {
			line := fence
			var ye yaml.Error
			if errors.As(err, &ye) && ye.GetToken() != nil {
				line += ye.GetToken().Position.Line
				err = errors.New(ye.GetMessage())
			}
			return ast.WalkStop, &chartError{line: line, err: err}
		}
		charts[fc] = c
		return ast.WalkSkipChildren, nil
	})
	return charts, err
}

// parseChart decodes and checks one chart block, whose YAML reads:
//
//	caption: "Wykres 1. …"         # printed under the chart (required)
//	description: "…"              # what it shows, for screen readers (required)
//	x_label: Tydzień              # required
//	y_label: Saldo (zł)           # required
//	unit: zł                      # after the threshold and the lowest values
//	x: [1, 2, 3]                  # optional, 1…n by default; increasing
//	threshold: {value: 20000, label: próg bezpieczeństwa}   # optional
//	series:                       # 1 to 6, each with one value per x
//	  - {name: przed zmianami, values: [61300, 56500, 59000]}
//
// It is decoded into plain values and checked field by field, as the
// template checks what Hugo's decoder (the same goccy/go-yaml) gives it: a
// typed decode would quietly turn 5 into "5" and "5" into 5, which the web
// page would then reject. The messages are the template's too, so an
// author reads the same words from kb build and from Hugo.
func parseChart(src []byte) (*chart, error) {
	if len(src) > maxChartBlock {
		return nil, fmt.Errorf("block is %d bytes, more than the %d allowed", len(src), maxChartBlock)
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, errors.New("block is empty (it needs caption, description, x_label, y_label and series)")
	}
	if err := checkYAML(src); err != nil {
		return nil, err
	}
	var raw any
	if err := yaml.Unmarshal(src, &raw); err != nil {
		return nil, err
	}
	d, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("the block must hold YAML fields: caption, description, x_label, y_label, series")
	}
	if err := onlyFields(d, "", "caption", "description", "x_label", "y_label", "unit", "x", "threshold", "series"); err != nil {
		return nil, err
	}
	c := &chart{}
	for _, f := range []struct {
		key      string
		limit    int
		required bool
		dst      *string
	}{
		{"caption", maxChartText, true, &c.caption},
		{"description", maxChartDesc, true, &c.description},
		{"x_label", maxChartText, true, &c.xLabel},
		{"y_label", maxChartText, true, &c.yLabel},
		{"unit", 16, false, &c.unit},
	} {
		v, err := textField(d[f.key], f.key, f.limit)
		if err != nil {
			return nil, err
		}
		if f.required && v == "" {
			return nil, fmt.Errorf("%s is required", f.key)
		}
		*f.dst = v
	}

	list, ok := d["series"].([]any)
	if !ok || len(list) < 1 || len(list) > maxChartSeries {
		return nil, fmt.Errorf("series: want a list of 1 to %d", maxChartSeries)
	}
	n := 0
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("series %d must have a name and values", i+1)
		}
		if err := onlyFields(m, fmt.Sprintf("series %d: ", i+1), "name", "values"); err != nil {
			return nil, err
		}
		name, _ := m["name"].(string)
		if name = clean(name); name == "" {
			return nil, fmt.Errorf("series %d has no name", i+1)
		}
		if utf8.RuneCountInString(name) > maxChartText {
			return nil, fmt.Errorf("series %d: name is longer than %d characters", i+1, maxChartText)
		}
		vals, ok := m["values"].([]any)
		if !ok {
			return nil, fmt.Errorf("series %q has no values", name)
		}
		if i == 0 {
			n = len(vals)
		}
		if n < 2 || n > maxChartPoints {
			return nil, fmt.Errorf("series %q: want 2 to %d values, got %d", name, maxChartPoints, n)
		}
		if len(vals) != n {
			return nil, fmt.Errorf("series %q has %d values, the first series %d", name, len(vals), n)
		}
		fs, err := numbers(vals, "series "+strconv.Quote(name))
		if err != nil {
			return nil, err
		}
		c.series = append(c.series, chartSeries{Name: name, Values: fs})
	}

	if rx, given := d["x"]; given && rx != nil {
		xs, ok := rx.([]any)
		if !ok {
			return nil, errors.New("x must be a list of numbers")
		}
		if len(xs) != n {
			return nil, fmt.Errorf("x has %d values, the series %d", len(xs), n)
		}
		var err error
		if c.x, err = numbers(xs, "x"); err != nil {
			return nil, err
		}
	} else {
		for i := range n {
			c.x = append(c.x, float64(i+1))
		}
	}
	for i := 1; i < n; i++ {
		if c.x[i] <= c.x[i-1] {
			return nil, errors.New("x must increase")
		}
	}

	if rt, given := d["threshold"]; given {
		t, ok := rt.(map[string]any)
		if !ok {
			return nil, errors.New("threshold must have a value and a label")
		}
		if err := onlyFields(t, "threshold: ", "value", "label"); err != nil {
			return nil, err
		}
		v, ok := number(t["value"])
		if !ok {
			return nil, fmt.Errorf("threshold has no value (a number within ±10^12)")
		}
		label, _ := t["label"].(string)
		if label = clean(label); label == "" {
			return nil, errors.New("threshold has no label")
		}
		if utf8.RuneCountInString(label) > maxChartText {
			return nil, fmt.Errorf("threshold label is longer than %d characters", maxChartText)
		}
		c.hasThreshold, c.threshold, c.thresholdLabel = true, v, label
	}
	c.yMin, c.yMax, c.yStep = c.yAxis()
	return c, nil
}

// onlyFields rejects keys of m outside allowed, in sorted order so the
// message does not depend on map order.
func onlyFields(m map[string]any, prefix string, allowed ...string) error {
	var unknown []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%sunknown field %q", prefix, unknown[0])
	}
	return nil
}

// textField is an optional one-line text of at most limit characters.
func textField(v any, key string, limit int) (string, error) {
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be text", key)
	}
	s = clean(s)
	if utf8.RuneCountInString(s) > limit {
		return "", fmt.Errorf("%s is longer than %d characters", key, limit)
	}
	return s, nil
}

// number is a YAML number within ±10^12; quoted text is not one.
func number(v any) (float64, bool) {
	var f float64
	switch v := v.(type) {
	case uint64:
		f = float64(v)
	case int64:
		f = float64(v)
	case int:
		f = float64(v)
	case float64:
		f = v
	default:
		return 0, false
	}
	return f, math.Abs(f) <= maxChartValue // NaN fails too
}

func numbers(vs []any, what string) ([]float64, error) {
	out := make([]float64, len(vs))
	for i, v := range vs {
		f, ok := number(v)
		if !ok {
			return nil, fmt.Errorf("%s: value %d is not a number within ±10^12", what, i+1)
		}
		out[i] = f
	}
	return out, nil
}

// yAxis spans the values, the threshold and zero (a balance is read
// against zero) in about ten round steps of 1, 2 or 5 × 10^k. The web
// chart computes the same axis in its template.
func (c *chart) yAxis() (lo, hi, step float64) {
	lo, hi = 0, 0
	if c.hasThreshold {
		lo, hi = min(lo, c.threshold), max(hi, c.threshold)
	}
	for _, s := range c.series {
		for _, v := range s.Values {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 10
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch norm := raw / mag; {
	case norm <= 1:
		step = mag
	case norm <= 2:
		step = 2 * mag
	case norm <= 5:
		step = 5 * mag
	default:
		step = 10 * mag
	}
	low := math.Floor(lo/step) * step
	high := math.Ceil(hi/step) * step
	// Room under the lowest point for its label: a tenth of the height.
	if lowest := c.lowestValue(); lowest-low < (high-low)/10 {
		low -= step
	}
	return low, high, step
}

func (c *chart) lowestValue() float64 {
	v := math.Inf(1)
	for _, s := range c.series {
		v = min(v, s.Values[lowest(s.Values)])
	}
	return v
}

// yTicks are the values marked on the y axis.
func (c *chart) yTicks() []float64 {
	var ts []float64
	for i := 0; ; i++ {
		v := c.yMin + float64(i)*c.yStep
		if v > c.yMax+c.yStep/2 {
			return ts
		}
		ts = append(ts, v)
	}
}

// stepDecimals is how many decimals tick labels need for a step.
func stepDecimals(step float64) int {
	return max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
}

// lowest is the index of the smallest value (the first, on a tie).
func lowest(vs []float64) int {
	at := 0
	for i, v := range vs {
		if v < vs[at] {
			at = i
		}
	}
	return at
}

// withUnit formats an amount for a label: "−3 500 zł".
func (c *chart) withUnit(v float64) string {
	s := formatPL(v, -1)
	if c.unit != "" {
		s += "\u00a0" + c.unit
	}
	return s
}

// thresholdText is the threshold's label with its value.
func (c *chart) thresholdText() string {
	return c.thresholdLabel + ": " + c.withUnit(c.threshold)
}

// formatPL formats v the Polish way: a no-break space between groups of
// three digits (also in four-digit numbers, as the whitepaper's tables
// write them), a decimal comma and the minus sign U+2212. decimals < 0
// means none for whole numbers and two otherwise (amounts in złoty).
func formatPL(v float64, decimals int) string {
	if decimals < 0 {
		decimals = 2
		if v == math.Trunc(v) {
			decimals = 0
		}
	}
	// Half away from zero, as Hugo's lang.FormatNumberCustom on the web
	// page, not FormatFloat's half to even.
	scale := math.Pow(10, float64(decimals))
	s := strconv.FormatFloat(math.Round(math.Abs(v)*scale)/scale, 'f', decimals, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 && strings.Trim(s, "0.") != "" {
		b.WriteString("\u2212")
	}
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString("\u00a0")
		}
		b.WriteRune(d)
	}
	if frac != "" {
		b.WriteString("," + frac)
	}
	return b.String()
}
