package whitepaper

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
)

const realWhitepaper = "../../content/biala-ksiega/strategia-przeplywow-pienieznych.md"

var testOpts = Options{
	Firm:        "Biuro Rachunkowe Saldo sp. z o.o.",
	FirmAddress: "ul. Przykładowa 12/3, 00-950 Warszawa",
	BaseURL:     "https://wiedza.saldo.example.pl/",
	Language:    "pl",
}

const polishLetters = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"

// poppler finds pdftotext and pdfinfo. CI installs poppler-utils, so
// there a missing tool is a failure; elsewhere the test is skipped.
func poppler(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"pdftotext", "pdfinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found: CI must install poppler-utils (apt-get install -y poppler-utils)", tool)
			}
			t.Skipf("%s not found; install poppler-utils to run this test", tool)
		}
	}
}

func pdfText(t testing.TB, path string, args ...string) string {
	t.Helper()
	out, err := exec.Command("pdftotext", append(append([]string{"-enc", "UTF-8"}, args...), path, "-")...).Output()
	if err != nil {
		t.Fatalf("pdftotext %v %s: %v", args, path, err)
	}
	return normalize(string(out))
}

// normalize folds the non-breaking spaces the renderer uses (after heading
// numbers) and runs of blanks into single spaces, line by line.
func normalize(s string) string {
	s = strings.ReplaceAll(s, "\u00a0", " ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func pdfInfo(t testing.TB, path string) map[string]string {
	t.Helper()
	out, err := exec.Command("pdfinfo", "-enc", "UTF-8", path).Output()
	if err != nil {
		t.Fatalf("pdfinfo %s: %v", path, err)
	}
	info := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			info[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return info
}

func parseFile(t testing.TB, path string) *Document {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(path, src)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func renderToFile(t testing.TB, doc *Document, opts Options) (string, []byte, Info) {
	t.Helper()
	var buf bytes.Buffer
	info, err := Render(context.Background(), doc, opts, &buf)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if int64(buf.Len()) != info.Size {
		t.Fatalf("Info.Size %d, wrote %d bytes", info.Size, buf.Len())
	}
	path := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes(), info
}

func TestParse(t *testing.T) {
	const name = "content/biala-ksiega/x.md"
	tests := []struct {
		name    string
		src     string
		wantErr string // substring; the file name is always required too
		check   func(t *testing.T, d *Document)
	}{
		{
			name: "yaml",
			src:  "---\ntitle: \"Tytuł\"\nsubtitle: Pod\ndescription: Opis\nauthor: A\ndate: 2026-11-02\nversion: 1.0\nslug: s\ntags: [a, b]\ndraft: false\n---\n\nTreść.\n",
			check: func(t *testing.T, d *Document) {
				if d.Title != "Tytuł" || d.Subtitle != "Pod" || d.Description != "Opis" || d.Author != "A" || d.Slug != "s" {
					t.Errorf("fields: %+v", d)
				}
				if d.Version != "1.0" {
					t.Errorf("version %q, want the literal 1.0", d.Version)
				}
				if !d.Date.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)) || !d.Lastmod.Equal(d.Date) {
					t.Errorf("date %v lastmod %v", d.Date, d.Lastmod)
				}
				if strings.Join(d.Keywords, ",") != "a,b" {
					t.Errorf("keywords %v", d.Keywords)
				}
				if strings.TrimSpace(string(d.Body)) != "Treść." {
					t.Errorf("body %q", d.Body)
				}
			},
		},
		{
			name: "toml",
			src:  "+++\ntitle = \"T\"\ndate = 2026-11-02T10:00:00+01:00\nversion = \"2.1\"\n+++\nTreść.\n",
			check: func(t *testing.T, d *Document) {
				if d.Title != "T" || d.Version != "2.1" || d.Date.Hour() != 10 {
					t.Errorf("fields: %+v", d)
				}
			},
		},
		{
			name: "crlf and bom",
			src:  "\uFEFF---\r\ntitle: T\r\ndate: 2026-01-05\r\n---\r\nTreść.\r\n",
			check: func(t *testing.T, d *Document) {
				if d.Title != "T" || d.Date.Month() != time.January {
					t.Errorf("fields: %+v", d)
				}
			},
		},
		{name: "empty", src: "", wantErr: "empty"},
		{name: "blank", src: " \n\t\n", wantErr: "empty"},
		{name: "no front matter", src: "# Tytuł\n\nTreść.\n", wantErr: "no front matter"},
		{name: "unclosed", src: "---\ntitle: T\n\nTreść.\n", wantErr: "never closed"},
		{name: "no title", src: "---\ndate: 2026-11-02\n---\nTreść.\n", wantErr: "title"},
		{name: "blank title", src: "---\ntitle: \"  \"\ndate: 2026-11-02\n---\nTreść.\n", wantErr: "title"},
		{name: "no date", src: "---\ntitle: T\n---\nTreść.\n", wantErr: "date"},
		{name: "bad date", src: "---\ntitle: T\ndate: jutro\n---\nTreść.\n", wantErr: "not a date"},
		{name: "year zero", src: "---\ntitle: T\ndate: 0001-01-01\n---\nTreść.\n", wantErr: "out of range"},
		{name: "title is a list", src: "---\ntitle: [a, b]\ndate: 2026-11-02\n---\nTreść.\n", wantErr: "single value"},
		{name: "broken yaml", src: "---\ntitle: \"T\ndate: 2026-11-02\n---\nTreść.\n", wantErr: "front matter"},
		{name: "no body", src: "---\ntitle: T\ndate: 2026-11-02\n---\n\n", wantErr: "no text"},
		{name: "not utf-8", src: "---\ntitle: T\xff\ndate: 2026-11-02\n---\nx\n", wantErr: "UTF-8"},
		{
			name:    "alias bomb",
			src:     "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\ntitle: T\ndate: 2026-11-02\nkeywords: *b\n---\nx\n",
			wantErr: "aliases",
		},
		{name: "oversized", src: "---\ntitle: T\ndate: 2026-11-02\nx: \"" + strings.Repeat("a", maxFrontMatter) + "\"\n---\nx\n", wantErr: "front matter is"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(name, []byte(tc.src))
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), name) {
					t.Fatalf("error %q: want %q and the file name", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Path != name {
				t.Errorf("path %q", d.Path)
			}
			tc.check(t, d)
		})
	}
}

func TestParseSizeLimit(t *testing.T) {
	src := "---\ntitle: T\ndate: 2026-11-02\n---\n" + strings.Repeat("a", MaxSourceSize)
	if _, err := Parse("big.md", []byte(src)); err == nil || !strings.Contains(err.Error(), "big.md") {
		t.Fatalf("err %v", err)
	}
}

// tocEntry is one line of the rendered table of contents.
type tocEntry struct {
	number, title string
	page          int
}

var tocLine = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s+(.+?)\s{2,}(\d+)\s*$`)

// readTOC reads the contents pages in layout mode, where each entry is one
// line: number, title, page. It stops once it has want entries.
func readTOC(t testing.TB, path string, pages, want int) []tocEntry {
	t.Helper()
	var out []tocEntry
	for p := 2; p <= pages && len(out) < want; p++ {
		text, err := exec.Command("pdftotext", "-enc", "UTF-8", "-layout", "-f", fmt.Sprint(p), "-l", fmt.Sprint(p), path, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(text), "\u00a0", " ")
		if p == 2 && !strings.Contains(s, "Spis treści") {
			return nil
		}
		found := false
		for _, l := range strings.Split(s, "\n") {
			if m := tocLine.FindStringSubmatch(l); m != nil && len(out) < want {
				n, _ := strconv.Atoi(m[3])
				out = append(out, tocEntry{m[1], strings.Join(strings.Fields(m[2]), " "), n})
				found = true
			}
		}
		if !found {
			break
		}
	}
	return out
}

// checkTOC verifies that every heading of the document is listed and that
// each listed page really carries the numbered heading.
func checkTOC(t *testing.T, path string, doc *Document, pages int) {
	t.Helper()
	r := newRenderer(context.Background(), doc, testOpts, languages["pl"], nil, mustMetrics(t), parseMarkdown(doc.Body), nil)
	var want []*heading
	for _, h := range r.heads {
		if h.inTOC() {
			want = append(want, h)
		}
	}
	toc := readTOC(t, path, pages, len(want))
	if len(toc) != len(want) {
		t.Fatalf("contents list %d entries, the document has %d headings: %+v", len(toc), len(want), toc)
	}
	for i, e := range toc {
		h := want[i]
		if e.number != h.number || e.title != h.text {
			t.Errorf("entry %d: %q %q, want %q %q", i, e.number, e.title, h.number, h.text)
		}
		if e.page < 2 || e.page > pages {
			t.Errorf("entry %q: page %d out of range", e.title, e.page)
			continue
		}
		page := pdfText(t, path, "-f", fmt.Sprint(e.page), "-l", fmt.Sprint(e.page))
		if !strings.Contains(strings.ReplaceAll(page, "\n", " "), h.number+" "+h.text) {
			t.Errorf("contents say %q is on page %d, but that page does not show it:\n%s", h.text, e.page, page)
		}
	}
}

func mustMetrics(t testing.TB) *metrics {
	m, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRenderFixture(t *testing.T) {
	poppler(t)
	doc := parseFile(t, "testdata/polish.md")
	path, raw, info := renderToFile(t, doc, testOpts)

	pi := pdfInfo(t, path)
	if pi["Title"] != doc.Title {
		t.Errorf("title %q, want %q", pi["Title"], doc.Title)
	}
	if pi["Author"] != doc.Author || pi["Subject"] != doc.Description || pi["Creator"] != "kb" {
		t.Errorf("metadata %v", pi)
	}
	if pi["Keywords"] != "test, przepływy pieniężne" {
		t.Errorf("keywords %q", pi["Keywords"])
	}
	if pi["Pages"] != strconv.Itoa(info.Pages) {
		t.Errorf("pdfinfo pages %s, Info.Pages %d", pi["Pages"], info.Pages)
	}
	if !strings.Contains(pi["CreationDate"], "Nov  2 00:00:00 2026") || !strings.Contains(pi["ModDate"], "2026") {
		t.Errorf("dates %q %q, want the document's", pi["CreationDate"], pi["ModDate"])
	}
	if pi["Page size"] == "" || !strings.Contains(pi["Page size"], "A4") {
		t.Errorf("page size %q", pi["Page size"])
	}
	if !bytes.Contains(raw, []byte("/Lang (pl)")) {
		t.Error("catalog has no /Lang (pl)")
	}
	if !bytes.Contains(raw, []byte("/Outlines")) {
		t.Error("no outline (bookmarks)")
	}

	text := pdfText(t, path)
	flat := strings.ReplaceAll(text, "\n", " ")
	for _, want := range []string{
		"zażółć gęślą jaźń", "ZAŻÓŁĆ GĘŚLĄ JAŹŃ", // every Polish letter, both cases
		"Biuro Rachunkowe Saldo sp. z o.o.", "listopad 2026", "Wersja 1.0", "Zespół testowy", "Spis treści",
		"Strona 3 z " + strconv.Itoa(info.Pages),
		"Rozdział pierwszy: źdźbło", "Podrozdział: łódź", "Podrozdział: tabela", "Rozdział drugi: ćwiczenia",
		"Cytat: ćma śpi w źrenicy", "bardzo długi opis", "pogrubioną kursywą", "skrypt",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("extracted text lacks %q", want)
		}
	}
	for _, r := range polishLetters {
		if !strings.ContainsRune(text, r) {
			t.Errorf("letter %c lost in extraction", r)
		}
	}

	// Links are annotations with URIs; the site-relative one is absolute,
	// the javascript: one is not a link at all.
	for _, want := range []string{
		"/Subtype /Link",
		"/URI (https://example.com/sciezka?a=1&b=2)",
		"/URI (https://wiedza.saldo.example.pl/poradniki/rozmowa-o-zaleglej-fakturze/)",
		"/URI (https://example.org/goly-link)",
	} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if bytes.Contains(raw, []byte("javascript")) {
		t.Error("javascript: link became an annotation")
	}
	// Contents entries link inside the document.
	if n := bytes.Count(raw, []byte("/Dest [")); n < 6 {
		t.Errorf("%d internal links, want one per contents entry", n)
	}
	checkTOC(t, path, doc, info.Pages)
}

func TestRenderDeterministic(t *testing.T) {
	doc := parseFile(t, "testdata/polish.md")
	var fontSums [numFaces][32]byte
	for f := range faces {
		fontSums[f] = sha256.Sum256(faces[f].ttf)
	}
	defer func() {
		for f := range faces {
			if sha256.Sum256(faces[f].ttf) != fontSums[f] {
				t.Errorf("face %d: rendering modified the shared font bytes", f)
			}
		}
	}()
	const n = 4
	outs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			if _, err := Render(context.Background(), doc, testOpts, &buf); err != nil {
				t.Error(err)
			}
			outs[i] = buf.Bytes()
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(outs[0], outs[i]) {
			t.Fatalf("render %d differs from render 0 (%d vs %d bytes)", i, len(outs[i]), len(outs[0]))
		}
	}
	// A different date must change the bytes: the date is really used.
	other := *doc
	other.Date = other.Date.AddDate(0, 1, 0)
	other.Lastmod = other.Date
	var buf bytes.Buffer
	if _, err := Render(context.Background(), &other, testOpts, &buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(buf.Bytes(), outs[0]) {
		t.Fatal("changing the date did not change the PDF")
	}
}

// TestPageCount renders documents whose length is known: n one-line
// paragraphs after the cover, no headings and so no contents page.
func TestPageCount(t *testing.T) {
	poppler(t)
	gap := paraGap(tsBody)
	perPage := int(math.Floor((contentBot - marginT + gap + eps) / (tsBody.lh + gap)))
	if perPage < 10 {
		t.Fatalf("implausible %d paragraphs per page", perPage)
	}
	for _, n := range []int{1, perPage, perPage + 1, 3 * perPage, 3*perPage + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var b strings.Builder
			b.WriteString("---\ntitle: Liczenie stron\ndate: 2026-11-02\n---\n")
			for i := range n {
				fmt.Fprintf(&b, "Akapit numer %d.\n\n", i+1)
			}
			doc, err := Parse("count.md", []byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			path, _, info := renderToFile(t, doc, testOpts)
			want := 1 + (n+perPage-1)/perPage
			if info.Pages != want {
				t.Errorf("Info.Pages %d, want %d", info.Pages, want)
			}
			if got := pdfInfo(t, path)["Pages"]; got != strconv.Itoa(want) {
				t.Errorf("pdfinfo pages %s, want %d", got, want)
			}
			last := pdfText(t, path, "-f", strconv.Itoa(want), "-l", strconv.Itoa(want))
			if !strings.Contains(last, fmt.Sprintf("Akapit numer %d.", n)) {
				t.Errorf("last paragraph not on the last page:\n%s", last)
			}
		})
	}
}

func TestRealWhitepaper(t *testing.T) {
	if _, err := os.Stat(realWhitepaper); err != nil {
		t.Skip("the whitepaper is not written yet")
	}
	poppler(t)
	doc := parseFile(t, realWhitepaper)
	path, raw, info := renderToFile(t, doc, testOpts)
	if info.Pages < 8 || info.Pages > 16 { // 16: the forecast chart takes half a page
		t.Errorf("%d pages, want 8 to 16", info.Pages)
	}
	if len(info.Warnings) > 0 {
		t.Logf("warnings: %v", info.Warnings)
	}
	if got := pdfInfo(t, path)["Title"]; got != doc.Title {
		t.Errorf("title %q, want %q", got, doc.Title)
	}
	text := pdfText(t, path)
	src := string(doc.Body)
	for _, r := range polishLetters {
		if strings.ContainsRune(src, r) && !strings.ContainsRune(text, r) {
			t.Errorf("letter %c is in the source but not in the PDF text", r)
		}
	}
	if !bytes.Contains(raw, []byte("/Subtype /Link")) && strings.Contains(src, "](") {
		t.Error("the whitepaper has links but the PDF has no link annotations")
	}
	checkTOC(t, path, doc, info.Pages)
	var again bytes.Buffer
	if _, err := Render(context.Background(), doc, testOpts, &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, again.Bytes()) {
		t.Error("two renders of the whitepaper differ")
	}
}

func TestRenderHostile(t *testing.T) {
	poppler(t)
	const name = "hostile.md"
	fm := "---\ntitle: Wrogi dokument\ndate: 2026-11-02\n---\n"
	var deepOrdered strings.Builder
	for i := range 40 {
		fmt.Fprintf(&deepOrdered, "%s1. poziom %d\n", strings.Repeat("   ", i), i)
	}
	var deepList strings.Builder
	for i := range 50 {
		deepList.WriteString(strings.Repeat("  ", i) + "- poziom " + strconv.Itoa(i) + "\n")
	}
	longWord := strings.Repeat("ż", 5000)
	var bigTable strings.Builder
	bigTable.WriteString("| a | b | c | d | e | f | g | h |\n|---|---|---|---|---|---|---|---|\n")
	for i := range 120 {
		fmt.Fprintf(&bigTable, "| %d | %s | x | y | 1 000 | 2,5%% | z | ą |\n", i, strings.Repeat("słowo ", i%7))
	}
	tests := []struct {
		name    string
		src     string
		wantErr string
		want    []string // must appear in the extracted text
		reject  []string // must not
	}{
		{name: "empty file", src: "", wantErr: "empty"},
		{name: "missing title", src: "---\ndate: 2026-11-02\n---\nx\n", wantErr: "title"},
		{name: "deep list", src: fm + deepList.String(), want: []string{"poziom 0", "poziom 49"}},
		{name: "deep quote", src: fm + strings.Repeat(">", 60) + " głęboki cytat\n", want: []string{"głęboki cytat"}},
		{name: "deep ordered", src: fm + deepOrdered.String(), want: []string{"poziom 0", "poziom 39"}},
		{name: "long word", src: fm + "Przed " + longWord + " po.\n", want: []string{"Przed", "po."}},
		{name: "long word in table", src: fm + "| a | b |\n|---|---|\n| " + longWord + " | b |\n", want: []string{"żżż"}},
		{name: "long word in heading", src: fm + "## " + strings.Repeat("nagłówek", 600) + "\n\ntekst\n", want: []string{"tekst"}},
		{name: "long code line", src: fm + "```\n" + strings.Repeat("x", 5000) + "\n```\n", want: []string{"xxxx"}},
		{name: "missing image", src: fm + "Zobacz ![Wykres przepływów](/img/nie-ma.png) tutaj.\n", want: []string{"Ilustracja: Wykres przepływów"}},
		{name: "remote image", src: fm + "![](https://example.com/x.png)\n", want: []string{"https://example.com/x.png"}},
		{
			name:   "raw html",
			src:    fm + "<script>alert('x')</script>\n\n<div onclick=\"x()\">blok</div>\n\nTekst <b>pogrubiony</b> <!-- komentarz --> koniec.\n",
			want:   []string{"pogrubiony", "koniec"},
			reject: []string{"<script", "alert", "<b>", "komentarz"},
		},
		{name: "control characters", src: fm + "a\x00b\x01c\x7f d\u200be\ttab\n", want: []string{"abc"}},
		{name: "unsupported characters", src: fm + "Emoji 😀 i CJK 漢字 i 𝔘.\n", want: []string{"Emoji", "CJK"}},
		{name: "only html", src: fm + "<div>nic</div>\n", reject: []string{"nic"}},
		{name: "heading levels skipped", src: fm + "#### Głęboki\n\n## Płytki\n\n###### Najgłębszy\n\ntekst\n", want: []string{"Głęboki", "Płytki", "Najgłębszy"}},
		{name: "only headings", src: fm + strings.Repeat("## Nagłówek\n\n### Pod\n\n", 80), want: []string{"Nagłówek"}},
		{name: "wide table", src: fm + bigTable.String(), want: []string{"119"}},
		{name: "ragged table", src: fm + "| a | b |\n|---|\n| 1 | 2 | 3 |\n| 4 |\n", want: []string{"a"}},
		{name: "nbsp and dashes", src: fm + "Liczba\u00a01 000 — w\u00a0domu, a – z kolei.\n", want: []string{"domu"}},
		{name: "links everywhere", src: fm + "[alfa](javascript:x) [beta](file:///etc/passwd) [gamma](data:x) [delta](#nie-ma) [epsilon](mailto:a@b.pl) [zeta](relative/path) [eta](//example.com/x)\n", want: []string{"alfa beta gamma delta epsilon zeta eta"}},
		{name: "many hard breaks", src: fm + strings.Repeat("linia  \n", 400), want: []string{"linia"}},
		{name: "strikethrough and code", src: fm + "~~skreślone~~ i `kod z  spacjami` oraz ``a`b``\n", want: []string{"skreślone", "kod z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse(name, []byte(tc.src))
			if err == nil {
				var buf bytes.Buffer
				_, err = Render(context.Background(), doc, testOpts, &buf)
				if err == nil {
					if tc.wantErr != "" {
						t.Fatalf("rendered, want error %q", tc.wantErr)
					}
					path := filepath.Join(t.TempDir(), "h.pdf")
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					text := strings.ReplaceAll(pdfText(t, path), "\n", " ")
					for _, w := range tc.want {
						if !strings.Contains(text, w) {
							t.Errorf("text lacks %q", w)
						}
					}
					for _, w := range tc.reject {
						if strings.Contains(text, w) {
							t.Errorf("text shows %q", w)
						}
					}
					return
				}
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the file", err)
			}
			if tc.wantErr == "" || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestRenderWarnings(t *testing.T) {
	doc, err := Parse("img.md", []byte("---\ntitle: T\ndate: 2026-11-02\n---\n![a](x.png) ![b](x.png) ![c](y.png)\n"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := Render(context.Background(), doc, testOpts, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Warnings) != 2 || !strings.Contains(info.Warnings[0], "x.png") {
		t.Errorf("warnings %q, want one per image file", info.Warnings)
	}
}

func TestRenderOptions(t *testing.T) {
	doc := parseFile(t, "testdata/polish.md")
	for _, tc := range []struct {
		name string
		opts Options
		err  string
	}{
		{"bad language", Options{Language: "xx"}, "unsupported language"},
		{"relative base", Options{BaseURL: "/poradniki/"}, "base URL"},
		{"english", Options{Language: "en"}, ""},
		{"no base", Options{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := Render(context.Background(), doc, tc.opts, &buf)
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), doc.Path)):
				t.Fatalf("err %v, want %q naming the file", err, tc.err)
			}
			if tc.err == "" && tc.opts.BaseURL == "" && bytes.Contains(buf.Bytes(), []byte("/poradniki/")) {
				t.Error("site-relative link became a link without a base URL")
			}
		})
	}
}

func TestRenderCancelled(t *testing.T) {
	doc := parseFile(t, "testdata/polish.md")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if _, err := Render(ctx, doc, testOpts, &buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if buf.Len() != 0 {
		t.Fatal("wrote output after cancellation")
	}
}

// TestBuildConcurrentConfigs: two kb processes building one site with
// different options (two servers on different ports, say) share the cache
// directory, and each prunes the other's entries. Neither may fail for it:
// a build installs the bytes it verified or rendered, not whatever the
// cache holds by the time it gets there.
func TestBuildConcurrentConfigs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "wp.md")
	if err := os.WriteFile(src, mustRead(t, "testdata/polish.md"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	const builders, rounds = 4, 20
	var wg sync.WaitGroup
	for g := range builders {
		out := filepath.Join(dir, fmt.Sprintf("public-%d", g), "wp.pdf")
		wg.Go(func() {
			for r := range rounds {
				// A new port each time: every build renders and prunes.
				opts := testOpts
				opts.BaseURL = fmt.Sprintf("http://127.0.0.1:%d/", 8000+100*g+r)
				info, err := Build(context.Background(), src, out, cache, opts)
				if err != nil {
					t.Error(err)
					return
				}
				if sum, size, err := fileSum(out); err != nil || sum != info.SHA256 || size != info.Size {
					t.Errorf("builder %d: output %s/%d does not match Info %+v (%v)", g, sum, size, info, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "wp.md")
	out := filepath.Join(dir, "public", "pdf", "wp.pdf")
	cache := filepath.Join(dir, "cache")
	orig, err := os.ReadFile("testdata/polish.md")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(info Info) {
		t.Helper()
		sum, size, err := fileSum(out)
		if err != nil {
			t.Fatal(err)
		}
		if sum != info.SHA256 || size != info.Size || info.Pages < 3 {
			t.Fatalf("output %s/%d does not match Info %+v", sum, size, info)
		}
	}

	first, err := Build(ctx, src, out, cache, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached {
		t.Fatal("first build came from the cache")
	}
	check(first)

	// Unchanged: served from the cache, the output file is not rewritten.
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(out, old, old); err != nil {
		t.Fatal(err)
	}
	second, err := Build(ctx, src, out, cache, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Cached || second.SHA256 != first.SHA256 || second.Pages != first.Pages {
		t.Fatalf("second build %+v, want the cached %+v", second, first)
	}
	if st, _ := os.Stat(out); !st.ModTime().Equal(old) {
		t.Error("unchanged build rewrote the output")
	}

	// Output deleted: reinstalled from the cache.
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	third, err := Build(ctx, src, out, cache, testOpts)
	if err != nil || !third.Cached {
		t.Fatalf("rebuild after delete: %+v %v", third, err)
	}
	check(third)

	// Source changed: rendered again, and the old cache entry is pruned.
	changed := bytes.Replace(orig, []byte("Ostatni akapit dokumentu."), []byte("Ostatni akapit, zmieniony."), 1)
	if err := os.WriteFile(src, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	fourth, err := Build(ctx, src, out, cache, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Cached || fourth.SHA256 == first.SHA256 {
		t.Fatalf("changed source: %+v", fourth)
	}
	check(fourth)
	entries, _ := os.ReadDir(cache)
	if len(entries) != 2 {
		t.Errorf("cache holds %d files, want the current PDF and its Info", len(entries))
	}

	// Options changed: rendered again.
	opts := testOpts
	opts.FirmAddress = "ul. Inna 1, 00-001 Warszawa"
	fifth, err := Build(ctx, src, out, cache, opts)
	if err != nil || fifth.Cached {
		t.Fatalf("changed options: %+v %v", fifth, err)
	}

	// A corrupted cache entry is not trusted.
	matches, _ := filepath.Glob(filepath.Join(cache, "*.pdf"))
	if len(matches) != 1 {
		t.Fatalf("cache pdfs: %v", matches)
	}
	if err := os.WriteFile(matches[0], []byte("%PDF-garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	sixth, err := Build(ctx, src, out, cache, opts)
	if err != nil || sixth.Cached || sixth.SHA256 != fifth.SHA256 {
		t.Fatalf("corrupt cache: %+v %v", sixth, err)
	}
	check(sixth)

	// A broken source fails with its name and leaves the last good PDF.
	if err := os.WriteFile(src, []byte("---\ndate: 2026-11-02\n---\nx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(ctx, src, out, cache, opts); err == nil || !strings.Contains(err.Error(), src) {
		t.Fatalf("broken source: %v", err)
	}
	check(sixth)
	if _, err := Build(ctx, filepath.Join(dir, "missing.md"), out, cache, opts); err == nil || !strings.Contains(err.Error(), "missing.md") {
		t.Fatalf("missing source: %v", err)
	}
}

func TestColumnWidths(t *testing.T) {
	tests := []struct {
		natural, minimum []float64
		w                float64
	}{
		{[]float64{20, 30, 200}, []float64{10, 12, 20}, 160},
		{[]float64{20, 30}, []float64{10, 12}, 160},
		{[]float64{500, 500}, []float64{300, 300}, 160},
		{[]float64{8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8}, make([]float64, 23), 160},
	}
	for i, tc := range tests {
		nat := append([]float64(nil), tc.natural...)
		got := columnWidths(nat, tc.minimum, tc.w)
		sum := 0.0
		for _, w := range got {
			if w <= 0 || math.IsNaN(w) {
				t.Errorf("case %d: width %v", i, got)
			}
			sum += w
		}
		if math.Abs(sum-tc.w) > 1e-6 {
			t.Errorf("case %d: widths %v sum to %v, want %v", i, got, sum, tc.w)
		}
	}
	// Short columns keep their natural width, the long one takes the rest.
	got := columnWidths([]float64{20, 30, 200}, []float64{10, 12, 20}, 160)
	if got[0] != 20 || got[1] != 30 {
		t.Errorf("short columns squeezed: %v", got)
	}
}

func TestNumeric(t *testing.T) {
	for s, want := range map[string]bool{
		"32 500": true, "−3 500": true, "+10 800": true, "12,5%": true, "1 200 zł": true, "7": true,
		"1 (2–8 XI)": false, "": false, "abc": false, "%": false, "2.": true,
	} {
		if numeric(s) != want {
			t.Errorf("numeric(%q) = %v", s, !want)
		}
	}
}

// synthetic builds a long document with every kind of block.
func synthetic(sections int) []byte {
	var b strings.Builder
	b.WriteString("---\ntitle: \"Dokument syntetyczny\"\nsubtitle: \"Sto stron\"\ndate: 2026-11-02\nversion: \"1.0\"\n---\n\n")
	para := "Wynik finansowy liczymy memoriałowo: przychód pojawia się, gdy wykonamy **usługę** albo wydamy towar, koszt — gdy go *poniesiemy*. Rachunek bankowy nie zna tej konwencji i widzi wyłącznie [przelewy](https://example.com/przelewy), które już przyszły, oraz te, które już wyszły. Między jednym a drugim światem leży czas, a czas w małej firmie kosztuje najwięcej.\n\n"
	for s := 1; s <= sections; s++ {
		fmt.Fprintf(&b, "## Rozdział %d: gotówka i płynność\n\n", s)
		for sub := 1; sub <= 3; sub++ {
			fmt.Fprintf(&b, "### Część %d.%d\n\n", s, sub)
			b.WriteString(para)
			b.WriteString(para)
			b.WriteString("- Pierwszy punkt listy z `kodem` i dłuższym opisem, który zawija się do następnej linii tekstu.\n- Drugi punkt.\n  - Zagnieżdżony punkt.\n- Trzeci punkt.\n\n")
			if sub == 2 {
				b.WriteString("| Tydzień | Saldo początkowe | Wpływy | Wydatki | Uwagi |\n| --- | --- | --- | --- | --- |\n")
				for w := 1; w <= 6; w++ {
					fmt.Fprintf(&b, "| %d | %d 000 | 31 500 | 22 200 | czynsz, media, wypłata właściciela |\n", w, 50+w)
				}
				b.WriteString("\n> Cytat w środku rozdziału, pisany kursywą, z regułą po lewej stronie.\n\n")
			}
		}
	}
	return []byte(b.String())
}

func TestSyntheticPages(t *testing.T) {
	if testing.Short() {
		t.Skip("long render")
	}
	doc, err := Parse("synthetic.md", synthetic(syntheticSections))
	if err != nil {
		t.Fatal(err)
	}
	info, err := Render(context.Background(), doc, testOpts, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Pages < 90 || info.Pages > 115 {
		t.Errorf("synthetic document has %d pages, want about 100", info.Pages)
	}
}

const syntheticSections = 62

func BenchmarkRenderWhitepaper(b *testing.B) {
	path := realWhitepaper
	if _, err := os.Stat(path); err != nil {
		path = "testdata/polish.md"
	}
	benchRender(b, parseFile(b, path))
}

func BenchmarkRenderSynthetic100Pages(b *testing.B) {
	doc, err := Parse("synthetic.md", synthetic(syntheticSections))
	if err != nil {
		b.Fatal(err)
	}
	benchRender(b, doc)
}

func benchRender(b *testing.B, doc *Document) {
	b.SetBytes(int64(len(doc.Body)))
	b.ReportAllocs()
	var pages int
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		info, err := Render(context.Background(), doc, testOpts, &buf)
		if err != nil {
			b.Fatal(err)
		}
		pages = info.Pages
	}
	b.ReportMetric(float64(pages), "pages")
	b.ReportMetric(float64(pages)*float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	b.ReportMetric(float64(buf.Len()), "pdf-bytes")
}

// TestMetricsMatchFpdf holds the widths used for layout equal to the ones
// fpdf uses when it draws, for every character the fonts have below U+3000.
func TestMetricsMatchFpdf(t *testing.T) {
	m := mustMetrics(t)
	pdf := fpdf.New("P", "mm", "A4", "")
	addFonts(pdf)
	checked := 0
	for f := range numFaces {
		pdf.SetFont(faces[f].family, faces[f].style, 10)
		for r := rune(0x20); r < 0x3000; r++ {
			if !m.drawable(r) {
				continue
			}
			want := pdf.GetStringSymbolWidth(string(r))
			if got := m.units(f, r); int(got) != want {
				t.Fatalf("face %d rune %U: width %d, fpdf %d", f, r, got, want)
			}
			checked++
		}
	}
	if err := pdf.Error(); err != nil || checked < 2000 {
		t.Fatalf("checked %d characters, err %v", checked, err)
	}
}

// BenchmarkBuildCached is the cost of Build when nothing changed, which is
// what every site build pays.
func BenchmarkBuildCached(b *testing.B) {
	src := realWhitepaper
	if _, err := os.Stat(src); err != nil {
		src = "testdata/polish.md"
	}
	dir := b.TempDir()
	out, cache := filepath.Join(dir, "wp.pdf"), filepath.Join(dir, "cache")
	if _, err := Build(context.Background(), src, out, cache, testOpts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		info, err := Build(context.Background(), src, out, cache, testOpts)
		if err != nil || !info.Cached {
			b.Fatalf("%+v %v", info, err)
		}
	}
}
