package site

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

const whitepaperSource = "content/biala-ksiega/strategia-przeplywow-pienieznych.md"

// TestWhitepaperChart builds the real whitepaper with the real layouts and
// checks the chart of its forecast: inline SVG that the CSP allows, named
// and described for screen readers, with its numbers in a table.
func TestWhitepaperChart(t *testing.T) {
	root := newFixture(t)
	writeFile(t, filepath.Join(root, whitepaperSource), readFile(t, filepath.Join(repoRoot, whitepaperSource)))
	out := filepath.Join(t.TempDir(), "public")
	if _, err := Build(context.Background(), Options{Root: root, PublishDir: out, Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "biala-ksiega/strategia-przeplywow-pienieznych/index.html"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	figs := find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Figure && hasClass(n, "chart") })
	if len(figs) != 1 {
		t.Fatalf("%d chart figures, want 1", len(figs))
	}
	fig := figs[0]
	svgs := find(fig, func(n *html.Node) bool { return n.Data == "svg" })
	if len(svgs) != 1 {
		t.Fatalf("%d <svg> in the figure, want 1", len(svgs))
	}
	svg := svgs[0]
	if role, _ := attr(svg, "role"); role != "img" {
		t.Errorf("svg role %q, want img", role)
	}
	// The name and the description are the svg's own <title> and <desc>,
	// referenced by id.
	for _, c := range []struct{ aria, tag, want string }{
		{"aria-labelledby", "title", "Wykres 1. Saldo końcowe"},
		{"aria-describedby", "desc", "17 600 zł w tygodniu 8"},
	} {
		id, _ := attr(svg, c.aria)
		els := find(svg, func(n *html.Node) bool { v, _ := attr(n, "id"); return n.Data == c.tag && v == id && id != "" })
		if len(els) != 1 {
			t.Errorf("%s=%q names no <%s> in the svg", c.aria, id, c.tag)
			continue
		}
		if got := strings.ReplaceAll(text(els[0]), "\u00a0", " "); !strings.Contains(got, c.want) {
			t.Errorf("<%s> %q lacks %q", c.tag, got, c.want)
		}
	}
	var svgText string // the drawn text, without the title and description
	walk(svg, func(n *html.Node) {
		if n.Data == "text" {
			svgText += strings.ReplaceAll(text(n), "\u00a0", " ") + "\n"
		}
	})
	for _, want := range []string{"Tydzień", "Saldo (zł)", "przed zmianami", "po zmianach",
		"próg bezpieczeństwa: 20 000 zł", "−20 000", "80 000"} {
		if !strings.Contains(svgText, want) {
			t.Errorf("chart lacks the text %q", want)
		}
	}
	// Each series' lowest point is labelled with its value.
	var lows []string
	for _, n := range find(svg, func(n *html.Node) bool { return n.Data == "text" && hasClass(n, "chart-low") }) {
		lows = append(lows, strings.ReplaceAll(text(n), "\u00a0", " "))
	}
	if strings.Join(lows, "|") != "−3 500 zł|17 600 zł" {
		t.Errorf("lowest points labelled %q, want −3 500 zł and 17 600 zł", lows)
	}
	if n := len(find(svg, func(n *html.Node) bool { return n.Data == "polyline" })); n != 2 {
		t.Errorf("%d polylines, want one per series (2)", n)
	}
	if n := len(find(svg, func(n *html.Node) bool { return n.Data == "line" && hasClass(n, "chart-threshold") })); n != 1 {
		t.Errorf("%d threshold lines, want 1", n)
	}
	walk(svg, func(n *html.Node) {
		if hasAttr(n, "style") || n.Data == "style" || n.Data == "script" || hasAttr(n, "href") || hasAttr(n, "xlink:href") {
			t.Errorf("chart has <%s> with style, script or a reference: the CSP forbids it", n.Data)
		}
	})
	if cap := find(fig, byTag(atom.Figcaption)); len(cap) != 1 || !strings.HasPrefix(text(cap[0]), "Wykres 1.") {
		t.Error("figure has no caption starting Wykres 1.")
	}

	// The numbers: the source's tables stay right before the chart, and
	// a table of the chart's own data follows it.
	prev := fig.PrevSibling
	for prev != nil && prev.Type != html.ElementNode {
		prev = prev.PrevSibling
	}
	if prev == nil || !hasClass(prev, "table-wrap") || !strings.Contains(text(prev), "Saldo końcowe po zmianach") {
		t.Error("the before/after table does not come right before the chart")
	}
	next := fig.NextSibling
	for next != nil && next.Type != html.ElementNode {
		next = next.NextSibling
	}
	if next == nil || next.DataAtom != atom.Details {
		t.Fatal("no data table after the chart")
	}
	rows := find(next, func(n *html.Node) bool { return n.DataAtom == atom.Tr })
	if len(rows) != 14 {
		t.Fatalf("data table has %d rows, want a header and 13 weeks", len(rows))
	}
	if got := strings.ReplaceAll(text(rows[8]), "\u00a0", " "); got != "8−3 50017 600" {
		t.Errorf("week 8 row reads %q", got)
	}
}

// TestChartBlockErrors: a malformed chart block, or one outside the
// whitepaper, fails the build naming the file and the line. The messages
// are internal/whitepaper's (TestParseChart), which checks the same rules
// for the PDF.
func TestChartBlockErrors(t *testing.T) {
	const fm = "---\ntitle: \"Biała\"\ndescription: \"Opis.\"\ndate: 2026-11-02\n---\n\nAkapit.\n\n"
	good := "caption: \"Wykres 1. Test\"\ndescription: \"Opis.\"\nx_label: Tydzień\ny_label: Saldo (zł)\nseries:\n  - {name: a, values: [1, 2, 3]}\n"
	block := func(body string) string { return fm + "```wykres\n" + body + "```\n" }
	tests := []struct {
		name, file, content, want string
	}{
		{"not YAML", whitepaperSource, block("caption: [\n"), "not valid YAML"},
		{"not a map", whitepaperSource, block("- 1\n- 2\n"), "must hold YAML fields"},
		{"no caption", whitepaperSource, block(strings.Replace(good, "caption: \"Wykres 1. Test\"\n", "", 1)), "caption is required"},
		{"unknown field", whitepaperSource, block(good + "colour: red\n"), `unknown field "colour"`},
		{"ragged series", whitepaperSource, block(good + "  - {name: b, values: [1, 2]}\n"), `series "b" has 2 values, the first series 3`},
		{"text value", whitepaperSource, block(strings.Replace(good, "[1, 2, 3]", "[1, dwa, 3]", 1)), `series "a": value 2 is not a number`},
		{"quoted number", whitepaperSource, block(strings.Replace(good, "[1, 2, 3]", `[1, "2", 3]`, 1)), `series "a": value 2 is not a number`},
		{"number as text", whitepaperSource, block(strings.Replace(good, "x_label: Tydzień", "x_label: 5", 1)), "x_label must be text"},
		{"infinite value", whitepaperSource, block(strings.Replace(good, "[1, 2, 3]", "[1, .inf, 3]", 1)), `value 2 is not a number`},
		{"x decreasing", whitepaperSource, block(good + "x: [3, 2, 1]\n"), "x must increase"},
		{"threshold without value", whitepaperSource, block(good + "threshold: {label: próg}\n"), "threshold has no value"},
		{"in a guide", "content/poradniki/wykres.md", "---\ntitle: \"Poradnik\"\ndescription: \"Opis.\"\ndate: 2026-10-01\n---\n\nAkapit.\n\n```wykres\n" + good + "```\n", "charts are for the whitepaper only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newFixture(t)
			writeFile(t, filepath.Join(root, tc.file), tc.content)
			_, err := Build(context.Background(), Options{Root: root, PublishDir: filepath.Join(t.TempDir(), "public")})
			if err == nil {
				t.Fatal("build succeeded")
			}
			msg := err.Error()
			// The fence is on line 9 of every source above.
			if !strings.Contains(msg, filepath.Base(tc.file)+":9:") || !strings.Contains(msg, tc.want) {
				t.Errorf("error does not name %s:9 and %q:\n%s", filepath.Base(tc.file), tc.want, msg)
			}
		})
	}
}
