package whitepaper

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const goodChart = `caption: "Wykres 1. Saldo końcowe: przed zmianami i po nich"
description: "Saldo spada poniżej zera w tygodniu 3."
x_label: Tydzień
y_label: Saldo (zł)
unit: zł
threshold: {value: 20000, label: próg bezpieczeństwa}
series:
  - name: przed zmianami
    values: [61300, 23400, -3500, 27100]
  - name: po zmianach
    values: [61300, 34200, 17600, 56200]
`

func chartDoc(body string) string {
	return "---\ntitle: Wykresy\ndate: 2026-11-02\n---\n\nAkapit ze źdźbłem.\n\n```wykres\n" + body + "```\n\nKoniec.\n"
}

func TestParseChart(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr string
		check   func(t *testing.T, c *chart)
	}{
		{name: "good", src: goodChart, check: func(t *testing.T, c *chart) {
			if !slices.Equal(c.x, []float64{1, 2, 3, 4}) {
				t.Errorf("x %v, want 1…4 by default", c.x)
			}
			if len(c.series) != 2 || c.series[1].Name != "po zmianach" || !c.hasThreshold || c.threshold != 20000 {
				t.Errorf("chart %+v", c)
			}
			if c.thresholdText() != "próg bezpieczeństwa: 20\u00a0000\u00a0zł" {
				t.Errorf("threshold text %q", c.thresholdText())
			}
		}},
		{name: "x given", src: goodChart + "x: [2, 4, 8, 16]\n", check: func(t *testing.T, c *chart) {
			if !slices.Equal(c.x, []float64{2, 4, 8, 16}) {
				t.Errorf("x %v", c.x)
			}
		}},
		{name: "empty", src: "\n", wantErr: "block is empty"},
		{name: "not YAML", src: "caption: [\n", wantErr: "sequence end token"},
		{name: "alias", src: "a: &x [1]\nb: *x\n", wantErr: "aliases"},
		{name: "unknown field", src: goodChart + "colour: red\n", wantErr: "colour"},
		{name: "no caption", src: strings.Replace(goodChart, "caption:", "#", 1), wantErr: "caption is required"},
		{name: "no description", src: strings.Replace(goodChart, "description:", "#", 1), wantErr: "description is required"},
		{name: "long label", src: strings.Replace(goodChart, "x_label: Tydzień", "x_label: "+strings.Repeat("ą", 301), 1), wantErr: "x_label is longer than 300 characters"},
		{name: "no series", src: strings.SplitN(goodChart, "series:", 2)[0], wantErr: "series: want a list of 1 to 6"},
		{name: "seven series", src: goodChart + strings.Repeat("  - {name: s, values: [1, 2, 3, 4]}\n", 5), wantErr: "series: want a list of 1 to 6"},
		{name: "one point", src: strings.NewReplacer("[61300, 23400, -3500, 27100]", "[1]", "[61300, 34200, 17600, 56200]", "[1]").Replace(goodChart), wantErr: "want 2 to 100 values, got 1"},
		{name: "ragged", src: strings.Replace(goodChart, "[61300, 34200, 17600, 56200]", "[1, 2]", 1), wantErr: `"po zmianach" has 2 values`},
		{name: "unnamed", src: strings.Replace(goodChart, "name: po zmianach", "name: \" \"", 1), wantErr: "series 2 has no name"},
		{name: "text value", src: strings.Replace(goodChart, "-3500", "minus", 1), wantErr: `series "przed zmianami": value 3 is not a number`},
		{name: "quoted number", src: strings.Replace(goodChart, "-3500", `"-3500"`, 1), wantErr: "value 3 is not a number"},
		{name: "number as text", src: strings.Replace(goodChart, "x_label: Tydzień", "x_label: 5", 1), wantErr: "x_label must be text"},
		{name: "a list", src: "- 1\n- 2\n", wantErr: "must hold YAML fields"},
		{name: "series not a map", src: goodChart + "  - 7\n", wantErr: "series 3 must have a name and values"},
		{name: "series field", src: goodChart + "  - {name: c, values: [1, 2, 3, 4], kolor: red}\n", wantErr: `series 3: unknown field "kolor"`},
		{name: "threshold field", src: strings.Replace(goodChart, "label: próg", "etykieta: próg", 1), wantErr: `threshold: unknown field "etykieta"`},
		{name: "infinite", src: strings.Replace(goodChart, "-3500", "-.inf", 1), wantErr: "value 3 is not a number"},
		{name: "NaN", src: strings.Replace(goodChart, "-3500", ".nan", 1), wantErr: "value 3 is not a number"},
		{name: "huge", src: strings.Replace(goodChart, "-3500", "2e12", 1), wantErr: "value 3 is not a number"},
		{name: "x length", src: goodChart + "x: [1, 2]\n", wantErr: "x has 2 values, the series 4"},
		{name: "x decreasing", src: goodChart + "x: [1, 2, 2, 3]\n", wantErr: "x must increase"},
		{name: "threshold without value", src: strings.Replace(goodChart, "value: 20000, ", "", 1), wantErr: "threshold has no value"},
		{name: "threshold without label", src: strings.Replace(goodChart, ", label: próg bezpieczeństwa", "", 1), wantErr: "threshold has no label"},
		{name: "too big", src: goodChart + "# " + strings.Repeat("x", maxChartBlock) + "\n", wantErr: "more than the"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseChart([]byte(tc.src))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestChartErrorLine: a bad chart fails the render, naming the file and the
// line of the source an author would open.
func TestChartErrorLine(t *testing.T) {
	tests := []struct {
		name, body string
		line       int
		want       string
	}{
		// The fence is line 8 of chartDoc; the block's lines follow it. A
		// fault in the YAML has its own line, a broken rule the fence's.
		{"rule", strings.Replace(goodChart, "caption:", "#", 1), 8, "caption is required"},
		{"YAML syntax", "caption: x\ndescription: [\n", 10, "sequence end token"},
		{"YAML alias", "caption: x\ndescription: &a y\nx_label: *a\n", 8, "aliases"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse("content/biala-ksiega/x.md", []byte(chartDoc(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Render(context.Background(), doc, testOpts, &bytes.Buffer{})
			prefix := fmt.Sprintf("whitepaper content/biala-ksiega/x.md: line %d: ", tc.line)
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q… containing %q", err, prefix, tc.want)
			}
		})
	}
}

func TestFormatPL(t *testing.T) {
	tests := []struct {
		v    float64
		dec  int
		want string
	}{
		{0, -1, "0"},
		{7, -1, "7"},
		{999, -1, "999"},
		{3500, -1, "3\u00a0500"},
		{-3500, -1, "\u22123\u00a0500"},
		{20000, 0, "20\u00a0000"},
		{-1234567.5, -1, "\u22121\u00a0234\u00a0567,50"},
		{0.25, 1, "0,3"}, // half away from zero, as Hugo rounds on the web page
		{-0.001, 0, "0"}, // no minus before a zero
		{-0.5, 1, "\u22120,5"},
	}
	for _, tc := range tests {
		if got := formatPL(tc.v, tc.dec); got != tc.want {
			t.Errorf("formatPL(%v, %d) = %q, want %q", tc.v, tc.dec, got, tc.want)
		}
	}
}

func TestChartYAxis(t *testing.T) {
	tests := []struct {
		name            string
		values          []float64
		threshold       *float64
		lo, hi, step    float64
		ticks, decimals int
	}{
		// The whitepaper's forecast: the dip to −3 500 gets a step of room
		// for its label.
		{"forecast", []float64{61300, -3500, 77600}, ptr(20000.0), -20000, 80000, 10000, 11, 0},
		{"small positive", []float64{3, 7, 5}, nil, 0, 7, 1, 8, 0},
		{"fractions", []float64{0.12, 0.31}, nil, 0, 0.35, 0.05, 8, 2},
		{"all negative", []float64{-80, -20}, nil, -90, 0, 10, 10, 0},
		{"flat zero", []float64{0, 0}, nil, -0.1, 1, 0.1, 12, 1},
		{"threshold above", []float64{1, 2}, ptr(50.0), -5, 50, 5, 12, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &chart{series: []chartSeries{{Name: "s", Values: tc.values}}}
			if tc.threshold != nil {
				c.hasThreshold, c.threshold = true, *tc.threshold
			}
			lo, hi, step := c.yAxis()
			if !near(lo, tc.lo) || !near(hi, tc.hi) || !near(step, tc.step) {
				t.Fatalf("axis %v…%v step %v, want %v…%v step %v", lo, hi, step, tc.lo, tc.hi, tc.step)
			}
			c.yMin, c.yMax, c.yStep = lo, hi, step
			if n := len(c.yTicks()); n != tc.ticks {
				t.Errorf("%d ticks, want %d", n, tc.ticks)
			}
			if d := stepDecimals(step); d != tc.decimals {
				t.Errorf("%d decimals, want %d", d, tc.decimals)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestRenderChart: the chart is drawn as vector graphics with real text,
// Polish letters and numbers included, and renders the same twice.
func TestRenderChart(t *testing.T) {
	poppler(t)
	doc, err := Parse("wykres.md", []byte(chartDoc(goodChart)))
	if err != nil {
		t.Fatal(err)
	}
	path, raw, info := renderToFile(t, doc, testOpts)
	text := pdfText(t, path, "-f", strconv.Itoa(info.Pages), "-l", strconv.Itoa(info.Pages))
	for _, want := range []string{
		"Wykres 1. Saldo końcowe: przed zmianami i po nich", // the caption
		"Tydzień", "Saldo (zł)", "przed zmianami", "po zmianach", // axes and legend
		"próg bezpieczeństwa: 20 000 zł", "−3 500 zł", "17 600 zł", // threshold, lowest points
		"−20 000", "60 000", "Koniec.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q:\n%s", want, text)
		}
	}
	if bytes.Contains(raw, []byte("/Subtype /Image")) {
		t.Error("the chart is an image; want vector drawing")
	}
	// The drawing itself: each series' colour and the threshold's are on
	// the page in quantity (lines and points, not just a few letters).
	for i, n := range pagePixels(t, path, info.Pages, chartSeriesCol[0], chartSeriesCol[1], chartThreshCol) {
		if n < 60 {
			t.Errorf("colour %d: %d pixels; the chart's lines are missing", i, n)
		}
	}
	var again bytes.Buffer
	if _, err := Render(context.Background(), doc, testOpts, &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, again.Bytes()) {
		t.Error("two renders of a chart differ")
	}
	// The chart really comes from the data: other numbers, other bytes.
	other, err := Parse("wykres.md", []byte(chartDoc(strings.Replace(goodChart, "-3500", "-3600", 1))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Render(context.Background(), other, testOpts, &again); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(raw, again.Bytes()) {
		t.Error("changing a value did not change the PDF")
	}
}

// TestRenderChartLimits draws charts at the edges of what a block may
// hold; none may fail or panic.
func TestRenderChartLimits(t *testing.T) {
	many := make([]string, maxChartPoints)
	for i := range many {
		many[i] = strconv.Itoa((i*7919)%2001 - 1000)
	}
	tests := map[string]string{
		"flat":          strings.NewReplacer("[61300, 23400, -3500, 27100]", "[0, 0, 0, 0]", "[61300, 34200, 17600, 56200]", "[0, 0, 0, 0]").Replace(goodChart),
		"huge values":   strings.Replace(goodChart, "-3500", "-1000000000000", 1),
		"long texts":    strings.NewReplacer("x_label: Tydzień", "x_label: "+strings.Repeat("długa etykieta ", 20), "Wykres 1.", strings.Repeat("Bardzo długi podpis ", 12)).Replace(goodChart),
		"hundred x":     "caption: c\ndescription: d\nx_label: x\ny_label: y\nseries:\n  - {name: s, values: [" + strings.Join(many, ", ") + "]}\n",
		"six series":    goodChart + strings.Repeat("  - {name: \"seria ☃ \U0001F600\", values: [1, 2, 3, 4]}\n", 4),
		"control chars": strings.Replace(goodChart, "name: przed zmianami", "name: \"przed\\u0007 zmianami\\u202e\"", 1),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			doc, err := Parse("wykres.md", []byte(chartDoc(body)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Render(context.Background(), doc, testOpts, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRealWhitepaperChart: the forecast chart is in the PDF, and its
// numbers agree with the tables beside it in the source.
func TestRealWhitepaperChart(t *testing.T) {
	if _, err := os.Stat(realWhitepaper); err != nil {
		t.Skip("the whitepaper is not written yet")
	}
	doc := parseFile(t, realWhitepaper)
	charts, err := findCharts(parseMarkdown(doc.Body), doc.Body, doc.bodyLine+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 1 {
		t.Fatalf("%d charts, want the forecast's", len(charts))
	}
	var c *chart
	for _, v := range charts {
		c = v
	}
	if len(c.series) != 2 || !c.hasThreshold {
		t.Fatalf("chart has %d series, threshold %v; want before/after and the threshold", len(c.series), c.hasThreshold)
	}
	// The threshold is the one the text names.
	if want := strings.ReplaceAll(formatPL(c.threshold, -1), "\u00a0", " ") + " zł"; !strings.Contains(string(doc.Body), "próg") || !strings.Contains(string(doc.Body), want) {
		t.Errorf("the text does not name the chart's threshold, %s", want)
	}
	before := tableColumn(t, doc.Body, "| Tydzień | Saldo początkowe |", "Saldo końcowe")
	if !slices.Equal(c.series[0].Values, before.values) {
		t.Errorf("before: chart %v, forecast table %v", c.series[0].Values, before.values)
	}
	after := tableColumn(t, doc.Body, "| Tydzień | Saldo końcowe przed zmianami |", "Saldo końcowe po zmianach")
	for i, week := range after.weeks {
		if got := c.series[1].Values[week-1]; got != after.values[i] {
			t.Errorf("after, week %d: chart %v, table %v", week, got, after.values[i])
		}
	}
	for w := 1; w < after.weeks[0]; w++ { // before the first change both agree
		if c.series[1].Values[w-1] != c.series[0].Values[w-1] {
			t.Errorf("week %d: the series differ before the first change", w)
		}
	}

	poppler(t)
	path, _, _ := renderToFile(t, doc, testOpts)
	text := strings.ReplaceAll(pdfText(t, path), "\n", " ")
	for _, want := range []string{"Wykres 1. Saldo końcowe w 13 tygodniach prognozy", "Tydzień", "Saldo (zł)",
		"próg bezpieczeństwa: 20 000 zł", "przed zmianami", "po zmianach"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
}

// pagePixels renders page n at 60 dpi and counts the pixels near each
// colour.
func pagePixels(t *testing.T, path string, n int, cols ...rgb) []int {
	t.Helper()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("pdftoppm not found; install poppler-utils")
	}
	out := filepath.Join(t.TempDir(), "page")
	if b, err := exec.Command("pdftoppm", "-r", "60", "-f", strconv.Itoa(n), "-l", strconv.Itoa(n), "-png", "-singlefile", path, out).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, b)
	}
	f, err := os.Open(out + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, len(cols))
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			for i, c := range cols {
				d := absInt(int(r>>8)-c.r) + absInt(int(g>>8)-c.g) + absInt(int(b>>8)-c.b)
				if d < 40 {
					counts[i]++
				}
			}
		}
	}
	return counts
}

func absInt(v int) int { return max(v, -v) }

type column struct {
	weeks  []int
	values []float64
}

var leadingInt = regexp.MustCompile(`^\d+`)

// tableColumn reads one column of the markdown table whose header starts
// with header, keyed by the week number that opens each row.
func tableColumn(t *testing.T, body []byte, header, col string) column {
	t.Helper()
	_, rest, ok := strings.Cut(string(body), header)
	if !ok {
		t.Fatalf("no table %q", header)
	}
	lines := strings.Split(header+rest, "\n")
	cells := func(l string) []string {
		cs := strings.Split(strings.Trim(l, "| "), "|")
		for i := range cs {
			cs[i] = strings.TrimSpace(cs[i])
		}
		return cs
	}
	at := slices.Index(cells(lines[0]), col)
	if at < 0 {
		t.Fatalf("table %q has no column %q", header, col)
	}
	var out column
	for _, l := range lines[2:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		cs := cells(l)
		w, err := strconv.Atoi(leadingInt.FindString(cs[0]))
		if err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		v, err := strconv.ParseFloat(strings.NewReplacer(" ", "", "\u00a0", "", "−", "-").Replace(cs[at]), 64)
		if err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		out.weeks, out.values = append(out.weeks, w), append(out.values, v)
	}
	return out
}
