package site

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gohugoio/hugo/create"
)

// ErrExists is returned by NewContent when the target file already exists.
var ErrExists = errors.New("site: content file already exists")

// NewContent creates content/<rel> (rel is relative to the content
// directory, slash-separated, e.g. "poradniki/nowy.md") from the site's
// archetypes, with Hugo's own machinery: the file is exactly what `hugo new
// content` would write, so archetypes/ stays usable with plain Hugo. It
// never overwrites a file and returns the absolute path it created.
func NewContent(ctx context.Context, opts Options, rel string) (string, error) {
	opts, err := opts.normalize()
	if err != nil {
		return "", err
	}
	if rel == "" || filepath.IsAbs(rel) || strings.Contains(rel, "..") {
		return "", fmt.Errorf("site: new content: %q must be a path inside content/", rel)
	}
	abs := filepath.Join(opts.Root, "content", filepath.FromSlash(rel))
	if _, err := os.Stat(abs); err == nil {
		return "", fmt.Errorf("%s: %w", relPath(opts.Root, abs), ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("site: new content: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// Hugo only reads the site here (SkipRender); the publish dir is never
	// written.
	h, err := newHugo(ctx, opts, opts.PublishDir, false)
	if err != nil {
		return "", err
	}
	defer h.close()
	if err := create.NewContent(h.h, "", filepath.FromSlash(rel), false); err != nil {
		// Hugo leaves its placeholder behind when the archetype fails.
		if b, rerr := os.ReadFile(abs); rerr == nil && strings.Contains(string(b), `title: "Content Placeholder"`) {
			_ = os.Remove(abs)
		}
		return "", formatError(opts.Root, "new content", err)
	}
	return abs, nil
}
