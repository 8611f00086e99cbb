package editorial

import (
	"encoding/json"
	"fmt"
	"io"
)

// severityPL is how a finding's severity reads in the text output.
var severityPL = map[Severity]string{Error: "błąd", Warning: "ostrzeżenie"}

// WriteText writes one line per finding, "file:line: błąd: message", the
// form editors and CI logs link to.
func (r *Report) WriteText(w io.Writer) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintf(w, "%s:%d: %s: %s\n", f.File, f.Line, severityPL[f.Severity], f.Message); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the findings as a JSON array (never null).
func (r *Report) WriteJSON(w io.Writer) error {
	list := r.Findings
	if list == nil {
		list = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(list)
}

// Summary is the closing line, e.g. "Sprawdzono 14 poradników: 0 błędów,
// 3 ostrzeżenia."
func (r *Report) Summary() string {
	return fmt.Sprintf("Sprawdzono %s: %s, %s.",
		plural(r.Guides, "poradnik", "poradniki", "poradników"),
		plural(r.Errors, "błąd", "błędy", "błędów"),
		plural(r.Warnings, "ostrzeżenie", "ostrzeżenia", "ostrzeżeń"))
}

// plural picks the Polish form for n: 1 one; 2–4 (not 12–14) few; many.
func plural(n int, one, few, many string) string {
	form := many
	switch {
	case n == 1:
		form = one
	case n%10 >= 2 && n%10 <= 4 && (n%100 < 12 || n%100 > 14):
		form = few
	}
	return fmt.Sprintf("%d %s", n, form)
}
