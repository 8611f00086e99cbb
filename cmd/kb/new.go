package main

import (
	"github.com/kbpress/kb/internal/textfold"

	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/editorial"
	"github.com/kbpress/kb/internal/site"
)

func (a *app) newCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "new poradniki/SLUG.md | poradniki/SLUG/index.md",
		Short: "Create a draft guide from archetypes/poradniki.md",
		Long: `New creates a guide the way "hugo new content" does, from the archetype in
archetypes/poradniki.md: the title from the file name, date now, reviewed
today, an empty description, no tags or topics, draft: true, and a body
skeleton. SLUG is the guide's URL and the name of its newsletter campaign:
lower-case ASCII letters, digits and hyphens. poradniki/SLUG/index.md makes
a page bundle (a folder for the guide and its images). It never overwrites
an existing guide.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config("")
			if err != nil {
				return err
			}
			rel, slug, err := guidePath(a.root, args[0])
			if err != nil {
				return err
			}
			abs, err := site.NewContent(cmd.Context(), site.Options{Root: a.root, Logger: a.log}, rel)
			if errors.Is(err, site.ErrExists) {
				return fmt.Errorf("content/%s już istnieje – wybierz inną nazwę albo edytuj ten plik", rel)
			}
			if err != nil {
				return err
			}
			file := filepath.ToSlash(filepath.Join("content", filepath.FromSlash(rel)))
			fmt.Fprintf(a.stdout, "Utworzono %s\n", file)
			fmt.Fprintf(a.stdout, "Adres po publikacji: %s\n", cfg.AbsURL("/"+editorial.GuidesDir+"/"+slug+"/"))
			fmt.Fprintf(a.stdout, "To szkic (draft: true): podgląd w kb serve --watch --drafts, a co jeszcze uzupełnić, powie kb check %s\n", file)
			a.log.Debug("new guide", "file", abs)
			return nil
		},
	}
}

var slugRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// guidePath checks a `kb new` argument and returns it relative to
// content/ ("poradniki/x.md") with the guide's slug. Errors are for
// writers, in Polish, and say what to type instead.
func guidePath(root, arg string) (rel, slug string, err error) {
	p := arg
	if filepath.IsAbs(p) {
		absRoot, err := filepath.Abs(root)
		if err != nil {
			return "", "", err
		}
		r, err := filepath.Rel(filepath.Join(absRoot, "content"), p)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", "", fmt.Errorf("%s leży poza content/ – podaj ścieżkę w rodzaju %s/nazwa-poradnika.md", arg, editorial.GuidesDir)
		}
		p = r
	}
	p = filepath.ToSlash(p)
	p = strings.TrimPrefix(strings.TrimPrefix(p, "./"), "content/")
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == ".." || s == "." || s == "" {
			return "", "", fmt.Errorf("%s: ścieżka nie może zawierać „..”, „.” ani pustych członów – podaj %s/nazwa-poradnika.md", arg, editorial.GuidesDir)
		}
	}
	if !strings.HasSuffix(p, ".md") {
		return "", "", fmt.Errorf("%s: poradnik to plik markdown – nazwa musi kończyć się na .md, np. %s/nazwa-poradnika.md", arg, editorial.GuidesDir)
	}
	if segs[0] != editorial.GuidesDir {
		return "", "", fmt.Errorf("%s: kb new tworzy poradniki – ścieżka musi zaczynać się od %s/ (np. %s/nazwa-poradnika.md)", arg, editorial.GuidesDir, editorial.GuidesDir)
	}
	switch {
	case len(segs) == 2:
		slug = strings.TrimSuffix(segs[1], ".md")
	case len(segs) == 3 && segs[2] == "index.md":
		slug = segs[1]
	default:
		return "", "", fmt.Errorf("%s: podaj %s/nazwa.md albo %s/nazwa/index.md (katalog na poradnik z obrazkami)", arg, editorial.GuidesDir, editorial.GuidesDir)
	}
	if !slugRe.MatchString(slug) {
		hint := ""
		if s := suggestSlug(slug); s != "" && s != slug {
			hint = fmt.Sprintf(", np. %s", s)
		}
		return "", "", fmt.Errorf("%s: „%s” nie nadaje się na nazwę – to adres poradnika (/%s/%s/) i nazwa kampanii newslettera, więc tylko małe litery bez polskich znaków, cyfry i pojedyncze myślniki%s",
			arg, slug, editorial.GuidesDir, slug, hint)
	}
	// Either form of the same guide would take its URL.
	for _, other := range []string{slug + ".md", slug} {
		existing := path.Join("content", editorial.GuidesDir, other)
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(existing))); err == nil {
			return "", "", fmt.Errorf("%s: ten adres ma już %s – wybierz inną nazwę albo edytuj istniejący poradnik", arg, existing)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
	}
	return p, slug, nil
}

// suggestSlug turns what the writer typed into a valid slug, if it can.
func suggestSlug(s string) string {
	s = strings.ToLower(textfold.ASCII(s))
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
