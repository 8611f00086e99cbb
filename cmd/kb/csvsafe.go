package main

import "github.com/kbpress/kb/internal/csvsafe"

// The formula-safe CSV (CSV injection) lives in internal/csvsafe, shared
// with the dashboard's export; these names keep the commands short.

func neutralizeCell(s string) string { return csvsafe.Neutralize(s) }

func restoreCell(s string) string { return csvsafe.Restore(s) }

type safeCSV = csvsafe.Writer

const formulaTriggers = csvsafe.FormulaTriggers
