package site

import (
	"github.com/kbpress/kb/internal/textfold"

	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"unicode"

	"github.com/gohugoio/hugo/common/types"
	"github.com/gohugoio/hugo/config/allconfig"
	"github.com/gohugoio/hugo/parser/pageparser"
	"github.com/spf13/cast"
	"golang.org/x/sync/errgroup"
	"golang.org/x/text/unicode/norm"
)

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// contentFile is a content file with its decoded front matter (nil if it
// has none or it does not parse: Hugo reports that during the build).
type contentFile struct {
	path string // absolute
	dir  string // the content directory it is under
	fm   map[string]any
}

// scanContent reads the front matter of every content file of the project,
// in parallel: on large sites this pre-scan is the biggest thing kb adds to
// Hugo's own work, so it is done once for every use (term slugs, related
// guides).
func scanContent(ctx context.Context, configs *allconfig.Configs) ([]contentFile, error) {
	var files []contentFile
	for _, dir := range contentDirs(configs) {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if !d.IsDir() && isContentFile(path) {
				files = append(files, contentFile{path: path, dir: dir})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range files {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			files[i].fm = readFrontMatter(files[i].path)
			return nil
		})
	}
	return files, g.Wait()
}

// termSlugCascades finishes what removePathAccents starts: Hugo strips
// combining accents from URLs but keeps letters without a decomposition
// (ł in "przepływy"), so every taxonomy term whose URL would still be
// non-ASCII gets a folded slug through a cascade entry targeting its term
// page.
func termSlugCascades(files []contentFile, configs *allconfig.Configs, log *slog.Logger) []map[string]any {
	if !configs.Base.RemovePathAccents || len(configs.Base.Taxonomies) == 0 {
		return nil
	}
	plurals := make([]string, 0, len(configs.Base.Taxonomies))
	for _, plural := range configs.Base.Taxonomies {
		plurals = append(plurals, plural)
	}
	terms := map[string]map[string]bool{} // plural → terms
	for _, f := range files {
		for _, plural := range plurals {
			for _, t := range types.ToStringSlicePreserveString(lookupFold(f.fm, plural)) {
				if isASCII(t) {
					continue
				}
				if terms[plural] == nil {
					terms[plural] = map[string]bool{}
				}
				terms[plural][t] = true
			}
		}
	}

	parser := configs.ContentPathParser
	var out []map[string]any
	slugOwner := map[string]string{}
	for _, plural := range sortedKeys(terms) {
		for _, term := range sortedKeys(terms[plural]) {
			key := parser.Parse("content", "/"+plural+"/"+term+"/_index.md").Base()
			name := key[strings.LastIndex(key, "/")+1:]
			if isASCII(textRemoveAccents(name)) {
				continue // Hugo's own accent removal is enough
			}
			if strings.ContainsAny(key, `*?[]{}\`) {
				log.Warn("site: term has glob characters; its URL keeps its letters", "term", term)
				continue
			}
			slug := textfold.ASCII(name)
			if prev, ok := slugOwner[plural+"/"+slug]; ok {
				log.Warn("site: two terms share one URL", "taxonomy", plural, "terms", []string{prev, term}, "slug", slug)
			}
			slugOwner[plural+"/"+slug] = term
			out = append(out, map[string]any{
				"slug":   slug,
				"target": map[string]any{"path": key, "kind": "term"},
			})
		}
	}
	return out
}

// textRemoveAccents is Hugo's removePathAccents transformation.
func textRemoveAccents(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}

func contentDirs(configs *allconfig.Configs) []string {
	var dirs []string
	for _, m := range configs.Modules {
		if m.Owner() != nil {
			continue // only the project itself; themes don't tag guides
		}
		for _, mount := range m.Mounts() {
			if mount.Component() == "content" {
				src := mount.Source
				if !filepath.IsAbs(src) {
					src = filepath.Join(m.Dir(), src)
				}
				dirs = append(dirs, src)
			}
		}
	}
	if len(dirs) == 0 {
		dirs = append(dirs, filepath.Join(configs.Base.WorkingDir, "content"))
	}
	return dirs
}

func isContentFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".md", ".markdown", ".html", ".htm":
		return true
	}
	return false
}

// readFrontMatter decodes a content file's front matter; nil if it has
// none or it does not parse (Hugo reports that during the build).
func readFrontMatter(path string) map[string]any {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	cf, err := pageparser.ParseFrontMatterAndContent(bytes.NewReader(frontMatterOnly(raw)))
	if err != nil {
		return nil
	}
	return cf.FrontMatter
}

// frontMatterOnly cuts a YAML (---) or TOML (+++) front matter block off
// the body, so the parser does not lex the whole page; other input is
// returned whole.
func frontMatterOnly(raw []byte) []byte {
	raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
	for _, delim := range []string{"---", "+++"} {
		open := delim + "\n"
		if bytes.HasPrefix(raw, []byte(delim+"\r\n")) {
			open = delim + "\r\n"
		} else if !bytes.HasPrefix(raw, []byte(open)) {
			continue
		}
		rest := raw[len(open):]
		for off := 0; off < len(rest); {
			line := rest[off:]
			end := bytes.IndexByte(line, '\n')
			if end < 0 {
				end = len(line)
			} else {
				end++
			}
			if string(bytes.TrimRight(line[:end], "\r\n")) == delim {
				return raw[:len(open)+off+end]
			}
			off += end
		}
		return raw
	}
	return raw
}

func lookupFold(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// existingCascades returns the cascade entries of the site config as a
// list, so ours can be appended to them.
func existingCascades(v any) []map[string]any {
	if v == nil {
		return nil
	}
	if m, err := cast.ToStringMapE(v); err == nil {
		return []map[string]any{m}
	}
	var out []map[string]any
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		for i := 0; i < rv.Len(); i++ {
			if m, err := cast.ToStringMapE(rv.Index(i).Interface()); err == nil {
				out = append(out, m)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
