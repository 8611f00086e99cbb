package editorial

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/pelletier/go-toml/v2"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// document is one content file, parsed: front matter, markdown AST and the
// heading ids Hugo will give it.
type document struct {
	rel    string // site-relative, slash-separated: content/poradniki/x.md
	guide  bool   // a regular page in the guides section
	bundle bool   // a leaf bundle (…/index.md): relative files live next to it

	fm       map[string]any
	fmLines  map[string]int // top-level front matter key → line in the file
	fmErr    error
	fmErrAt  int
	fmLine   int // line of the opening delimiter (1), 0 when there is none
	bodyLine int // lines before the body

	body       []byte
	lineStarts []int
	root       ast.Node

	url    string          // site path, "/poradniki/x/"
	ids    map[string]bool // heading ids on the page
	draft  bool
	future bool
	date   time.Time
}

// md parses like Hugo's goldmark with this site's settings (config.toml
// [markup]): GFM, footnotes, definition lists, heading attributes; heading
// ids come from assignHeadingIDs. Left out: linkify (bare URLs are never
// internal links, and it is the slowest inline parser) and the
// typographer (the quotes rule needs the straight quotes as typed).
var md = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.TaskList, extension.Footnote, extension.DefinitionList),
	goldmark.WithParserOptions(parser.WithAttribute()),
)

// parseDocument splits and parses one file. Front matter errors are kept
// on the document (reported as findings), never returned.
func parseDocument(rel string, src []byte) *document {
	d := &document{rel: rel, fmLines: map[string]int{}, fm: map[string]any{}}
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	header, body, format, headerLine, err := splitFrontMatter(src)
	if err != nil {
		d.fmErr, d.fmErrAt = err, 1
	}
	d.fmLine = headerLine
	d.body = body
	d.bodyLine = bytes.Count(src[:len(src)-len(body)], []byte("\n"))
	if format != "" {
		d.decodeFrontMatter(header, format)
	}
	d.lineStarts = append(d.lineStarts, 0)
	for i, c := range body {
		if c == '\n' {
			d.lineStarts = append(d.lineStarts, i+1)
		}
	}
	ids := newHugoIDs()
	d.root = md.Parser().Parse(text.NewReader(body), parser.WithContext(parser.NewContext(parser.WithIDs(ids))))
	assignHeadingIDs(d.root, body, ids)
	d.ids = ids.vals
	if v, ok := d.fm["draft"].(bool); ok {
		d.draft = v
	}
	if t, ok := toTime(d.fm["publishDate"]); ok {
		d.date = t
	} else if t, ok := toTime(d.fm["date"]); ok {
		d.date = t
	}
	return d
}

func (d *document) decodeFrontMatter(header []byte, format string) {
	keyRe := yamlKeyRe
	if format == "toml" {
		keyRe = tomlKeyRe
	}
	for i, line := range bytes.Split(header, []byte("\n")) {
		if m := keyRe.FindSubmatch(line); m != nil {
			if _, seen := d.fmLines[string(m[1])]; !seen {
				d.fmLines[string(m[1])] = d.fmLine + 1 + i
			}
		}
	}
	var err error
	switch format {
	case "yaml":
		err = yaml.Unmarshal(header, &d.fm)
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			d.fmErrAt = d.fmLine + ye.GetToken().Position.Line
			err = errors.New(ye.GetMessage())
		}
	case "toml":
		err = toml.Unmarshal(header, &d.fm)
		var te *toml.DecodeError
		if errors.As(err, &te) {
			row, _ := te.Position()
			d.fmErrAt = d.fmLine + row
		}
	}
	if err != nil {
		d.fmErr = err
		if d.fmErrAt == 0 {
			d.fmErrAt = d.fmLine
		}
	}
	if d.fm == nil {
		d.fm = map[string]any{}
	}
}

var (
	yamlKeyRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_-]*)\s*:`)
	tomlKeyRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_-]*)\s*=`)
)

// splitFrontMatter separates a YAML (---) or TOML (+++) header from the
// body; a file without one is all body.
func splitFrontMatter(src []byte) (header, body []byte, format string, headerLine int, err error) {
	first, rest, _ := bytes.Cut(src, []byte("\n"))
	switch string(bytes.TrimRight(first, " \t\r")) {
	case "---":
		format = "yaml"
	case "+++":
		format = "toml"
	default:
		return nil, src, "", 0, nil
	}
	delim := string(bytes.TrimRight(first, " \t\r"))
	for off := 0; off < len(rest); {
		end := bytes.IndexByte(rest[off:], '\n')
		next := len(rest)
		line := rest[off:]
		if end >= 0 {
			line, next = rest[off:off+end], off+end+1
		}
		if string(bytes.TrimRight(line, " \t\r")) == delim {
			return rest[:off], rest[next:], format, 1, nil
		}
		off = next
	}
	return nil, nil, "", 1, fmt.Errorf("front matter bez zamykającego %s", delim)
}

// pos turns a body offset into the file's line and column (runes, 1-based).
func (d *document) pos(off int) (line, col int) {
	i := sort.Search(len(d.lineStarts), func(i int) bool { return d.lineStarts[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	start := d.lineStarts[i]
	if off > len(d.body) {
		off = len(d.body)
	}
	return d.bodyLine + i + 1, utf8.RuneCount(d.body[start:off]) + 1
}

// nodePos finds where a node starts in the file: a block's first line, an
// inline's first text segment, or its nearest block ancestor.
func (d *document) nodePos(n ast.Node) (line, col int) {
	if off, ok := nodeOffset(n); ok {
		return d.pos(off)
	}
	for p := n.Parent(); p != nil; p = p.Parent() {
		if p.Type() == ast.TypeBlock && p.Lines().Len() > 0 {
			return d.pos(p.Lines().At(0).Start)
		}
	}
	return d.bodyLine + 1, 0
}

func nodeOffset(n ast.Node) (int, bool) {
	switch n := n.(type) {
	case *ast.Text:
		return n.Segment.Start, true
	case *ast.RawHTML:
		if n.Segments.Len() > 0 {
			return n.Segments.At(0).Start, true
		}
	}
	if n.Type() == ast.TypeBlock && n.Lines().Len() > 0 {
		return n.Lines().At(0).Start, true
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if off, ok := nodeOffset(c); ok {
			switch n.Kind() {
			case ast.KindLink:
				off-- // the "["
			case ast.KindImage:
				off -= 2 // the "!["
			}
			return max(off, 0), true
		}
	}
	return 0, false
}

// plainText is the text of an inline subtree (an image's alt text).
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// assignHeadingIDs gives headings their ids as Hugo's attributes
// extension does (markup/goldmark/internal/extensions/attributes): in
// document order, a {#custom} id is taken as is, the others come from the
// heading's plain text (its last line for a setext heading).
func assignHeadingIDs(root ast.Node, src []byte, ids *hugoIDs) {
	_ = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !ok || !entering {
			return ast.WalkContinue, nil
		}
		if id, found := h.AttributeString("id"); found {
			if b, ok := id.([]byte); ok {
				ids.Put(b)
			}
			return ast.WalkSkipChildren, nil
		}
		var b strings.Builder
		for c := h.FirstChild(); c != nil; c = c.NextSibling() {
			hugoTextTo(c, src, &b)
		}
		t := html.UnescapeString(b.String())
		if h.Lines().Len() > 1 {
			t = t[strings.LastIndexByte(t, '\n')+1:]
		}
		if t != "" {
			h.SetAttribute([]byte("id"), ids.Generate([]byte(t), ast.KindHeading))
		}
		return ast.WalkSkipChildren, nil
	})
}

// hugoTextTo is Hugo's render.TextPlain, which heading ids come from; like
// Hugo it follows only the first child of inline markup. Hugo's
// typographer has turned -- and --- into dashes by then, which ids drop.
func hugoTextTo(n ast.Node, src []byte, b *strings.Builder) {
	if n == nil {
		return
	}
	switch n := n.(type) {
	case *ast.RawHTML:
		b.WriteString(strings.TrimSpace(tagRe.ReplaceAllString(string(n.Segments.Value(src)), "")))
	case *ast.String:
		b.Write(n.Value)
	case *ast.Text:
		b.WriteString(dashes.Replace(string(n.Segment.Value(src))))
		if n.HardLineBreak() || n.SoftLineBreak() {
			b.WriteByte('\n')
		}
	default:
		hugoTextTo(n.FirstChild(), src, b)
	}
}

var tagRe = regexp.MustCompile(`<[^>]*>`)

// hugoIDs generates heading ids exactly as Hugo's goldmark does with the
// default autoHeadingIDType "github" (markup/goldmark/autoid.go): letters
// (Polish ones kept), digits and "_" lower-cased, spaces and "-" become
// "-", the rest dropped; repeats get "-1", "-2"…
type hugoIDs struct{ vals map[string]bool }

func newHugoIDs() *hugoIDs { return &hugoIDs{vals: map[string]bool{}} }

func (ids *hugoIDs) Generate(value []byte, kind ast.NodeKind) []byte {
	id := anchorize(string(value))
	if id == "" {
		id = "id"
		if kind == ast.KindHeading {
			id = "heading"
		}
	}
	if ids.vals[id] {
		for i := 1; ; i++ {
			if c := id + "-" + strconv.Itoa(i); !ids.vals[c] {
				id = c
				break
			}
		}
	}
	ids.vals[id] = true
	return []byte(id)
}

func (ids *hugoIDs) Put(value []byte) { ids.vals[string(value)] = true }

// anchorize is Hugo's github-style heading id of a heading's source text.
func anchorize(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == '-' || r == ' ':
			b.WriteByte('-')
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// toTime reads a front matter date the way Hugo accepts them.
func toTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case toml.LocalDate:
		return v.AsTime(time.UTC), true
	case toml.LocalDateTime:
		return v.AsTime(time.UTC), true
	case string:
		s := strings.TrimSpace(v)
		for _, layout := range []string{time.RFC3339, time.DateOnly, "2006-01-02T15:04:05", time.DateTime} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// stringList reads a front matter list of strings; ok is false for
// anything else (a bare string, numbers).
func stringList(v any) (list []string, ok bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case []string:
		return v, true
	case []any:
		for _, e := range v {
			s, isString := e.(string)
			if !isString {
				return nil, false
			}
			list = append(list, s)
		}
		return list, true
	}
	return nil, false
}

// headingIDs lists the page's heading ids in order.
func (d *document) headingIDs() []string {
	var out []string
	_ = ast.Walk(d.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			if id, ok := h.AttributeString("id"); ok {
				out = append(out, string(id.([]byte)))
			}
		}
		return ast.WalkContinue, nil
	})
	return out
}

var dashes = strings.NewReplacer("---", "", "--", "")
