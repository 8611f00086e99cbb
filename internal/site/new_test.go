package site

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewContent(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config.toml", "baseURL = \"https://example.pl/\"\n")
	write("content/poradniki/_index.md", "---\ntitle: Poradniki\n---\n")
	archetype, err := os.ReadFile("../../archetypes/poradniki.md")
	if err != nil {
		t.Fatal(err)
	}
	write("archetypes/poradniki.md", string(archetype))
	write("archetypes/default.md", "---\ntitle: \"{{ .File.ContentBaseName }}\"\n---\ndomyślny\n")

	tests := []struct {
		rel, want string
		err       bool
	}{
		{rel: "poradniki/nowy-poradnik.md", want: `title: "Nowy poradnik"`},
		{rel: "poradniki/pakiet/index.md", want: `title: "Pakiet"`},
		{rel: "inne/strona.md", want: "domyślny"}, // Hugo's fallback to default.md
		{rel: "poradniki/nowy-poradnik.md", err: true},
		{rel: "../poza.md", err: true},
		{rel: "/etc/poza.md", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			abs, err := NewContent(t.Context(), Options{Root: root}, tt.rel)
			if tt.err {
				if err == nil {
					t.Fatalf("NewContent(%q) = %s, want an error", tt.rel, abs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(abs)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), tt.want) || strings.Contains(string(raw), "{{") {
				t.Errorf("%s does not have %q (or still has template code):\n%s", abs, tt.want, raw)
			}
		})
	}
	if _, err := NewContent(t.Context(), Options{Root: root}, "poradniki/pakiet/index.md"); !errors.Is(err, ErrExists) {
		t.Errorf("second NewContent: %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(root, "..", "poza.md")); err == nil {
		t.Error("NewContent wrote outside content/")
	}
}
