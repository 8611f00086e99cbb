package site

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// ManifestName is the file, inside the publish dir, listing the files the
// last build wrote; everything else there belongs to the caller.
const ManifestName = ".kb-manifest.json"

type manifest struct {
	// Files are slash-separated paths relative to the publish dir.
	Files []string `json:"files"`
}

func (m manifest) pages() int {
	n := 0
	for _, f := range m.Files {
		if strings.HasSuffix(f, ".html") {
			n++
		}
	}
	return n
}

// sourceDirs are the site folders a publish dir must never be inside of.
var sourceDirs = []string{"content", "layouts", "static", "assets", "i18n", "data", "archetypes", "themes"}

// checkPublishDir refuses publish dirs whose replacement would destroy
// something that is not a built site.
func checkPublishDir(root, dir string) error {
	if dir == filepath.Dir(dir) {
		return fmt.Errorf("site: refusing to publish into the file system root %s", dir)
	}
	if home, err := os.UserHomeDir(); err == nil && filepath.Clean(home) == dir {
		return fmt.Errorf("site: refusing to publish into the home directory %s", dir)
	}
	if within(root, dir) {
		return fmt.Errorf("site: publish dir %s contains the site itself", dir)
	}
	for _, d := range sourceDirs {
		if within(dir, filepath.Join(root, d)) {
			return fmt.Errorf("site: publish dir %s is inside the site's %s/ folder", dir, d)
		}
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("site: publish dir: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	for _, name := range []string{ManifestName, "index.html"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("site: %s is not empty and holds no built site; refusing to replace it", dir)
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Staging. A build renders into a staging dir next to the publish dir and
// is swapped in when complete. The build it replaces is set aside as
// ".<name>.old-…" and becomes the staging dir of the next build: Hugo
// overwrites what it writes again and publish prunes the rest. Deleting
// and recreating thousands of files on every build would cost more than
// Hugo's own work on a large site.

// prepareStaging returns the dir to render into: a set-aside previous
// build when there is one (renamed first, so that concurrent builds never
// share it), else a new empty dir.
func prepareStaging(publishDir string) (dir string, reused bool, err error) {
	parent, base := filepath.Dir(publishDir), filepath.Base(publishDir)
	old, _ := filepath.Glob(trashPrefix(publishDir) + "*")
	for _, o := range old {
		dir := filepath.Join(parent, "."+base+".build-"+randomSuffix())
		if err := os.Rename(o, dir); err == nil {
			return dir, true, nil
		}
	}
	dir, err = os.MkdirTemp(parent, "."+base+".build-")
	return dir, false, err
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// setAside keeps a dir (a replaced or failed build) for the next build to
// render into; it deletes the dir if it cannot.
func setAside(dir, publishDir string, log *slog.Logger) {
	if err := os.Rename(dir, trashPrefix(publishDir)+randomSuffix()); err != nil {
		log.Warn("site: could not keep the previous build for reuse", "dir", dir, "err", err)
		_ = os.RemoveAll(dir)
	}
}

// publish makes the staging dir the publish dir. built lists the files
// this build wrote (slash paths relative to staging); anything else in
// staging is left from an earlier build and is removed. The caller's files
// in the old publish dir are carried over, the manifest written, the dirs
// swapped and the old one set aside for reuse.
func publish(staging, publishDir string, built map[string]bool, log *slog.Logger) (manifest, error) {
	files, err := prune(staging, built)
	if err != nil {
		return manifest{}, fmt.Errorf("site: prune the staging dir: %w", err)
	}
	m := manifest{Files: files}

	var carried []string
	if old, ok := readManifest(publishDir); ok {
		owned := make(map[string]bool, len(old.Files))
		for _, f := range old.Files {
			owned[f] = true
		}
		existing, err := listFiles(publishDir)
		if err != nil {
			return m, fmt.Errorf("site: list published files: %w", err)
		}
		for _, f := range existing {
			if owned[f] || built[f] || f == ManifestName {
				continue
			}
			if err := carryOver(filepath.Join(publishDir, filepath.FromSlash(f)), filepath.Join(staging, filepath.FromSlash(f))); err != nil {
				return m, fmt.Errorf("site: keep %s: %w", f, err)
			}
			carried = append(carried, f)
			log.Debug("site: kept caller's file", "file", f)
		}
	}

	raw, err := json.Marshal(m)
	if err != nil {
		return m, err
	}
	if err := os.WriteFile(filepath.Join(staging, ManifestName), raw, 0o644); err != nil {
		return m, fmt.Errorf("site: write manifest: %w", err)
	}
	// MkdirTemp creates 0700; the published site is world-readable.
	if err := os.Chmod(staging, 0o755); err != nil {
		return m, fmt.Errorf("site: %w", err)
	}
	old, err := swapDirs(staging, publishDir)
	if err != nil {
		return m, fmt.Errorf("site: publish into %s: %w", publishDir, err)
	}
	if old != "" {
		// Carried files are hard links shared with the new publish dir;
		// unlink them here so that rendering into this dir later can never
		// write through to a published file.
		for _, f := range carried {
			_ = os.Remove(filepath.Join(old, filepath.FromSlash(f)))
		}
		setAside(old, publishDir, log)
	}
	return m, nil
}

// prune removes from dir every file not in keep, and folders left empty,
// and returns the kept files, sorted.
func prune(dir string, keep map[string]bool) ([]string, error) {
	var kept []string
	emptied := map[string]bool{}
	err := walkFiles(dir, func(rel, path string) error {
		if keep[rel] {
			kept = append(kept, rel)
			return nil
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		emptied[filepath.Dir(path)] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Deepest first, so parents empty out before their turn.
	dirs := make([]string, 0, len(emptied))
	for d := range emptied {
		for ; d != dir && within(d, dir); d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		_ = os.Remove(d) // fails, as it should, unless empty
	}
	sort.Strings(kept)
	return kept, nil
}

// trashPrefix names set-aside builds next to the publish dir:
// ".public.old-…".
func trashPrefix(publishDir string) string {
	return filepath.Join(filepath.Dir(publishDir), "."+filepath.Base(publishDir)+".old-")
}

// removeTrash deletes set-aside builds beyond the one prepareStaging took
// (left by crashes or concurrent builds), in the background; the returned
// wait blocks until that is done.
func removeTrash(publishDir string, log *slog.Logger) (wait func()) {
	dirs, _ := filepath.Glob(trashPrefix(publishDir) + "*")
	if len(dirs) == 0 {
		return func() {}
	}
	var wg sync.WaitGroup
	for _, d := range dirs {
		wg.Go(func() {
			if err := os.RemoveAll(d); err != nil {
				log.Warn("site: could not remove a previous build", "dir", d, "err", err)
			}
		})
	}
	return wg.Wait
}

func readManifest(publishDir string) (manifest, bool) {
	raw, err := os.ReadFile(filepath.Join(publishDir, ManifestName))
	if err != nil {
		return manifest{}, false
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return manifest{}, false
	}
	return m, true
}

// listFiles returns the files under dir, but the manifest, as sorted slash
// paths.
func listFiles(dir string) ([]string, error) {
	var out []string
	err := walkFiles(dir, func(rel, _ string) error {
		if rel != ManifestName {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// walkFiles calls fn for every file under dir with its slash path relative
// to dir and its full path.
func walkFiles(dir string, fn func(rel, path string) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), path)
	})
}

// carryOver links (or copies) src to dst, creating dst's folder.
func carryOver(src, dst string) error {
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
