package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/pgtest"
)

// TestMoveFromSQLiteToPostgres fills a SQLite install the way a firm would
// — an imported list, signups through the form (consent with IP), confirm
// and one-click unsubscribe links, an erasure, a finished newsletter — then
// moves it with `kb subscribers export --format dump` and `kb subscribers
// import --dump` into PostgreSQL. The PostgreSQL dump must equal the
// SQLite one byte for byte, and both must show the same campaign ledger.
func TestMoveFromSQLiteToPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := buildSite(t)
	lite := kbproc.Options{Data: filepath.Join(t.TempDir(), "data"), Env: env("", nil)} // sqlite:$KB_DATA/kb.db
	pg := kbproc.Options{Env: env(dsn, nil)}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	csvPath, imported := kbproc.WriteCSV(t, 40, "dump.example.pl")
	kbproc.MustRun(t, lite, "subscribers", "import", csvPath, "--status", "confirmed")

	srv := kbproc.Start(t, lite, s.serveArgs("dump-worker")...)
	for i := range 5 {
		if err := kbproc.Signup(ctx, srv.URL, fmt.Sprintf("Nowy.Czytelnik%d@Dump.Example.PL", i), kbproc.PersonName(i), i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	// A confirmed subscriber asks for the whitepaper.
	if err := kbproc.Signup(ctx, srv.URL, imported[3], "", true); err != nil {
		t.Fatal(err)
	}
	kbproc.WaitDrained(t, lite, func(st kbproc.Stats) bool { return st.Subscribers["pending"] == 5 })
	var confirms []kbproc.Email
	for _, e := range kbproc.ReadOutbox(t, srv.Outbox) {
		if e.Tag == "kb-confirm" {
			confirms = append(confirms, e)
		}
	}
	if len(confirms) != 5 {
		t.Fatalf("%d confirmation emails, want 5", len(confirms))
	}
	for _, e := range confirms[:3] {
		kbproc.Confirm(t, ctx, srv.URL+e.TokenPath(t, "/api/confirm"))
	}
	kbproc.WaitDrained(t, lite, func(st kbproc.Stats) bool { return st.Subscribers["confirmed"] == 43 })
	kbproc.MustRun(t, lite, "subscribers", "delete", imported[7])

	// A newsletter, sent to the outbox; then a reader unsubscribes with the
	// one-click link it carries.
	kbproc.MustRun(t, lite, "send", "--out", s.public, "--base-url", baseURL)
	var unsub string
	for _, e := range kbproc.ReadOutbox(t, srv.Outbox) {
		if strings.HasPrefix(e.Tag, "kb-") || e.Unsub == "" {
			continue
		}
		unsub = e.Unsub
		break
	}
	if unsub == "" {
		t.Fatal("kb send wrote no newsletter with a List-Unsubscribe link to the outbox")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, kbproc.OnServer(unsub, srv.URL), strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := kbproc.Client.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %v %v", res, err)
	}
	res.Body.Close()
	before := kbproc.WaitDrained(t, lite, func(st kbproc.Stats) bool { return st.Subscribers["unsubscribed"] == 1 })
	if before.Erased != 1 || before.Campaigns == 0 {
		t.Fatalf("SQLite install not filled as planned: %+v", before)
	}

	// The move.
	dump := kbproc.MustRun(t, lite, "subscribers", "export", "--format", "dump")
	for _, table := range []string{"subscribers", "subscriber_events", "erased", "mail_queue", "campaigns",
		"campaign_batches", "campaign_recipients"} {
		if !strings.Contains(dump, `"table":"`+table+`"`) {
			t.Errorf("the dump has no row of %s", table)
		}
	}
	dumpFile := filepath.Join(t.TempDir(), "kb.dump")
	if err := os.WriteFile(dumpFile, []byte(dump), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := kbproc.MustRun(t, pg, "subscribers", "import", "--dump", dumpFile); !strings.Contains(out, "Restored") {
		t.Fatalf("import --dump: %s", out)
	}
	if _, errOut, err := kbproc.Run(t, pg, "subscribers", "import", "--dump", dumpFile); err == nil ||
		!strings.Contains(errOut, "not empty") {
		t.Errorf("a second import --dump into the filled database: %v %s; want a refusal", err, errOut)
	}

	if again := kbproc.MustRun(t, pg, "subscribers", "export", "--format", "dump"); again != dump {
		t.Errorf("the PostgreSQL dump differs from the SQLite one: %s", firstDifference(dump, again))
	}
	for _, args := range [][]string{{"campaigns"}, {"campaigns", "--json"}, {"subscribers", "stats", "--json"},
		{"subscribers", "show", imported[3]}} {
		want, got := kbproc.MustRun(t, lite, args...), kbproc.MustRun(t, pg, args...)
		if got != want {
			t.Errorf("kb %s on PostgreSQL:\n%s\nwant (SQLite):\n%s", strings.Join(args, " "), got, want)
		}
	}
}

// firstDifference shows the first line where two dumps differ.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  sqlite:   %s\n  postgres: %s", i+1, wl, gl)
		}
	}
	return "no line differs"
}
