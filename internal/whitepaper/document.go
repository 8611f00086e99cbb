package whitepaper

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	yamlast "github.com/goccy/go-yaml/ast"
	yamlparser "github.com/goccy/go-yaml/parser"
	"github.com/pelletier/go-toml/v2"
)

// MaxSourceSize bounds the markdown accepted by Parse. The real whitepaper is
// about 40 KB; anything near this limit is a mistake, not a publication.
const MaxSourceSize = 4 << 20

// Document is a parsed whitepaper: its front matter and its markdown body.
type Document struct {
	// Path names the source in every error message.
	Path        string
	Title       string
	Subtitle    string
	Description string
	Author      string
	Version     string
	Slug        string
	Keywords    []string
	// Date dates the publication on the cover and in the PDF metadata; it is
	// also what makes the output reproducible (never the clock).
	Date time.Time
	// Lastmod is the PDF's modification date; it defaults to Date.
	Lastmod time.Time
	// Body is the markdown after the front matter.
	Body []byte
	// bodyLine is how many lines of the file precede Body, so errors in
	// the body can name the file's line.
	bodyLine int
}

// frontMatter mirrors the fields read from the YAML or TOML header.
type frontMatter struct {
	Title       scalar   `yaml:"title" toml:"title"`
	Subtitle    scalar   `yaml:"subtitle" toml:"subtitle"`
	Description scalar   `yaml:"description" toml:"description"`
	Author      scalar   `yaml:"author" toml:"author"`
	Version     scalar   `yaml:"version" toml:"version"`
	Slug        scalar   `yaml:"slug" toml:"slug"`
	Date        scalar   `yaml:"date" toml:"date"`
	Lastmod     scalar   `yaml:"lastmod" toml:"lastmod"`
	Keywords    []string `yaml:"keywords" toml:"keywords"`
	Tags        []string `yaml:"tags" toml:"tags"`
}

// scalar keeps a YAML scalar as written, so `version: 1.0` stays "1.0"
// instead of becoming the float 1.
type scalar string

// UnmarshalYAML implements yaml.BytesUnmarshaler.
func (s *scalar) UnmarshalYAML(b []byte) error {
	raw := strings.TrimSpace(string(b))
	if raw == "" || raw == "~" || raw == "null" {
		*s = ""
		return nil
	}
	switch raw[0] {
	case '"', '\'', '|', '>':
		var v string
		if err := yaml.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = scalar(v)
		return nil
	case '[', '{', '-', '&', '*', '!':
		return fmt.Errorf("expected a single value, got %q", firstLine(raw))
	}
	*s = scalar(raw)
	return nil
}

// UnmarshalText lets TOML strings decode into a scalar; TOML dates and
// numbers are handled by tomlFrontMatter.
func (s *scalar) UnmarshalText(b []byte) error {
	*s = scalar(b)
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + "…"
	}
	return s
}

// Parse reads a whitepaper source: YAML (---) or TOML (+++) front matter
// followed by markdown. path is used only in error messages and as
// Document.Path. title and date are required: the title names the PDF and
// the date makes its bytes reproducible.
func Parse(path string, src []byte) (*Document, error) {
	if len(src) > MaxSourceSize {
		return nil, fmt.Errorf("whitepaper %s: source is %d bytes, more than the %d allowed", path, len(src), MaxSourceSize)
	}
	if !utf8.Valid(src) {
		return nil, fmt.Errorf("whitepaper %s: source is not valid UTF-8", path)
	}
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, fmt.Errorf("whitepaper %s: file is empty", path)
	}
	header, body, format, err := splitFrontMatter(src)
	if err != nil {
		return nil, fmt.Errorf("whitepaper %s: %w", path, err)
	}
	if len(header) > maxFrontMatter {
		return nil, fmt.Errorf("whitepaper %s: front matter is %d bytes, more than the %d allowed", path, len(header), maxFrontMatter)
	}
	var fm frontMatter
	switch format {
	case "yaml":
		if err := checkYAML(header); err != nil {
			return nil, fmt.Errorf("whitepaper %s: front matter: %w", path, err)
		}
		// Lenient: Hugo front matter may carry more fields (draft, weight…).
		if err := yaml.Unmarshal(header, &fm); err != nil {
			return nil, fmt.Errorf("whitepaper %s: front matter: %w", path, err)
		}
	case "toml":
		if err := decodeTOML(header, &fm); err != nil {
			return nil, fmt.Errorf("whitepaper %s: front matter: %w", path, err)
		}
	}
	doc := &Document{
		Path:        path,
		Title:       clean(string(fm.Title)),
		Subtitle:    clean(string(fm.Subtitle)),
		Description: clean(string(fm.Description)),
		Author:      clean(string(fm.Author)),
		Version:     clean(string(fm.Version)),
		Slug:        clean(string(fm.Slug)),
		Body:        body,
		bodyLine:    bytes.Count(src[:len(src)-len(body)], []byte("\n")),
	}
	for _, k := range append(fm.Keywords, fm.Tags...) {
		if k = clean(k); k != "" {
			doc.Keywords = append(doc.Keywords, k)
		}
	}
	if doc.Title == "" {
		return nil, fmt.Errorf("whitepaper %s: front matter has no title (required)", path)
	}
	if fm.Date == "" {
		return nil, fmt.Errorf("whitepaper %s: front matter has no date (required: it dates the cover and the PDF)", path)
	}
	if doc.Date, err = parseDate(string(fm.Date)); err != nil {
		return nil, fmt.Errorf("whitepaper %s: front matter date: %w", path, err)
	}
	doc.Lastmod = doc.Date
	if fm.Lastmod != "" {
		if doc.Lastmod, err = parseDate(string(fm.Lastmod)); err != nil {
			return nil, fmt.Errorf("whitepaper %s: front matter lastmod: %w", path, err)
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("whitepaper %s: no text after the front matter", path)
	}
	return doc, nil
}

// maxFrontMatter bounds the header; real ones are a few hundred bytes.
const maxFrontMatter = 64 << 10

// checkYAML rejects front matter that could make decoding explode: a few
// nested aliases ("billion laughs") expand to gigabytes before any type
// check. Front matter has no use for aliases.
func checkYAML(header []byte) error {
	f, err := yamlparser.ParseBytes(header, 0)
	if err != nil {
		return err
	}
	if len(yamlast.FilterFile(yamlast.AliasType, f)) > 0 {
		return errors.New("YAML aliases (*name) are not supported")
	}
	return nil
}

// splitFrontMatter separates the header from the body. It accepts the
// delimiters Hugo accepts for YAML and TOML and CRLF line ends.
func splitFrontMatter(src []byte) (header, body []byte, format string, err error) {
	var delim string
	switch {
	case hasDelimLine(src, "---"):
		delim, format = "---", "yaml"
	case hasDelimLine(src, "+++"):
		delim, format = "+++", "toml"
	default:
		return nil, nil, "", errors.New("no front matter (the file must start with --- and a title)")
	}
	rest := src[len(delim):]
	rest = bytes.TrimLeft(rest, " \t")
	rest = bytes.TrimPrefix(rest, []byte("\r"))
	rest = bytes.TrimPrefix(rest, []byte("\n"))
	// The closing delimiter is a line of its own.
	for off := 0; off <= len(rest); {
		lineEnd := bytes.IndexByte(rest[off:], '\n')
		var line []byte
		next := len(rest) + 1
		if lineEnd < 0 {
			line = rest[off:]
		} else {
			line = rest[off : off+lineEnd]
			next = off + lineEnd + 1
		}
		if string(bytes.TrimRight(line, " \t\r")) == delim {
			header = rest[:off]
			if next <= len(rest) {
				body = rest[next:]
			}
			return header, body, format, nil
		}
		off = next
	}
	return nil, nil, "", fmt.Errorf("front matter opened with %s is never closed", delim)
}

func hasDelimLine(src []byte, delim string) bool {
	if !bytes.HasPrefix(src, []byte(delim)) {
		return false
	}
	rest := bytes.TrimLeft(src[len(delim):], " \t\r")
	return len(rest) == 0 || rest[0] == '\n'
}

// decodeTOML reads TOML front matter; dates there are native values, so
// they are converted to the scalar strings the YAML path produces.
func decodeTOML(header []byte, fm *frontMatter) error {
	var raw map[string]any
	if err := toml.Unmarshal(header, &raw); err != nil {
		return err
	}
	str := func(key string) (scalar, error) {
		switch v := raw[key].(type) {
		case nil:
			return "", nil
		case string:
			return scalar(v), nil
		case int64, float64, bool:
			return scalar(fmt.Sprint(v)), nil
		case time.Time:
			return scalar(v.Format(time.RFC3339)), nil
		case toml.LocalDate:
			return scalar(v.String()), nil
		case toml.LocalDateTime:
			return scalar(v.String()), nil
		default:
			return "", fmt.Errorf("%s: expected a single value, got %T", key, v)
		}
	}
	list := func(key string) ([]string, error) {
		switch v := raw[key].(type) {
		case nil:
			return nil, nil
		case []any:
			out := make([]string, 0, len(v))
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: expected a list of strings", key)
				}
				out = append(out, s)
			}
			return out, nil
		default:
			return nil, fmt.Errorf("%s: expected a list of strings, got %T", key, v)
		}
	}
	var err error
	for key, dst := range map[string]*scalar{
		"title": &fm.Title, "subtitle": &fm.Subtitle, "description": &fm.Description,
		"author": &fm.Author, "version": &fm.Version, "slug": &fm.Slug,
		"date": &fm.Date, "lastmod": &fm.Lastmod,
	} {
		if *dst, err = str(key); err != nil {
			return err
		}
	}
	if fm.Keywords, err = list("keywords"); err != nil {
		return err
	}
	fm.Tags, err = list("tags")
	return err
}

// parseDate accepts the date forms Hugo front matter uses. A date without a
// zone is taken as UTC so that the PDF's dates do not depend on the machine.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{
		time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05",
		"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 -0700",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1900 || t.Year() > 9999 {
				return time.Time{}, fmt.Errorf("year %d is out of range", t.Year())
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (expected YYYY-MM-DD or RFC 3339)", s)
}
