package main

import (
	"encoding/csv"
	"strings"
)

// formulaTriggers start a cell that spreadsheet programs run as a formula
// (CSV injection): a subscriber who signs up as =HYPERLINK(…) must not run
// code on the operator's machine when the export is opened.
const formulaTriggers = "=+-@\t\r"

// neutralizeCell prefixes a cell that would start a formula with a single
// quote, which spreadsheets show as text (OWASP's advice).
func neutralizeCell(s string) string {
	if s != "" && strings.IndexByte(formulaTriggers, s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// restoreCell undoes neutralizeCell, so that an export imports as it was.
func restoreCell(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.IndexByte(formulaTriggers, s[1]) >= 0 {
		return s[1:]
	}
	return s
}

// safeCSV writes records with every cell neutralised.
type safeCSV struct {
	*csv.Writer
	buf []string
}

func (w *safeCSV) Write(record []string) error {
	w.buf = w.buf[:0]
	for _, cell := range record {
		w.buf = append(w.buf, neutralizeCell(cell))
	}
	return w.Writer.Write(w.buf)
}
