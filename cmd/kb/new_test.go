package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/site"
)

// newSite is a copy of the site with its archetypes, for kb new to write into.
func newSite(t *testing.T) string {
	t.Helper()
	dir := copySite(t)
	if err := os.CopyFS(filepath.Join(dir, "archetypes"), os.DirFS(filepath.Join(repoRoot, "archetypes"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNewRefusesBadPaths(t *testing.T) {
	root := newSite(t)
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Join(root, "content", "poradniki", "pakiet"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "content", "poradniki", "pakiet", "index.md"), []byte("---\ntitle: x\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, arg, want string
	}{
		{"parent dir", "poradniki/../../x.md", "„..”"},
		{"outside content", "/etc/kb-test.md", "poza content/"},
		{"not markdown", "poradniki/nowy.txt", "kończyć się na .md"},
		{"upper case and diacritics", "poradniki/Zaległa-Faktura.md", "np. zalegla-faktura"},
		{"underscore", "poradniki/nowy_poradnik.md", "małe litery"},
		{"double hyphen", "poradniki/nowy--poradnik.md", "pojedyncze myślniki"},
		{"other section", "blog/nowy.md", "od poradniki/"},
		{"too deep", "poradniki/a/b/c.md", "nazwa/index.md"},
		{"bundle file not index", "poradniki/a/tekst.md", "nazwa/index.md"},
		{"existing guide", "poradniki/rozmowa-o-zaleglej-fakturze.md", "ma już content/poradniki/rozmowa-o-zaleglej-fakturze.md"},
		{"bundle of an existing guide", "poradniki/rozmowa-o-zaleglej-fakturze/index.md", "ma już content/poradniki/rozmowa-o-zaleglej-fakturze.md"},
		{"file beside an existing bundle", "content/poradniki/pakiet.md", "ma już content/poradniki/pakiet"},
		{"existing bundle", "poradniki/pakiet/index.md", "ma już content/poradniki/pakiet"},
	}
	before := listContent(t, root)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := kb(t, e, "", "--root", root, "new", tt.arg)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q does not say %q", errOut, tt.want)
			}
		})
	}
	if after := listContent(t, root); after != before {
		t.Errorf("refused commands changed content/:\nbefore %s\nafter  %s", before, after)
	}
	if _, err := os.Stat("/etc/kb-test.md"); err == nil {
		t.Error("kb new wrote outside the site")
	}
}

func listContent(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(filepath.Join(root, "content"), func(p string, d os.DirEntry, err error) error {
		if err == nil {
			fi, _ := d.Info()
			b.WriteString(p + " " + fi.ModTime().String() + "\n")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestNewCreatesDraftGuide(t *testing.T) {
	root := newSite(t)
	e := newEnv(t)
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg, file, title, url string
	}{
		{"poradniki/rozmowa-o-zaleglej-fakturze-2.md", "content/poradniki/rozmowa-o-zaleglej-fakturze-2.md", "Rozmowa o zaleglej fakturze 2",
			"https://wiedza.saldo.example.pl/poradniki/rozmowa-o-zaleglej-fakturze-2/"},
		{"content/poradniki/z-obrazkami/index.md", "content/poradniki/z-obrazkami/index.md", "Z obrazkami",
			"https://wiedza.saldo.example.pl/poradniki/z-obrazkami/"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			start := time.Now().Add(-time.Second)
			out := mustKBRoot(t, e, root, "new", tt.arg)
			for _, want := range []string{"Utworzono " + tt.file, "Adres po publikacji: " + tt.url} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout %q lacks %q", out, want)
				}
			}
			raw, err := os.ReadFile(filepath.Join(root, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			src := string(raw)
			for _, want := range []string{`title: "` + tt.title + `"`, `description: ""`, "tags: []", "topics: []", "\ndraft: true\n",
				"reviewed: " + time.Now().In(warsaw).Format(time.DateOnly), "\n## "} {
				if !strings.Contains(src, want) {
					t.Errorf("new file lacks %q:\n%s", want, src)
				}
			}
			m := regexp.MustCompile(`(?m)^date: (\S+)$`).FindStringSubmatch(src)
			if m == nil {
				t.Fatalf("no date: line:\n%s", src)
			}
			date, err := time.Parse(time.RFC3339, m[1])
			if err != nil {
				t.Fatalf("date %q is not RFC 3339: %v", m[1], err)
			}
			if _, off := date.Zone(); off != func() int { _, o := date.In(warsaw).Zone(); return o }() {
				t.Errorf("date %s is not in Warsaw time", m[1])
			}
			if date.Before(start.Truncate(time.Second)) || date.After(time.Now().Add(time.Second)) {
				t.Errorf("date %s is not now", date)
			}

			code, _, errOut := kb(t, e, "", "--root", root, "new", tt.arg)
			if code != 1 || !strings.Contains(errOut, "już") {
				t.Errorf("second kb new: exit %d, stderr %q; want a refusal", code, errOut)
			}
			if again, _ := os.ReadFile(filepath.Join(root, tt.file)); string(again) != src {
				t.Error("second kb new changed the file")
			}
		})
	}

	// A fresh guide tells the writer what to do, as errors.
	code, out, _ := kb(t, e, "", "--root", root, "check", tests[0].file)
	if code != 1 || !strings.Contains(out, "błąd: brak opisu") || !strings.Contains(out, "DO NAPISANIA") {
		t.Errorf("kb check on a fresh guide: exit %d\n%s", code, out)
	}

	// Drafts are not published; without draft: true Hugo reads the front
	// matter as written.
	opts := site.Options{Root: root}
	guides, err := site.LoadGuides(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range guides {
		if g.Slug == "rozmowa-o-zaleglej-fakturze-2" || g.Slug == "z-obrazkami" {
			t.Errorf("draft %s is published", g.Slug)
		}
	}
	for _, tt := range tests {
		p := filepath.Join(root, tt.file)
		raw, _ := os.ReadFile(p)
		if err := os.WriteFile(p, []byte(strings.Replace(string(raw), "\ndraft: true\n", "\ndraft: false\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	guides, err = site.LoadGuides(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, g := range guides {
		for _, tt := range tests {
			if g.SourcePath == tt.file {
				found++
				if g.Title != tt.title || g.Description != "" || len(g.Tags) != 0 || len(g.Topics) != 0 || time.Since(g.Date) > time.Hour {
					t.Errorf("published %s: %+v", tt.file, g)
				}
			}
		}
	}
	if found != len(tests) {
		t.Errorf("%d of %d new guides published once not drafts", found, len(tests))
	}
}

func mustKBRoot(t *testing.T, e env, root string, args ...string) string {
	t.Helper()
	return mustKB(t, e, append([]string{"--root", root}, args...)...)
}
