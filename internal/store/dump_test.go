package store

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var backendOpeners = []struct {
	name string
	open func(testing.TB, ...Option) *Store
}{
	{"sqlite", openTestSQLite},
	{"postgres", openTestPostgres},
}

// populate fills s with every kind of row the store keeps.
func populate(t *testing.T, s *Store) {
	t.Helper()
	ctx := ctxT(t)
	names := []string{"Zażółć Gęślą", `<b>"Quoted" & 'single'</b>`, "Robert'); DROP TABLE subscribers;--", "", "Ünïcödé 日本"}
	for i := range 30 {
		_, _, err := s.Subscribe(ctx, SignupRequest{Email: fmt.Sprintf("Dump%d@Example.com", i), Name: names[i%len(names)],
			WantsWhitepaper: i%4 == 0, Consent: Consent{Version: "1", Source: "/p?x=1&y=<2>", IP: "203.0.113.9"}},
			t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		sub, _ := s.GetByEmail(ctx, fmt.Sprintf("dump%d@example.com", i))
		s.Confirm(ctx, sub.Link(), "", t0, t0.Add(time.Minute))
	}
	s.SetStatusByEmail(ctx, "dump1@example.com", StatusBounced, "550", t0.Add(time.Hour))
	s.SetStatusByEmail(ctx, "dump2@example.com", StatusComplained, "abuse", t0.Add(time.Hour))
	s.SetStatusByEmail(ctx, "dump3@example.com", StatusUnsubscribed, "list-unsubscribe", t0.Add(time.Hour))
	s.Erase(ctx, "dump29@example.com", t0.Add(time.Hour)) // the newest id: the sequence must not fall back
	s.Erase(ctx, "never-subscribed@example.com", t0.Add(time.Hour))
	mails, _ := s.ClaimMail(ctx, "w", 5, time.Minute, t0.Add(2*time.Hour))
	s.MarkMailSent(ctx, mails[0].Claim, mails[0].ID, "<a@mg>", t0.Add(2*time.Hour))
	s.RetryMail(ctx, mails[1].Claim, mails[1].ID, t0.Add(3*time.Hour), "421")
	s.FailMail(ctx, mails[2].Claim, mails[2].ID, "550", t0.Add(2*time.Hour))
	c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "dump-guide", Title: "Tytuł „cudzysłów”", Subject: "Temat", BatchSize: 4,
		DeliverAt: t0.Add(4 * time.Hour), TestMode: true}, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s.StartCampaign(ctx, c.ID, t0.Add(4*time.Hour))
	batches, _ := s.Batches(ctx, c.ID)
	s.StartBatch(ctx, batches[0].ID, t0.Add(4*time.Hour))
	s.FinishBatch(ctx, batches[0].ID, "<batch0@mg>", t0.Add(4*time.Hour))
	s.StartBatch(ctx, batches[1].ID, t0.Add(4*time.Hour))
	s.MarkBatchUnknown(ctx, batches[1].ID, "timeout")
	s.ResolveBatch(ctx, batches[1].ID, []string{"dump4@example.com"}, t0.Add(5*time.Hour))
	s.FailBatch(ctx, batches[2].ID, "400 bad request")
	s.BatchRecipients(ctx, batches[3].ID)
	s.Erase(ctx, "dump0@example.com", t0.Add(6*time.Hour)) // blanked in the ledger
	s.CreateCampaign(ctx, CampaignSpec{Slug: "second", Subject: "S"}, t0.Add(7*time.Hour))
	for _, tok := range []string{"tok-b", "tok-a", "Tok-C", "ż-token", "tok'quote"} {
		s.SeenWebhookToken(ctx, tok, t0.Add(8*time.Hour))
	}
}

func dump(t *testing.T, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Dump(ctxT(t), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A dump restored into another database (SQLite → PostgreSQL is how an
// install moves) dumps back byte for byte, and new rows continue the ids.
func TestDumpRestoreRoundTrip(t *testing.T) {
	for _, from := range backendOpeners {
		for _, to := range backendOpeners {
			t.Run(from.name+"_to_"+to.name, func(t *testing.T) {
				src := from.open(t)
				dst := to.open(t)
				populate(t, src)
				first := dump(t, src)
				if err := dst.Restore(ctxT(t), bytes.NewReader(first)); err != nil {
					t.Fatal(err)
				}
				second := dump(t, dst)
				if !bytes.Equal(first, second) {
					t.Fatalf("dumps differ:\n%s", firstDiff(first, second))
				}
				lines := bytes.Count(first, []byte("\n"))
				for _, want := range []string{`"table":"subscribers"`, `"table":"subscriber_events"`, `"table":"erased"`,
					`"table":"mail_queue"`, `"table":"campaigns"`, `"table":"campaign_batches"`,
					`"table":"campaign_recipients"`, `"table":"webhook_tokens"`, `"sequence":"subscribers"`, `"end":true`} {
					if !bytes.Contains(first, []byte(want)) {
						t.Errorf("dump of %d lines lacks %s", lines, want)
					}
				}
				// Both continue numbering the same way, past the erased newest row.
				a := mustSubscribe(t, src, "after@example.com", t0.Add(9*time.Hour))
				b := mustSubscribe(t, dst, "after@example.com", t0.Add(9*time.Hour))
				if a.ID != b.ID {
					t.Errorf("next id %d in the source, %d in the restored database", a.ID, b.ID)
				}
				if b.ID <= 30 {
					t.Errorf("new subscriber got id %d, reusing an erased subscriber's id", b.ID)
				}
				cs, _ := dst.CreateCampaign(ctxT(t), CampaignSpec{Slug: "third", Subject: "T"}, t0)
				cs2, _ := src.CreateCampaign(ctxT(t), CampaignSpec{Slug: "third", Subject: "T"}, t0)
				if cs.ID != cs2.ID || cs.ID != 3 {
					t.Errorf("next campaign id %d vs %d, want 3", cs.ID, cs2.ID)
				}
			})
		}
	}
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "no difference"
}

// The dump's column list must follow the schema: a column added by a
// migration and forgotten here would be lost when an install moves.
func TestDumpCoversSchema(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		var q string
		if s.Dialect() == dialectSQLite {
			q = `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
				WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`
		} else {
			q = `SELECT table_name, column_name FROM information_schema.columns
				WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`
		}
		rows, err := s.query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		live := map[string][]string{}
		for rows.Next() {
			var table, col string
			if err := rows.Scan(&table, &col); err != nil {
				t.Fatal(err)
			}
			live[table] = append(live[table], col)
		}
		rows.Close()
		notDumped := map[string]bool{"schema_migrations": true, "locks": true,
			"admin_sessions": true, "admin_throttle": true}
		var tables []string
		for table := range live {
			tables = append(tables, table)
		}
		sort.Strings(tables)
		dumped := map[string]dumpTable{}
		for _, tb := range dumpTables {
			dumped[tb.name] = tb
		}
		for _, table := range tables {
			if notDumped[table] {
				continue
			}
			tb, ok := dumped[table]
			if !ok {
				t.Errorf("table %s is not in dumpTables", table)
				continue
			}
			if got, want := tb.colNames(), strings.Join(live[table], ", "); got != want {
				t.Errorf("%s: dump has %s\nschema has %s", table, got, want)
			}
		}
		if len(dumped) != len(tables)-len(notDumped) {
			t.Errorf("dumpTables names %d tables, the schema has %d", len(dumped), len(tables)-len(notDumped))
		}
	})
}

func TestRestoreRefusesBadInput(t *testing.T) {
	good := func(t *testing.T) string {
		src := openTestSQLite(t)
		mustConfirmed(t, src, "x@example.com", t0)
		return string(dump(t, src))
	}
	eachBackend(t, func(t *testing.T, s *Store) {
		d := good(t)
		lines := strings.SplitAfter(d, "\n")
		header := lines[0]
		end := lines[len(lines)-2]
		subRow := ""
		for _, l := range lines {
			if strings.Contains(l, `"table":"subscribers"`) {
				subRow = l
			}
		}
		body := strings.Join(lines[1:len(lines)-2], "")
		tests := []struct{ name, in, want string }{
			{"empty", "", "read header"},
			{"garbage", "not json at all\n", "read header"},
			{"wrong format", `{"format":"other","version":1,"schema_version":1}` + "\n", "not a kb-store-dump"},
			{"future version", strings.Replace(header, `"version":1`, `"version":2`, 1) + body + end, "not a kb-store-dump"},
			{"other schema", regexp.MustCompile(`"schema_version":\d+`).ReplaceAllString(header, `"schema_version":99`) + body + end, "schema version 99"},
			{"truncated", header + body, "truncated"},
			{"row count mismatch", header + body + strings.Replace(end, `"rows":`, `"rows":1`, 1), "end line counts"},
			{"unknown table", header + `{"table":"users","row":{"id":1}}` + "\n" + body + end, `unknown table "users"`},
			{"unknown column", header + strings.Replace(subRow, `"email":`, `"evil":1,"email":`, 1) + end, "columns"},
			{"missing column", header + strings.Replace(subRow, `"name":`, `"nome":`, 1) + end, "column name missing"},
			{"mistyped column", header + strings.Replace(subRow, `"id":1`, `"id":"1"`, 1) + end, "want an integer"},
			{"fraction", header + strings.Replace(subRow, `"id":1`, `"id":1.5`, 1) + end, "column id"},
			{"bad status", header + strings.Replace(subRow, `"status":"confirmed"`, `"status":"vip"`, 1) + end, "line 2: subscribers"},
			{"out of order", header + `{"table":"webhook_tokens","row":{"token":"t","seen_at":1}}` + "\n" + body + end, "out of order"},
			{"duplicate row", header + subRow + body + strings.Replace(end, `"rows":`, `"rows":1`, 1), "line 3: subscribers"},
			{"after the end", header + body + end + `{"table":"erased"}` + "\n", "after the end line"},
			{"no sequences", header + strings.Join(filter(lines[1:len(lines)-2], "sequence"), "") + end, "lacks the sequence"},
		}
		for _, tt := range tests {
			if err := s.Restore(ctxT(t), strings.NewReader(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
			}
			if n := countRows(t, s, "SELECT COUNT(*) FROM subscribers"); n != 0 {
				t.Fatalf("%s: a failed restore left %d subscribers", tt.name, n)
			}
		}
		if err := s.Restore(ctxT(t), strings.NewReader(d)); err != nil {
			t.Fatalf("good dump after failed ones: %v", err)
		}
		if err := s.Restore(ctxT(t), strings.NewReader(d)); !errors.Is(err, ErrNotEmpty) {
			t.Errorf("restore into a filled database: %v, want ErrNotEmpty", err)
		}
	})
}

func filter(lines []string, drop string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, drop) {
			out = append(out, l)
		}
	}
	return out
}
