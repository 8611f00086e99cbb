// Package csvsafe writes CSV that spreadsheet programs open as text: a
// cell that would start a formula (CSV injection) is prefixed with a
// single quote. `kb subscribers export` and the dashboard's export share it.
package csvsafe

import (
	"encoding/csv"
	"strings"
)

// FormulaTriggers start a cell that spreadsheet programs run as a formula:
// a subscriber who signs up as =HYPERLINK(…) must not run code on the
// operator's machine when the export is opened.
const FormulaTriggers = "=+-@\t\r"

// Neutralize prefixes a cell that would start a formula with a single
// quote, which spreadsheets show as text (OWASP's advice).
func Neutralize(s string) string {
	if s != "" && strings.IndexByte(FormulaTriggers, s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// Restore undoes Neutralize, so that an export imports as it was.
func Restore(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.IndexByte(FormulaTriggers, s[1]) >= 0 {
		return s[1:]
	}
	return s
}

// Writer writes records with every cell neutralised.
type Writer struct {
	*csv.Writer
	buf []string
}

// NewWriter wraps w.
func NewWriter(w *csv.Writer) *Writer { return &Writer{Writer: w} }

func (w *Writer) Write(record []string) error {
	w.buf = w.buf[:0]
	for _, cell := range record {
		w.buf = append(w.buf, Neutralize(cell))
	}
	return w.Writer.Write(w.buf)
}
