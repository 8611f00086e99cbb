package whitepaper

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Build renders the whitepaper at srcPath into outPath, reusing the PDF
// cached in cacheDir when the source, the options and RendererVersion are
// unchanged. outPath is replaced atomically, and left untouched (mtime
// included) when it already holds the same bytes. The returned Info has
// Cached set when no rendering happened.
func Build(ctx context.Context, srcPath, outPath, cacheDir string, opts Options) (Info, error) {
	src, err := os.ReadFile(srcPath)
	if err != nil {
		return Info{}, fmt.Errorf("whitepaper: read source: %w", err)
	}
	key, err := cacheKey(src, opts)
	if err != nil {
		return Info{}, fmt.Errorf("whitepaper %s: cache key: %w", srcPath, err)
	}
	prefix := "whitepaper-" + shortHash(srcPath) + "-"
	pdfPath := filepath.Join(cacheDir, prefix+key+".pdf")
	infoPath := filepath.Join(cacheDir, prefix+key+".json")

	if pdf, info, ok := loadCached(pdfPath, infoPath); ok {
		if err := install(pdf, outPath, info); err != nil {
			return Info{}, fmt.Errorf("whitepaper %s: %w", srcPath, err)
		}
		info.Cached = true
		return info, nil
	}

	doc, err := Parse(srcPath, src)
	if err != nil {
		return Info{}, err
	}
	var buf bytes.Buffer
	info, err := Render(ctx, doc, opts, &buf)
	if err != nil {
		return Info{}, err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Info{}, fmt.Errorf("whitepaper %s: cache: %w", srcPath, err)
	}
	meta, err := json.Marshal(info)
	if err != nil {
		return Info{}, fmt.Errorf("whitepaper %s: cache: %w", srcPath, err)
	}
	// The PDF goes in before its Info: a cache entry counts only when both
	// are there and agree.
	if err := writeAtomic(pdfPath, bytes.NewReader(buf.Bytes())); err != nil {
		return Info{}, fmt.Errorf("whitepaper %s: cache: %w", srcPath, err)
	}
	if err := writeAtomic(infoPath, bytes.NewReader(meta)); err != nil {
		return Info{}, fmt.Errorf("whitepaper %s: cache: %w", srcPath, err)
	}
	if err := install(buf.Bytes(), outPath, info); err != nil {
		return Info{}, fmt.Errorf("whitepaper %s: %w", srcPath, err)
	}
	pruneCache(cacheDir, prefix, key)
	return info, nil
}

// cacheKey covers everything the PDF's bytes depend on.
func cacheKey(src []byte, opts Options) (string, error) {
	o, err := json.Marshal(opts)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "kb whitepaper %s\x00", RendererVersion)
	h.Write(o)
	h.Write([]byte{0})
	h.Write(src)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// shortHash names the cache entries of one source file, so entries of
// other sources sharing cacheDir are never pruned.
func shortHash(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:6])
}

// loadCached returns the cached PDF and its Info when the PDF is intact.
// The bytes it checked are the ones installed: another kb building with
// other options prunes this entry whenever it renders.
func loadCached(pdfPath, infoPath string) ([]byte, Info, bool) {
	meta, err := os.ReadFile(infoPath)
	if err != nil {
		return nil, Info{}, false
	}
	var info Info
	if json.Unmarshal(meta, &info) != nil || info.SHA256 == "" {
		return nil, Info{}, false
	}
	pdf, err := os.ReadFile(pdfPath)
	if err != nil || int64(len(pdf)) != info.Size {
		return nil, Info{}, false
	}
	if sum := sha256.Sum256(pdf); hex.EncodeToString(sum[:]) != info.SHA256 {
		return nil, Info{}, false
	}
	return pdf, info, true
}

func fileSum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// install writes the PDF to outPath unless it is already there.
func install(pdf []byte, outPath string, info Info) error {
	if sum, size, err := fileSum(outPath); err == nil && sum == info.SHA256 && size == info.Size {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return fmt.Errorf("install PDF: %w", err)
	}
	if err := writeAtomic(outPath, bytes.NewReader(pdf)); err != nil {
		return fmt.Errorf("install PDF: %w", err)
	}
	return nil
}

// writeAtomic writes to a temporary file beside path and renames it over
// path, so readers see the old file or the new one, never half of one.
func writeAtomic(path string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// pruneCache removes this source's older cache entries. Failure only
// leaves stale files behind.
func pruneCache(dir, prefix, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || strings.HasPrefix(name, prefix+keep+".") || e.Type()&fs.ModeType != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
	}
}
