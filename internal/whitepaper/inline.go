package whitepaper

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
)

// span is a run of inline text with one style and one link target.
type span struct {
	text  string
	st    style
	link  string // external URL, or "#id" for a heading in this document
	brk   bool   // a hard line break; text is empty
	color *rgb   // overrides the paragraph colour (placeholders)
}

// frag is the part of a word drawn with one font call.
type frag struct {
	text  string
	st    style
	link  string
	color *rgb
	w     float64
}

// word is an unbreakable unit of a line; space is the width of the gap that
// follows it when the line is not stretched.
type word struct {
	frags []frag
	w     float64
	space float64
	brk   bool
	keep  bool // never end a line after this word
}

// line is one laid-out line of a paragraph.
type line struct {
	words []word
	w     float64 // natural width, gaps included
	last  bool    // last line of a paragraph or before a hard break: never stretched
}

// spans flattens the inline children of n.
func (r *renderer) spans(n ast.Node, st style, link string, out []span) []span {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			out = append(out, span{text: string(c.Value(r.src)), st: st, link: link})
			switch {
			case c.HardLineBreak():
				out = append(out, span{brk: true})
			case c.SoftLineBreak():
				out = append(out, span{text: " ", st: st, link: link})
			}
		case *ast.String:
			out = append(out, span{text: string(c.Value), st: st, link: link})
		case *ast.CodeSpan:
			var b strings.Builder
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				switch t := t.(type) {
				case *ast.Text:
					b.Write(t.Value(r.src))
				case *ast.String:
					b.Write(t.Value)
				}
			}
			out = append(out, span{text: b.String(), st: st | stCode, link: link})
		case *ast.Emphasis:
			add := stItalic
			if c.Level >= 2 {
				add = stBold
			}
			out = r.spans(c, st|add, link, out)
		case *east.Strikethrough:
			out = r.spans(c, st|stStrike, link, out)
		case *ast.Link:
			out = r.spans(c, st, r.resolveLink(string(c.Destination)), out)
		case *ast.AutoLink:
			out = append(out, span{text: string(c.Label(r.src)), st: st, link: r.resolveLink(string(c.URL(r.src)))})
		case *ast.Image:
			// Images are never fetched or embedded: the whitepaper is text,
			// and a missing or remote file must not break the build. The
			// alt text keeps the meaning visible.
			alt := strings.TrimSpace(plainText(r.src, c))
			if alt == "" {
				alt = string(c.Destination)
			}
			r.warnf("image %q is not embedded; its alt text is shown instead", string(c.Destination))
			out = append(out, span{text: "[" + r.lab.image + ": " + alt + "]", st: st | stItalic, color: &colMuted})
		case *ast.RawHTML:
			// Raw HTML is never interpreted; comments and tags are dropped.
		default:
			out = r.spans(c, st, link, out)
		}
	}
	return out
}

// plainText is the text of n's inline descendants, without markup.
func plainText(src []byte, n ast.Node) string {
	var b strings.Builder
	var walk func(ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				b.Write(c.Value(src))
				if c.SoftLineBreak() || c.HardLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(c.Value)
			case *ast.AutoLink:
				b.Write(c.Label(src))
			case *ast.RawHTML:
			default:
				walk(c)
			}
		}
	}
	walk(n)
	return b.String()
}

// resolveLink turns a markdown destination into something safe to click:
// absolute http(s)/mailto/tel URLs as they are, site-relative paths against
// Options.BaseURL, "#id" to a heading of this document. Anything else
// (javascript:, file:, a relative path without a base URL) stays plain text.
func (r *renderer) resolveLink(dest string) string {
	dest = strings.TrimSpace(dest)
	if dest == "" {
		return ""
	}
	if strings.HasPrefix(dest, "#") {
		if _, ok := r.anchors[dest[1:]]; ok {
			return dest
		}
		return ""
	}
	u, err := url.Parse(dest)
	if err != nil {
		return ""
	}
	if u.Scheme == "" {
		if r.base == nil || u.Host != "" && !strings.HasPrefix(dest, "//") {
			return ""
		}
		u = r.base.ResolveReference(u)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return ""
		}
	case "mailto", "tel":
	default:
		return ""
	}
	return asciiURL(u.String())
}

// asciiURL percent-encodes any byte outside printable ASCII: a PDF /URI is
// a 7-bit string.
func asciiURL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7F {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// words turns spans into words, measuring every fragment. Runs of
// whitespace collapse to one gap; a non-breaking space joins words.
func (r *renderer) words(spans []span, sizePt float64) []word {
	var (
		out []word
		cur word
		sb  strings.Builder
	)
	var cst style
	var clink string
	var ccol *rgb
	flushFrag := func() {
		if sb.Len() == 0 {
			return
		}
		t := sb.String()
		sb.Reset()
		w := r.m.width(faceOf(cst), sizePt, t)
		if n := len(cur.frags); n > 0 && cur.frags[n-1].st == cst && cur.frags[n-1].link == clink && cur.frags[n-1].color == ccol {
			cur.frags[n-1].text += t
			cur.frags[n-1].w += w
		} else {
			cur.frags = append(cur.frags, frag{text: t, st: cst, link: clink, color: ccol, w: w})
		}
		cur.w += w
	}
	flushWord := func(space float64) {
		flushFrag()
		if len(cur.frags) > 0 {
			cur.space = space
			out = append(out, cur)
		} else if len(out) > 0 && out[len(out)-1].space == 0 && !out[len(out)-1].brk {
			out[len(out)-1].space = space
		}
		cur = word{}
	}
	for _, s := range spans {
		if s.brk {
			flushWord(0)
			if len(out) > 0 {
				out[len(out)-1].brk = true
			}
			continue
		}
		text := r.m.sanitize(s.text)
		if s.st != cst || s.link != clink || s.color != ccol {
			flushFrag()
			cst, clink, ccol = s.st, s.link, s.color
		}
		for _, c := range text {
			if c == ' ' {
				flushWord(r.m.width(faceOf(s.st), sizePt, " "))
				continue
			}
			sb.WriteRune(c)
		}
	}
	flushWord(0)
	// Trailing gaps are never drawn; clear them so line widths are exact.
	if n := len(out); n > 0 {
		out[n-1].space = 0
	}
	if r.lab.lang == "pl" {
		polishBreaks(out)
	}
	return out
}

// polishBreaks applies the Polish typesetting rules a reader expects: a
// one-letter word (a, i, o, u, w, z) never ends a line, and a dash never
// starts one.
func polishBreaks(words []word) {
	for i := range words {
		if len(words[i].frags) != 1 {
			continue
		}
		switch words[i].frags[0].text {
		case "a", "i", "o", "u", "w", "z", "A", "I", "O", "U", "W", "Z":
			words[i].keep = true
		case "\u2014", "\u2013":
			if i > 0 {
				words[i-1].keep = true
			}
		}
	}
}

// breakLines fills lines of at most width w greedily. A word wider than a
// whole line is cut into pieces that fit, so nothing can run off the page.
func (r *renderer) breakLines(words []word, w, sizePt float64) []line {
	var (
		lines []line
		cur   line
	)
	flush := func(last bool) {
		cur.last = last
		if n := len(cur.words); n > 0 {
			cur.w -= cur.words[n-1].space
		}
		lines = append(lines, cur)
		cur = line{}
	}
	for _, wd := range words {
		if len(cur.words) > 0 && cur.w+wd.w > w+1e-6 {
			// Carry words that must not end a line over with this one.
			k := len(cur.words)
			for k > 1 && cur.words[k-1].keep && !cur.words[k-1].brk {
				k--
			}
			carried := append([]word(nil), cur.words[k:]...)
			for _, c := range carried {
				cur.w -= c.w + c.space
			}
			cur.words = cur.words[:k]
			flush(false)
			for _, c := range carried {
				cur.words = append(cur.words, c)
				cur.w += c.w + c.space
			}
			if len(cur.words) > 0 && cur.w+wd.w > w+1e-6 {
				flush(false)
			}
		}
		if len(cur.words) == 0 && wd.w > w+1e-6 {
			pieces := r.splitWord(wd, w, sizePt)
			for _, p := range pieces[:len(pieces)-1] {
				cur.words = append(cur.words, p)
				cur.w = p.w
				flush(false)
			}
			wd = pieces[len(pieces)-1]
		}
		cur.words = append(cur.words, wd)
		cur.w += wd.w + wd.space
		if wd.brk {
			flush(true)
		}
	}
	if len(cur.words) > 0 {
		flush(true)
	} else if n := len(lines); n > 0 {
		lines[n-1].last = true
	}
	return lines
}

// splitWord cuts an over-long word into pieces no wider than w, preferring
// to cut after a slash, hyphen or similar when the piece stays long.
func (r *renderer) splitWord(wd word, w, sizePt float64) []word {
	type glyph struct {
		r  rune
		fi int
	}
	var gl []glyph
	var sum []float64 // sum[i] is the width of gl[:i]
	sum = append(sum, 0)
	for fi, f := range wd.frags {
		fc := faceOf(f.st)
		for _, c := range f.text {
			gl = append(gl, glyph{c, fi})
			sum = append(sum, sum[len(sum)-1]+float64(r.m.units(fc, c))*sizePt*mmPerPt/1000)
		}
	}
	piece := func(from, to int) word {
		var p word
		for i := from; i < to; {
			j := i
			for j < to && gl[j].fi == gl[i].fi {
				j++
			}
			src := wd.frags[gl[i].fi]
			var b strings.Builder
			for k := i; k < j; k++ {
				b.WriteRune(gl[k].r)
			}
			f := frag{text: b.String(), st: src.st, link: src.link, color: src.color, w: sum[j] - sum[i]}
			p.frags = append(p.frags, f)
			p.w += f.w
			i = j
		}
		return p
	}
	var pieces []word
	start, pref := 0, -1
	for i := range gl {
		if sum[i+1]-sum[start] > w+1e-6 && i > start {
			cut := i
			if pref > start && sum[pref]-sum[start] >= 0.6*w {
				cut = pref
			}
			pieces = append(pieces, piece(start, cut))
			start, pref = cut, -1
		}
		switch gl[i].r {
		case '/', '-', '–', '_', '.', '?', '&', '=', ',', ';':
			pref = i + 1
		}
	}
	last := piece(start, len(gl))
	last.space, last.brk = wd.space, wd.brk
	return append(pieces, last)
}
