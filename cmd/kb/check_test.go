package main

import (
	"encoding/json"
	"strings"
	"testing"
)

const checkCorpus = "../../internal/editorial/testdata/site"

func TestCheckExitCodesAndOutput(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		lastLine string
	}{
		{"real content has no errors", []string{"check"}, 0, nil, "Sprawdzono"},
		{"corpus has errors", []string{"--root", checkCorpus, "check"}, 1,
			[]string{"content/poradniki/zly-link.md:12: błąd: odnośnik do /poradniki/drugi-dobyr/", "content/poradniki/stary.md:5: ostrzeżenie: "},
			"Sprawdzono 25 poradników: "},
		{"warnings only", []string{"--root", checkCorpus, "check", "content/poradniki/cudzyslowy.md"}, 0,
			[]string{"content/poradniki/cudzyslowy.md:12: ostrzeżenie: proste cudzysłowy"}, "Sprawdzono 1 poradnik: 0 błędów, 1 ostrzeżenie."},
		{"one file with an error", []string{"--root", checkCorpus, "check", "content/poradniki/shortcode.md"}, 1,
			[]string{"content/poradniki/shortcode.md:12: błąd: shortcode"}, "Sprawdzono 1 poradnik: 1 błąd, 0 ostrzeżeń."},
		{"unknown file", []string{"--root", checkCorpus, "check", "content/poradniki/nie-ma.md"}, 1, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := kb(t, e, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, tt.lastLine) {
				t.Errorf("last line %q, want %q…", last, tt.lastLine)
			}
			if tt.name == "real content has no errors" {
				t.Logf("real content:\n%s", out)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	e := newEnv(t)
	code, out, errOut := kb(t, e, "", "--root", checkCorpus, "check", "--json")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	var list []struct {
		File     string `json:"file"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
		Severity string `json:"severity"`
		Rule     string `json:"rule"`
		Message  string `json:"message"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("stdout is not a JSON array: %v\n%s", err, out)
	}
	found := false
	for _, f := range list {
		if f.File == "" || f.Line == 0 || f.Rule == "" || f.Message == "" || (f.Severity != "error" && f.Severity != "warning") {
			t.Errorf("incomplete finding %+v", f)
		}
		if f.File == "content/poradniki/zly-link.md" && f.Line == 12 && f.Column == 8 && f.Rule == "link" && f.Severity == "error" {
			found = true
		}
	}
	if !found {
		t.Errorf("no link error at zly-link.md:12:8 in %+v", list)
	}
	if !strings.Contains(errOut, "Sprawdzono 25 poradników") {
		t.Errorf("stderr lacks the summary: %s", errOut)
	}
}
