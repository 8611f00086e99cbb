// Package precompress writes brotli (.br) and gzip (.gz) siblings of the
// compressible files of a built site, so that `kb serve`, nginx
// (gzip_static, brotli_static) and Caddy (file_server precompressed) send
// them without compressing on every request.
//
// A sibling is written only when it is smaller than its source, for files
// of at least MinSize bytes, atomically (temp file + rename). The publish
// dir keeps files the site build did not write (internal/site), so
// siblings survive a rebuild: a manifest (.kb-precompress.json) records
// the SHA-256 of each source, a source whose content is unchanged keeps its
// siblings, and siblings whose source is gone or changed are removed or
// rewritten. Every sibling gets its source's modification time: a server
// uses a sibling only when it is not older than its source, so in the
// moment between a rebuild and its precompression a stale sibling is never
// served.
package precompress

import (
	"github.com/kbpress/kb/internal/atomicfile"

	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

// MinSize is the smallest file worth compressing: below it the saving is
// a few hundred bytes at most, less than a packet.
const MinSize = 1024

// ManifestName is the manifest's name inside the publish dir (a dot file:
// never served).
const ManifestName = ".kb-precompress.json"

// Encodings with their file suffixes, in the order servers prefer them.
const (
	Brotli = "br"
	Gzip   = "gzip"
)

// Suffix is the file suffix of an encoding's sibling.
func Suffix(encoding string) string {
	if encoding == Gzip {
		return ".gz"
	}
	return ".br"
}

// compressibleExt are the text formats of a built site.
var compressibleExt = map[string]bool{
	".html": true, ".htm": true, ".css": true, ".js": true, ".mjs": true,
	".json": true, ".xml": true, ".svg": true, ".txt": true, ".webmanifest": true,
	".map": true,
}

// Compressible reports whether a file of this name is worth compressing
// (text formats; images, fonts and PDFs are compressed already).
func Compressible(name string) bool {
	return compressibleExt[strings.ToLower(path.Ext(name))]
}

// Extensions are the compressible file extensions, sorted (the deploy
// configurations' patterns are tested against them).
func Extensions() []string {
	out := make([]string, 0, len(compressibleExt))
	for e := range compressibleExt {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// SiblingSource returns the source a precompressed sibling's name stands
// for (x.css for x.css.br) and its encoding; ok is false for other names.
func SiblingSource(name string) (source, encoding string, ok bool) {
	switch {
	case strings.HasSuffix(name, ".br"):
		source, encoding = strings.TrimSuffix(name, ".br"), Brotli
	case strings.HasSuffix(name, ".gz"):
		source, encoding = strings.TrimSuffix(name, ".gz"), Gzip
	default:
		return "", "", false
	}
	return source, encoding, Compressible(source)
}

// Options tune the compression; the zero value is the build's default.
type Options struct {
	// BrotliLevel (0–11) compresses assets: CSS, JS, SVG, JSON (the
	// search index); 0 means DefaultBrotliLevel.
	BrotliLevel int
	// PageBrotliLevel compresses pages and feeds (HTML, XML, TXT), the
	// bulk of a large site; 0 means DefaultPageBrotliLevel.
	PageBrotliLevel int
	// GzipLevel is 1–9; 0 means gzip.BestCompression.
	GzipLevel int
	// Workers compress in parallel; 0 means GOMAXPROCS.
	Workers int
}

// Default brotli levels. Measured on the built home page (BenchmarkLevels,
// one core): level 11 compresses 0.3 MB/s to 31 % of the size, level 5
// 9–10 MB/s to 34 %, gzip -9 14 MB/s to 36 %. Assets are few and loaded by
// every page: 11. Pages are thousands on a large site (2,000 guides are
// about 50 MB of HTML) and a template change rewrites them all: at 5 that
// rebuild costs seconds, not minutes. Unchanged files are never compressed
// again either way.
const (
	DefaultBrotliLevel     = 11
	DefaultPageBrotliLevel = 5
)

// isPage: the bulk of a site, compressed at the page level.
func isPage(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".html", ".htm", ".xml", ".txt":
		return true
	}
	return false
}

// Stats say what a run did.
type Stats struct {
	Files    int   // compressible sources of at least MinSize
	Written  int   // siblings written
	Kept     int   // sources unchanged since the last run
	Removed  int   // stale siblings removed
	Bytes    int64 // the sources' total size
	BrBytes  int64 // the .br siblings' total size
	GzBytes  int64 // the .gz siblings' total size
	Duration time.Duration
}

type entry struct {
	SHA256 string `json:"sha256"`
	// BrSize and GzSize are the siblings' sizes; 0: none (not smaller).
	BrSize int64 `json:"br,omitempty"`
	GzSize int64 `json:"gz,omitempty"`
}

type manifest struct {
	Files map[string]entry `json:"files"`
}

// Dir precompresses the files under dir (a built site) and removes stale
// siblings.
func Dir(dir string, opts Options) (Stats, error) {
	start := time.Now()
	if opts.BrotliLevel == 0 {
		opts.BrotliLevel = DefaultBrotliLevel
	}
	if opts.PageBrotliLevel == 0 {
		opts.PageBrotliLevel = DefaultPageBrotliLevel
	}
	if opts.GzipLevel == 0 {
		opts.GzipLevel = gzip.BestCompression
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	old := readManifest(dir)

	var sources []string
	var siblings []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if _, _, ok := SiblingSource(rel); ok {
			siblings = append(siblings, rel)
			return nil
		}
		if !Compressible(rel) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() >= MinSize {
			sources = append(sources, rel)
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("precompress: %w", err)
	}

	type result struct {
		rel  string
		e    entry
		kept bool
		size int64
		err  error
	}
	results := make([]result, len(sources))
	var wg sync.WaitGroup
	next := make(chan int)
	for range opts.Workers {
		wg.Go(func() {
			for i := range next {
				rel := sources[i]
				e, kept, size, err := compressOne(dir, rel, old.Files[rel], opts)
				results[i] = result{rel, e, kept, size, err}
			}
		})
	}
	for i := range sources {
		next <- i
	}
	close(next)
	wg.Wait()

	var st Stats
	fresh := manifest{Files: make(map[string]entry, len(results))}
	var errs []error
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		fresh.Files[r.rel] = r.e
		st.Files++
		st.Bytes += r.size
		st.BrBytes += r.e.BrSize
		st.GzBytes += r.e.GzSize
		if r.kept {
			st.Kept++
		} else {
			st.Written += btoi(r.e.BrSize > 0) + btoi(r.e.GzSize > 0)
		}
	}
	if len(errs) > 0 {
		return st, fmt.Errorf("precompress: %w", errors.Join(errs...))
	}

	// Stale siblings: ours (the last manifest lists their source, or the
	// source is a compressible file here) and not written or kept now.
	for _, rel := range siblings {
		src, enc, _ := SiblingSource(rel)
		if e, ok := fresh.Files[src]; ok && ((enc == Brotli && e.BrSize > 0) || (enc == Gzip && e.GzSize > 0)) {
			continue
		}
		_, listed := old.Files[src]
		_, statErr := os.Stat(filepath.Join(dir, filepath.FromSlash(src)))
		if !listed && statErr != nil {
			continue // a file of the site's own, e.g. a downloadable archive
		}
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("precompress: remove stale %s: %w", rel, err)
		}
		st.Removed++
	}
	if err := writeManifest(dir, fresh); err != nil {
		return st, err
	}
	st.Duration = time.Since(start)
	return st, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compressOne writes rel's siblings unless its content is the one the last
// run compressed and they are still there.
func compressOne(dir, rel string, prev entry, opts Options) (e entry, kept bool, size int64, err error) {
	src := filepath.Join(dir, filepath.FromSlash(rel))
	info, err := os.Stat(src)
	if err != nil {
		return e, false, 0, err
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		return e, false, 0, err
	}
	sum := sha256.Sum256(raw)
	e.SHA256 = hex.EncodeToString(sum[:])
	mtime := info.ModTime()
	if prev.SHA256 == e.SHA256 && siblingOK(src+".br", prev.BrSize) && siblingOK(src+".gz", prev.GzSize) {
		// Unchanged: the build rewrote the source (a newer mtime), so
		// give the siblings its mtime again or servers think them stale.
		for _, s := range []struct {
			suffix string
			size   int64
		}{{".br", prev.BrSize}, {".gz", prev.GzSize}} {
			if s.size > 0 {
				if err := os.Chtimes(src+s.suffix, mtime, mtime); err != nil {
					return e, false, 0, err
				}
			}
		}
		return prev, true, int64(len(raw)), nil
	}
	level := opts.BrotliLevel
	if isPage(rel) {
		level = opts.PageBrotliLevel
	}
	br, err := compressBrotli(raw, level)
	if err != nil {
		return e, false, 0, err
	}
	gz, err := compressGzip(raw, opts.GzipLevel)
	if err != nil {
		return e, false, 0, err
	}
	if e.BrSize, err = place(src+".br", br, len(raw), mtime); err != nil {
		return e, false, 0, err
	}
	if e.GzSize, err = place(src+".gz", gz, len(raw), mtime); err != nil {
		return e, false, 0, err
	}
	return e, false, int64(len(raw)), nil
}

// siblingOK: a sibling of this size is there, or none is expected.
func siblingOK(name string, size int64) bool {
	info, err := os.Stat(name)
	if size == 0 {
		return errors.Is(err, fs.ErrNotExist)
	}
	return err == nil && info.Mode().IsRegular() && info.Size() == size
}

// place writes data to name atomically when it is smaller than the source,
// else removes name; it returns the size written (0: none).
func place(name string, data []byte, sourceSize int, mtime time.Time) (int64, error) {
	if len(data) >= sourceSize {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		return 0, nil
	}
	if err := atomicfile.Write(name, data); err != nil {
		return 0, err
	}
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		return 0, err
	}
	return int64(len(data)), nil
}

func compressBrotli(raw []byte, level int) ([]byte, error) {
	var buf bytes.Buffer
	w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: level, LGWin: 22})
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func compressGzip(raw []byte, level int) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readManifest(dir string) manifest {
	var m manifest
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err == nil {
		_ = json.Unmarshal(raw, &m) // a broken manifest: compress everything again
	}
	if m.Files == nil {
		m.Files = map[string]entry{}
	}
	return m
}

func writeManifest(dir string, m manifest) error {
	raw, err := json.Marshal(m) // map keys come out sorted
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, ManifestName), raw); err != nil {
		return fmt.Errorf("precompress: write manifest: %w", err)
	}
	return nil
}
