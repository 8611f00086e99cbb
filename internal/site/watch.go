package site

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchedDirs are the site folders whose changes trigger a rebuild.
var watchedDirs = []string{"content", "layouts", "static", "assets", "i18n", "data", "archetypes"}

// configFiles are the root files whose changes trigger a rebuild.
var configFiles = []string{"config.toml", "hugo.toml"}

// dataExts are the files Hugo reads from data/. The folder is shared with
// kb's runtime data (KB_DATA defaults to "data": the SQLite database, the
// outbox), whose constant writes must not rebuild the site.
var dataExts = map[string]bool{".json": true, ".toml": true, ".yaml": true, ".yml": true, ".xml": true, ".csv": true}

// WatchDebounce is how long Watch waits for a burst of changes to settle.
const WatchDebounce = 200 * time.Millisecond

// Watch rebuilds the site after every change to its sources — content/,
// layouts/, static/, assets/, i18n/, data/, archetypes/ (new sub-folders
// included) and config.toml — and reports each rebuild to onBuild, failed
// ones included (onBuild logs them: Watch does not, so a failure is told
// once); a failed build leaves the last good site published and watching
// goes on. rebuild does the build (nil: Build with opts), so a
// caller that adds to the build (the whitepaper) rebuilds its way. Watch
// does not build before the first change: call Build first. It blocks until
// ctx is done and returns nil then, or an error if watching cannot start.
func Watch(ctx context.Context, opts Options, rebuild func(context.Context) (*Result, error), onBuild func(*Result, error)) error {
	w, err := newWatcher(opts)
	if err != nil {
		return err
	}
	defer w.close()
	if rebuild == nil {
		rebuild = func(ctx context.Context) (*Result, error) { return Build(ctx, w.opts) }
	}
	return w.run(ctx, rebuild, onBuild)
}

// watcher is Watch split in two so tests know when watching has begun.
type watcher struct {
	opts Options
	fsw  *fsnotify.Watcher
}

// newWatcher starts watching the site's sources.
func newWatcher(opts Options) (*watcher, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("site: watch: %w", err)
	}
	// The root itself, for config.toml and source folders created later.
	if err := fsw.Add(opts.Root); err != nil {
		fsw.Close()
		return nil, fmt.Errorf("site: watch %s: %w", opts.Root, err)
	}
	for _, d := range watchedDirs {
		if err := addTree(fsw, filepath.Join(opts.Root, d)); err != nil {
			fsw.Close()
			return nil, err
		}
	}
	opts.Logger.Info("site: watching for changes", "root", opts.Root)
	return &watcher{opts: opts, fsw: fsw}, nil
}

func (w *watcher) close() { w.fsw.Close() }

// run rebuilds after each settled burst of changes until ctx is done.
func (w *watcher) run(ctx context.Context, rebuild func(context.Context) (*Result, error), onBuild func(*Result, error)) error {
	opts := w.opts
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var changed []string
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return nil
			}
			opts.Logger.Warn("site: watch", "err", err)
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return nil
			}
			if !relevant(opts.Root, ev) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
					if err := addTree(w.fsw, ev.Name); err != nil {
						opts.Logger.Warn("site: watch new folder", "dir", ev.Name, "err", err)
					}
				}
			}
			changed = append(changed, ev.Name)
			timer.Reset(WatchDebounce)
		case <-timer.C:
			opts.Logger.Info("site: rebuilding", "changes", summarize(opts.Root, changed))
			changed = changed[:0]
			res, err := rebuild(ctx)
			if ctx.Err() != nil {
				return nil
			}
			onBuild(res, err) // logs a failure: once, in the caller's words
		}
	}
}

// addTree watches dir and every folder below it; a missing dir is fine
// (the root watch notices when it appears).
func addTree(w *fsnotify.Watcher, dir string) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return w.Add(path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("site: watch %s: %w", dir, err)
	}
	return nil
}

// relevant filters out events that cannot change the site: the publish
// dir being swapped in the root, Hugo's lock file, editor backups,
// permission changes and kb's runtime files in data/.
func relevant(root string, ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	rel, err := filepath.Rel(root, ev.Name)
	if err != nil || strings.HasPrefix(rel, "..") {
		return false
	}
	rel = filepath.ToSlash(rel)
	top, rest, nested := strings.Cut(rel, "/")
	if !nested {
		for _, f := range configFiles {
			if top == f {
				return true
			}
		}
		for _, d := range watchedDirs {
			if top == d {
				return true // a source folder appeared or went away
			}
		}
		return false
	}
	base := filepath.Base(rest)
	if strings.HasSuffix(base, "~") || strings.HasPrefix(base, ".#") || strings.HasSuffix(base, ".swp") ||
		strings.HasSuffix(base, ".swx") || base == "4913" || strings.HasPrefix(base, ".goutputstream") {
		return false
	}
	if top == "data" {
		if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
			return true
		}
		return dataExts[strings.ToLower(filepath.Ext(base))]
	}
	return true
}

func summarize(root string, paths []string) string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		rel := relPath(root, p)
		if !seen[rel] {
			seen[rel] = true
			out = append(out, rel)
		}
	}
	if len(out) > 5 {
		return strings.Join(out[:5], ", ") + fmt.Sprintf(" and %d more", len(out)-5)
	}
	return strings.Join(out, ", ")
}
