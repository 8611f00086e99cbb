package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbpress/kb/internal/csvsafe"
)

// TestCSVExportNeutralizesFormulas: hostile names and addresses come out of
// both CSV commands as text, never as a formula, and import back unchanged.
func TestCSVExportNeutralizesFormulas(t *testing.T) {
	e := newEnv(t)
	hostile := []struct{ email, name, source string }{
		{"=cmd@example.pl", `=HYPERLINK("http://evil.example","kliknij")`, "=1+1"},
		{"+jan@example.pl", "+48 600 000 000", "/"},
		{"-anna@example.pl", "-2+3", "@SUM(A1:A9)"},
		{"ola@example.pl", "@Ola", "/newsletter/"},
	}
	var in strings.Builder
	w := csv.NewWriter(&in)
	w.Write([]string{"email", "name", "consent_source"})
	for _, h := range hostile {
		w.Write([]string{h.email, h.name, h.source})
	}
	w.Flush()
	list := filepath.Join(t.TempDir(), "list.csv")
	if err := os.WriteFile(list, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustKB(t, e, "subscribers", "import", "--status", "confirmed", list); !strings.Contains(out, "imported 4") {
		t.Fatalf("import: %s", out)
	}

	for _, args := range [][]string{
		{"subscribers", "export", "--format", "csv"},
		{"subscribers", "list", "--format", "csv"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := mustKB(t, e, args...)
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 1+len(hostile) {
				t.Fatalf("%d rows, %v:\n%s", len(rows), err, out)
			}
			for _, row := range rows[1:] {
				for i, cell := range row {
					if cell != "" && strings.ContainsRune(csvsafe.FormulaTriggers, rune(cell[0])) {
						t.Errorf("column %s starts a formula: %q", rows[0][i], cell)
					}
				}
			}
			for _, want := range []string{`'=HYPERLINK(""http://evil.example"",""kliknij"")`, "'=cmd@example.pl", "'+jan@example.pl",
				"'-2+3", "'@SUM(A1:A9)", "'@Ola", "'=1+1"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %s:\n%s", want, out)
				}
			}
		})
	}

	// The export imports back as it was.
	export := filepath.Join(t.TempDir(), "export.csv")
	if err := os.WriteFile(export, []byte(mustKB(t, e, "subscribers", "export", "--format", "csv")), 0o644); err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t)
	if out := mustKB(t, e2, "subscribers", "import", "--status", "confirmed", export); !strings.Contains(out, "imported 4") {
		t.Fatalf("import of the export: %s", out)
	}
	shown := mustKB(t, e2, "subscribers", "show", "=cmd@example.pl")
	if !strings.Contains(shown, `"=HYPERLINK(\"http://evil.example\",\"kliknij\")"`) {
		t.Errorf("name not restored on import:\n%s", shown)
	}
}
