// Package whitepaper renders the firm's whitepaper, a markdown file with
// YAML front matter, to an A4 PDF in pure Go: no browser, no font files and
// no network at run time.
//
// goldmark parses the markdown (CommonMark, GFM tables, strikethrough,
// bare-URL links); a small renderer walks its AST and draws with fpdf. The
// PDF has a cover, a table of contents with page numbers and internal
// links, numbered headings kept with what follows them, justified
// paragraphs with bold, italic, code and clickable links, nested lists
// with hanging indents, blockquotes with a coloured rule, tables whose
// cells wrap (header repeated after a page break, zebra rows, numeric
// columns right-aligned), a running header and "Strona X z Y" footer,
// bookmarks for every heading, and metadata: title, author, subject
// (description), keywords, creator "kb" and /Lang (fpdf's SetLang).
//
// # Why fpdf
//
// github.com/go-pdf/fpdf embeds UTF-8 TrueType fonts with subsetting and a
// ToUnicode map (the text can be searched and copied, Polish letters
// included), and has link annotations to URLs and to pages, outlines,
// document metadata with /Lang, and settable creation dates. It is
// archived, but its output is stable and the module is small.
// github.com/signintech/gopdf is maintained, but it leaves line wrapping,
// page breaks, "page X of Y" and outlines to the caller, which is most of
// what fpdf adds. Only fpdf's drawing primitives are used here: its own
// flowing text (Write) is quadratic in the length of UTF-8 text, cannot
// justify UTF-8 text and cannot keep lines together, so this package
// measures and breaks lines itself and places every word with Text.
//
// # Layout
//
// Layout runs twice. The first pass draws on a canvas that only counts
// pages, to learn where each heading lands and how many pages there are;
// the second draws the PDF and prints those numbers in the contents and
// footers (the contents take the same room in both passes, so the numbers
// agree; a third pass would settle a disagreement). Headings, the header
// of a table and a short paragraph ending in a colon stay with the start
// of what follows; a paragraph never leaves one line alone at the foot or
// the top of a page; a table's last row never moves to a new page alone.
// For Polish, a one-letter word (a, i, o, u, w, z) never ends a line and a
// dash never starts one.
//
// # Charts
//
// A fenced code block with the info string "wykres" holds a line chart's
// data as YAML (chart.go documents the fields). It is the chart's one
// source: the PDF draws it here with gonum.org/v1/plot, through a vg.Canvas
// that writes fpdf's own vector paths and text in the embedded Go fonts
// (vgfpdf.go), and the site's code-block render hook
// (layouts/_markup/render-codeblock-wykres.html) draws the same data as
// inline SVG. Both apply the same checks and compute the same y axis; a
// block that breaks a rule fails the render with the file and line.
//
// # Reproducible output
//
// The same source and Options give the same bytes: the PDF's dates come
// from the front matter (date, lastmod), the producer string is fixed,
// fpdf writes no /ID unless encrypting, and its map-ordered output is
// sorted (SetCatalogSort). fpdf v0.9.0 writes into the font bytes it is
// given while subsetting, so every PDF gets its own copy of the Go fonts.
//
// # Hostile input
//
// Images are never fetched or embedded: an image is shown as its alt text
// in brackets and listed in Info.Warnings. Raw HTML is dropped. Characters
// the Go fonts cannot draw become U+FFFD; control characters are removed.
// A word wider than the line is cut to fit (after a slash or hyphen when
// possible); lists and quotes nested deeper than the page can indent keep
// their parent's indentation; a table row taller than a page is split
// between lines. YAML aliases in the front matter are rejected (they can
// expand exponentially). fpdf panics on some faults; Render recovers and
// returns an error naming the file.
package whitepaper
