package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// svgInfo is what a chart's XML says.
type svgInfo struct {
	root        xml.StartElement
	title, desc string
	titles      []string // of the points and bars
	elements    map[string]int
}

func parseSVG(t *testing.T, svg string) svgInfo {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	info := svgInfo{elements: map[string]int{}}
	var stack []string
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				info.root = el
			}
			stack = append(stack, el.Name.Local)
			info.elements[el.Name.Local]++
			text.Reset()
		case xml.CharData:
			text.Write(el)
		case xml.EndElement:
			if el.Name.Local == "title" || el.Name.Local == "desc" {
				parent := stack[len(stack)-2]
				switch {
				case parent == "svg" && el.Name.Local == "title":
					info.title = text.String()
				case parent == "svg":
					info.desc = text.String()
				default:
					info.titles = append(info.titles, text.String())
				}
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 || info.root.Name.Local != "svg" {
		t.Fatalf("root %q, unclosed %v", info.root.Name.Local, stack)
	}
	return info
}

func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// checkAccessible: role="img" labelled by its own title and desc, fluid
// width, nothing active or external.
func checkAccessible(t *testing.T, svg string, info svgInfo, title, desc string) {
	t.Helper()
	if info.title != title || info.desc != desc {
		t.Errorf("title %q desc %q; want %q %q", info.title, info.desc, title, desc)
	}
	r := info.root
	if attr(r, "role") != "img" || attr(r, "width") != "100%" || attr(r, "height") != "" ||
		!regexp.MustCompile(`^0 0 \d+ \d+$`).MatchString(attr(r, "viewBox")) {
		t.Errorf("root attributes %v", r.Attr)
	}
	ids := strings.Fields(attr(r, "aria-labelledby"))
	if len(ids) != 2 || !strings.Contains(svg, `<title id="`+ids[0]+`">`) || !strings.Contains(svg, `<desc id="`+ids[1]+`">`) {
		t.Errorf("aria-labelledby %q does not name the title and desc", ids)
	}
	for _, bad := range []string{"<script", "href", "url(", "style=", "@import", "<image", "<foreignObject"} {
		if strings.Contains(svg, bad) {
			t.Errorf("chart contains %q", bad)
		}
	}
}

func TestLineChart(t *testing.T) {
	title, desc := `Potwierdzeni <"&'>`, "Opis & więcej"
	labels := []string{"sty 2026", "lut 2026", "mar 2026"}
	svg := string(LineChart(title, desc, labels, []float64{3, 12, math.NaN()}))
	info := parseSVG(t, svg)
	checkAccessible(t, svg, info, title, desc)
	want := []string{"sty 2026: 3", "lut 2026: 12", "mar 2026: 0"} // NaN drawn as 0
	if strings.Join(info.titles, "|") != strings.Join(want, "|") || info.elements["circle"] != 3 || info.elements["polyline"] != 1 {
		t.Errorf("points %q, %v", info.titles, info.elements)
	}
	if LineChart(title, desc, labels, []float64{1}) == LineChart(title, desc, labels, []float64{2}) {
		t.Error("different values, same chart")
	}
	// Empty: still a well-formed, labelled image.
	empty := string(LineChart("Pusto", "Brak danych", nil, nil))
	checkAccessible(t, empty, parseSVG(t, empty), "Pusto", "Brak danych")
}

func TestBarChart(t *testing.T) {
	labels := []string{"2.11", "9.11"}
	series := []Series{{Name: "Zapisy", Values: []float64{5, 7}}, {Name: "Skargi", Values: []float64{0, 1}}}
	svg := string(BarChart("Tygodnie", "Opis", labels, series))
	info := parseSVG(t, svg)
	checkAccessible(t, svg, info, "Tygodnie", "Opis")
	want := "Zapisy, 2.11: 5|Zapisy, 9.11: 7|Skargi, 2.11: 0|Skargi, 9.11: 1"
	if got := strings.Join(info.titles, "|"); got != want {
		t.Errorf("bars %q, want %q", got, want)
	}
	for _, name := range []string{">Zapisy</text>", ">Skargi</text>"} {
		if !strings.Contains(svg, name) {
			t.Errorf("legend lacks %s", name)
		}
	}
	// Two charts on one page have different ids.
	other := string(BarChart("Kampania", "Opis", labels, series))
	if attr(parseSVG(t, other).root, "aria-labelledby") == attr(info.root, "aria-labelledby") {
		t.Error("two charts share their ids")
	}
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ top, want float64 }{{0, 1}, {3, 1}, {7, 2}, {19, 5}, {40, 10}, {100000, 50000}, {23456, 10000}} {
		if got := niceStep(tt.top); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.top, got, tt.want)
		}
	}
}

func TestWriteHTML(t *testing.T) {
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, warsaw)
	o := Overview{Now: now, Confirmed: 4321, ConfirmationRate: 0.8333, MedianToConfirm: 3*time.Hour + 5*time.Minute}
	for i := range 12 {
		o.Months = append(o.Months, MonthPoint{Month: time.Date(2025, time.Month(12+i), 1, 0, 0, 0, 0, warsaw), Confirmed: 4000 + i*7})
		o.Weeks = append(o.Weeks, WeekPoint{Week: time.Date(2026, 8, 31+7*i, 0, 0, 0, 0, warsaw), Signups: 100 + i, Complaints: 90 + i})
	}
	rows := []CampaignRow{{ID: 2, Title: "Rozmowa o <fakturze>", Kind: "guide", Date: now, Recipients: 4000, Accepted: 3990,
		Delivered: 3950, PermanentFailures: 11, TemporaryFailures: 12, Complaints: 13, Unsubscribes: 14}}
	var b bytes.Buffer
	if err := WriteHTML(&b, o, rows); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<html lang="pl">`, "<style>", "4321", "83,3%", "3 godz. 5 min",
		"<td>4077</td>", "<th scope=\"row\">lis 2026</th>", "<td>111</td>", "<td>101</td>",
		"Rozmowa o &lt;fakturze&gt;", "<td>3950</td>", "<td>11</td>", "<td>12</td>", "<td>13</td>", "<td>14</td>",
		`role="img"`, "Potwierdzeni subskrybenci w ostatnich 12 miesiącach"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Self-contained: nothing fetched, no script.
	for _, bad := range []string{"<script", "<link", "src=", "href=", "url(", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	if n := strings.Count(page, "<svg"); n != 2 {
		t.Errorf("%d charts, want 2", n)
	}
	// The charts parse as XML inside the page.
	for _, m := range regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(page, -1) {
		parseSVG(t, m)
	}
}

func TestLabels(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{MonthLabel(time.Date(2026, 10, 1, 0, 0, 0, 0, warsaw)), "paź 2026"},
		{WeekLabel(time.Date(2026, 11, 2, 0, 0, 0, 0, warsaw)), "2.11"},
		{Percent(0), "0,0%"}, {Percent(1), "100,0%"}, {Percent(math.NaN()), "0,0%"},
		{Duration(0), "—"}, {Duration(30 * time.Second), "poniżej minuty"}, {Duration(45 * time.Minute), "45 min"},
		{Duration(26 * time.Hour), "1 dzień 2 godz."}, {Duration(50 * time.Hour), "2 dni 2 godz."},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
