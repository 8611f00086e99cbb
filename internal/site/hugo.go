package site

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bep/logg"
	"github.com/gohugoio/hugo/common/herrors"
	"github.com/gohugoio/hugo/common/hmaps"
	"github.com/gohugoio/hugo/common/loggers"
	"github.com/gohugoio/hugo/config"
	"github.com/gohugoio/hugo/config/allconfig"
	"github.com/gohugoio/hugo/deps"
	"github.com/gohugoio/hugo/hugofs"
	"github.com/gohugoio/hugo/hugolib"
	"github.com/spf13/afero"
	"github.com/spf13/fsync"
)

// hugoSite is one configured Hugo instance, used for a single build.
type hugoSite struct {
	opts       Options
	h          *hugolib.HugoSites
	fs         *hugofs.Fs
	logger     loggers.Logger
	publishDir string
	rec        *recordingFs
	// missing collects Hugo's "found no layout file" warnings, which
	// leave pages unrendered; kb treats them as errors.
	missing *missingLayouts
}

type missingLayouts struct {
	mu   sync.Mutex
	msgs []string
}

func (m *missingLayouts) add(msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
}

func (m *missingLayouts) list() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.msgs)
}

// newHugo loads the site configuration (config.toml plus our overrides)
// and prepares Hugo to publish into publishDir. readOnly is for reading the
// site without building it: Hugo then takes no .hugo_build.lock, so a
// read-only checkout (kb send under a hardened systemd unit) works.
func newHugo(ctx context.Context, opts Options, publishDir string, readOnly bool) (*hugoSite, error) {
	missing := &missingLayouts{}
	logger := newHugoLogger(opts.Logger, missing)

	flags := config.New()
	flags.Set("workingDir", opts.Root)
	flags.Set("publishDir", publishDir)
	flags.Set("publishDirStatic", publishDir)
	flags.Set("publishDirDynamic", publishDir)
	if opts.BaseURL != "" {
		flags.Set("baseURL", opts.BaseURL)
	}
	if readOnly {
		flags.Set("noBuildLock", true)
	}
	if opts.Drafts {
		flags.Set("buildDrafts", true)
		flags.Set("buildFuture", true)
	}

	load := func() (*allconfig.Configs, error) {
		configs, err := allconfig.LoadConfig(allconfig.ConfigSourceDescriptor{
			Flags:       flags,
			Fs:          hugofs.Os,
			Logger:      logger,
			Environment: opts.Environment,
		})
		if err != nil {
			return nil, formatError(opts.Root, "load config", err)
		}
		mergeParams(configs, opts.Params)
		return configs, nil
	}
	configs, err := load()
	if err != nil {
		return nil, err
	}

	// The front matter, read once before Hugo: term URLs must be ASCII
	// (Hugo's removePathAccents leaves ł alone, so such terms get a folded
	// slug through cascade, see terms.go), and the related guides are
	// worked out from it (related.go).
	files, err := scanContent(ctx, configs)
	if err != nil {
		return nil, err
	}
	extra := termSlugCascades(files, configs, opts.Logger)
	if len(extra) > 0 {
		cascade := append(existingCascades(configs.LoadingInfo.Cfg.Get("cascade")), extra...)
		flags.Set("cascade", cascade)
		if configs, err = load(); err != nil {
			return nil, err
		}
	}

	if !readOnly {
		// The related guides, for layouts/_partials/related.html.
		mergeParams(configs, map[string]any{relatedParam: relatedGuides(files, configs, opts.Drafts, time.Now())})
	}

	rec := newRecordingFs()
	var dest afero.Fs = rec
	if readOnly {
		// Rendering a guide's content publishes its processed images
		// (render-image.html); reading the guides must write nothing.
		dest = afero.NewMemMapFs()
	}
	fs := hugofs.NewFromSourceAndDestination(hugofs.Os, dest, flags)
	h, err := hugolib.NewHugoSites(deps.DepsCfg{
		Configs:    configs,
		Fs:         fs,
		TestLogger: logger, // the only hook for a caller-supplied logger
		StdOut:     io.Discard,
		StdErr:     io.Discard,
	})
	if err != nil {
		return nil, formatError(opts.Root, "create site", err)
	}
	return &hugoSite{opts: opts, h: h, fs: fs, logger: logger, missing: missing, publishDir: publishDir, rec: rec}, nil
}

// mergeParams merges extra into the site params of every language. It
// works on the loaded config because Hugo's flag overrides share maps with
// the config file's and cannot override nested keys reliably.
func mergeParams(configs *allconfig.Configs, extra map[string]any) {
	if len(extra) == 0 {
		return
	}
	targets := []hmaps.Params{configs.Base.Params}
	for _, l := range configs.LanguageConfigMap {
		targets = append(targets, l.Params)
	}
	for _, dst := range targets {
		if dst == nil {
			continue
		}
		// A fresh copy per target: Hugo keeps and may lower-case it.
		hmaps.SetParams(dst, hmaps.MustToParamsAndPrepare(deepCopy(extra)))
	}
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if vm, ok := v.(map[string]any); ok {
			v = deepCopy(vm)
		}
		out[k] = v
	}
	return out
}

// close stops Hugo's background work (memory cache, pools).
func (s *hugoSite) close() {
	if err := s.h.Close(); err != nil {
		s.opts.Logger.Warn("site: close hugo", "err", err)
	}
}

// build renders every page and copies the static files.
func (s *hugoSite) build(ctx context.Context) error {
	if err := s.run(ctx, hugolib.BuildCfg{}); err != nil {
		return err
	}
	if err := s.copyStatic(); err != nil {
		return fmt.Errorf("site: copy static files: %w", err)
	}
	return nil
}

// process reads and processes the content without rendering anything.
func (s *hugoSite) process(ctx context.Context) error {
	return s.run(ctx, hugolib.BuildCfg{SkipRender: true})
}

func (s *hugoSite) run(ctx context.Context, cfg hugolib.BuildCfg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.h.Build(cfg)
	if err == nil && s.logger.LoggCount(logg.LevelError) > 0 {
		err = errors.New("errors were logged")
	}
	if err != nil {
		// Template execution errors are often only logged; the logged
		// text names the file, the returned error does not.
		if logged := strings.TrimSpace(s.logger.Errors()); logged != "" {
			err = fmt.Errorf("%w\n%s", err, logged)
		}
		return formatError(s.opts.Root, "build", err)
	}
	if msgs := s.missing.list(); len(msgs) > 0 && !cfg.SkipRender {
		return s.missingLayoutError(msgs[0])
	}
	return nil
}

var missingLayoutRe = regexp.MustCompile(`found no layout file for "([^"]*)"(?: for layout "([^"]*)")?(?: for kind "([^"]*)")?`)

// missingLayoutError names the content files Hugo could not render for
// lack of a template (its warning names only the kind and layout).
func (s *hugoSite) missingLayoutError(msg string) error {
	be := &BuildError{Msg: "no template to render this page: " + strings.TrimSuffix(msg, " You should create a template file which matches Hugo Layouts Lookup Rules for this combination.")}
	m := missingLayoutRe.FindStringSubmatch(msg)
	if m == nil {
		be.File = "layouts"
		return be
	}
	format, layout, kind := m[1], m[2], m[3]
	basePath := "/"
	if u, err := url.Parse(s.h.Sites[0].BaseURL()); err == nil && u.Path != "" {
		basePath = u.Path
	}
	var files []string
	for _, p := range s.h.Pages() {
		if p.File() == nil || (kind != "" && p.Kind() != kind) || (layout != "" && p.Layout() != layout) {
			continue
		}
		// Pages that have a template were written; the others were not.
		out := filepath.Join(s.publishDir, filepath.FromSlash(outputPath(basePath, p.RelPermalink())))
		if _, err := os.Stat(out); err == nil {
			continue
		}
		files = append(files, relPath(s.opts.Root, p.File().Filename()))
	}
	sort.Strings(files)
	be.Msg = fmt.Sprintf("no template renders it as %s", format)
	if layout != "" {
		be.Msg += fmt.Sprintf(" with layout %q", layout)
	}
	if kind != "" {
		be.Msg += fmt.Sprintf(" (page kind %q)", kind)
	}
	be.Msg += "; add one under layouts/"
	switch len(files) {
	case 0:
		be.File = "layouts"
	case 1:
		be.File = files[0]
	default:
		be.File = files[0]
		be.Msg += fmt.Sprintf(" (also %s)", strings.Join(files[1:min(len(files), 4)], ", "))
		if len(files) > 4 {
			be.Msg += fmt.Sprintf(" and %d more", len(files)-4)
		}
	}
	return be
}

// copyStatic copies static/ (all mounts of it) into the publish dir, as the
// hugo command does; hugolib itself only renders.
func (s *hugoSite) copyStatic() error {
	for _, sfs := range s.h.BaseFs.SourceFilesystems.Static {
		syncer := fsync.NewSyncer()
		syncer.NoTimes = true
		syncer.NoChmod = true
		syncer.SrcFs = sfs.Fs
		syncer.DestFs = s.fs.PublishDirStatic
		dst := string(filepath.Separator)
		if sfs.PublishFolder != "" {
			dst = filepath.Join(dst, sfs.PublishFolder)
		}
		if err := syncer.Sync(dst, string(filepath.Separator)); err != nil {
			return err
		}
	}
	return nil
}

// newHugoLogger routes Hugo's log entries to slog and keeps error text so
// a failed build can report it.
func newHugoLogger(l *slog.Logger, missing *missingLayouts) loggers.Logger {
	return loggers.New(loggers.Options{
		Level:         logg.LevelWarn,
		DistinctLevel: logg.LevelWarn,
		StdOut:        io.Discard,
		StdErr:        io.Discard,
		StoreErrors:   true,
		HandlerPost: func(e *logg.Entry) error {
			level := slog.LevelInfo
			switch {
			case e.Level >= logg.LevelError:
				level = slog.LevelError
			case e.Level >= logg.LevelWarn:
				level = slog.LevelWarn
			case e.Level <= logg.LevelDebug:
				level = slog.LevelDebug
			}
			msg := stripANSI(e.Message)
			if strings.Contains(msg, "found no layout file") {
				missing.add(msg)
			}
			l.Log(context.Background(), level, "hugo: "+msg)
			return nil
		},
	})
}

var (
	ansiRe = regexp.MustCompile("\x1b\\[[0-9;]*m")
	// Hugo wraps causes in its pipeline stages; they say nothing to a
	// writer who broke a file.
	noiseRe = regexp.MustCompile(strings.Join([]string{
		`\[[a-z]{2,3}(?:-[A-Za-z]+)? v[0-9.]+ [a-z]+\] `,
		`(?:error building site|process|assemble|render|create site|build|readAndProcessContent): `,
		`failed to render pages: `,
		`render of "?[^"]*"? failed: `,
		`execute of template failed: `,
		`apply base template failed: `,
		`failed to create page from pageMetaSource [^:]*: `,
		`failed to load config: `,
		`unmarshal failed: `,
		`template: [\w./-]+:\d+(?::\d+)?: `,
		`logged \d+ error\(s\):?`,
		`errors were logged:?`,
		`\[\d+:\d+\] `,
	}, "|"))
	// A quoted position such as "/abs/path/file.md:3:1": as Hugo writes it.
	quotedPosRe = regexp.MustCompile(`"(/[^"]+?)(?::(\d+))?(?::(\d+))?"`)
	// Source excerpts some decoders append ("> 1 | title: …", "   ^").
	excerptRe = regexp.MustCompile(`^(?:>?\s*\d+ \|.*|\s*\^\s*)$`)
	// A site file named in free text, e.g. "see content/poradniki/x.md".
	sitePathRe = regexp.MustCompile(`\b((?:content|layouts|i18n|data|assets|archetypes|static)/[^\s:"']+)`)
	templateRe = regexp.MustCompile(`template: ([\w./-]+\.[a-z]+):(\d+)(?::(\d+))?:`)
	// Go template and toml/yaml decoders repeat the file name after the
	// position; keep the first mention only.
	errorLineRe = regexp.MustCompile(`(?m)^(?:ERROR |error: )`)
)

func stripANSI(s string) string { return ansiRe.ReplaceAllString(s, "") }

// BuildError is a build failure caused by a site file (content, template,
// config); its message is "path:line:col: what went wrong", with the path
// relative to the site root.
type BuildError struct {
	// File is the offending file relative to the site root ("" when
	// Hugo did not say).
	File   string
	Line   int
	Column int
	// Msg is the cause without the position.
	Msg string
	err error
}

func (e *BuildError) Error() string {
	var b strings.Builder
	b.WriteString("site: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.err }

// formatError turns Hugo's error chain into a BuildError naming the file.
func formatError(root, stage string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	be := &BuildError{err: err}
	var fe herrors.FileError
	if errors.As(err, &fe) && fe.Position().Filename != "" {
		pos := fe.Position()
		be.File = relPath(root, pos.Filename)
		be.Line, be.Column = pos.LineNumber, pos.ColumnNumber
	}
	msg := stripANSI(err.Error())
	// Go's template errors name the template that failed ("template:
	// poradniki/page.html:4:3: …"); the innermost one is the culprit, which
	// Hugo's own position often is not (it points at baseof.html).
	if m := templateRe.FindAllStringSubmatch(msg, -1); len(m) > 0 {
		last := m[len(m)-1]
		name := "layouts/" + strings.TrimPrefix(last[1], "_internal/")
		if _, statErr := os.Stat(filepath.Join(root, filepath.FromSlash(name))); statErr == nil {
			be.File, be.Line, be.Column = name, 0, 0
			fmt.Sscan(last[2], &be.Line)
			fmt.Sscan(last[3], &be.Column)
		}
	}
	if be.File == "" {
		// No structured position: take the first quoted one in the text,
		// else a site path mentioned in it.
		if m := quotedPosRe.FindStringSubmatch(msg); m != nil {
			be.File = relPath(root, m[1])
			fmt.Sscan(m[2], &be.Line)
			fmt.Sscan(m[3], &be.Column)
		} else if m := sitePathRe.FindStringSubmatch(strings.ReplaceAll(msg, root+string(filepath.Separator), "")); m != nil {
			be.File = m[1]
		}
	}
	be.Msg = cleanMessage(root, msg)
	if be.Msg == "" {
		be.Msg = stage + " failed"
	}
	return be
}

// cleanMessage removes positions, pipeline stages, source excerpts and
// duplicate lines from Hugo's message so that what remains is the cause.
func cleanMessage(root, msg string) string {
	msg = errorLineRe.ReplaceAllString(msg, "")
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(msg, "\n") {
		if excerptRe.MatchString(line) {
			continue
		}
		line = quotedPosRe.ReplaceAllString(line, "")
		line = strings.ReplaceAll(line, root+string(filepath.Separator), "")
		for {
			cleaned := noiseRe.ReplaceAllString(line, "")
			cleaned = strings.ReplaceAll(cleaned, ": : ", ": ")
			if cleaned == line {
				break
			}
			line = cleaned
		}
		line = strings.Trim(line, ": \t")
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		out = append(out, line)
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("(%d more lines)", len(out)-5))
	}
	return strings.Join(out, "\n")
}

func relPath(root, name string) string {
	if rel, err := filepath.Rel(root, name); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return name
}
