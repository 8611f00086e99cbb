package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/pgtest"
)

// t0 has sub-second digits down to the microsecond, to catch any loss of
// precision in the round trip through the database.
var t0 = time.Date(2026, 3, 2, 9, 30, 0, 123456000, time.UTC)

// eachBackend runs fn against a fresh SQLite database and, when
// KB_TEST_POSTGRES names a server, a fresh PostgreSQL database.
func eachBackend(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, openTestSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openTestPostgres(t)) })
}

// testErasureKey keys the tests' erasure tombstones.
var testErasureKey = []byte("test erasure key, 32 bytes long!")

func openTestSQLite(t testing.TB, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithErasureKeys(testErasureKey)}, opts...)
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "data", "kb.db"), opts...)
	if err != nil {
		t.Fatalf("open SQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openTestPostgres(t testing.TB, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithErasureKeys(testErasureKey)}, opts...)
	s, err := Open(context.Background(), testPostgresDSN(t), opts...)
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testPostgresDSN creates a fresh database on the server named by
// KB_TEST_POSTGRES and drops it when the test ends.
func testPostgresDSN(t testing.TB) string { return pgtest.DSN(t) }

// helpers

func ctxT(t testing.TB) context.Context {
	return t.Context()
}

func mustSubscribe(t testing.TB, s *Store, email string, now time.Time) Subscriber {
	t.Helper()
	sub, _, err := s.Subscribe(ctxT(t), SignupRequest{Email: email, Consent: Consent{Version: "1", Source: "/", IP: "192.0.2.1"}}, now)
	if err != nil {
		t.Fatalf("subscribe %s: %v", email, err)
	}
	return sub
}

func mustConfirmed(t testing.TB, s *Store, email string, now time.Time) Subscriber {
	t.Helper()
	sub := mustSubscribe(t, s, email, now)
	sub, out, err := s.Confirm(ctxT(t), sub.Link(), "", now, now)
	if err != nil || out != ConfirmDone {
		t.Fatalf("confirm %s: %v %v", email, out, err)
	}
	return sub
}

// seedConfirmed inserts n confirmed subscribers user<i>@example.com inside
// the database, fast enough for benchmarks.
func seedConfirmed(t testing.TB, s *Store, from, n int) {
	t.Helper()
	err := s.tx(ctxT(t), func(tx *txn) error {
		_, err := tx.exec(`WITH RECURSIVE seq(i) AS (SELECT CAST(? AS BIGINT) UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
			INSERT INTO subscribers (email, email_key, name, status, created_at, updated_at, confirmed_at, link_key)
			SELECT 'user' || i || '@example.com', 'user' || i || '@example.com', 'User ' || i, 'confirmed', ?, ?, ?, 'k' || i
			FROM seq`, from, from+n-1, t0.UnixMicro(), t0.UnixMicro(), t0.UnixMicro())
		return err
	})
	if err != nil {
		t.Fatalf("seed %d subscribers: %v", n, err)
	}
}

func countRows(t testing.TB, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.queryRow(ctxT(t), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// tests of the plumbing

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, dsn string
		wantErr   bool
	}{
		{"prefixed", "sqlite:" + filepath.Join(dir, "a", "b", "kb.db"), false},
		{"bare path", filepath.Join(dir, "bare.db"), false},
		{"triple slash", "sqlite://" + filepath.Join(dir, "triple.db"), false},
		{"empty", "", true},
		{"memory", "sqlite::memory:", true},
		{"query in path", "sqlite:" + filepath.Join(dir, "x.db?mode=ro"), true},
		{"other scheme", "mysql://kb@localhost/kb", true},
		{"key=value PostgreSQL DSN", "host=localhost dbname=kb", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctxT(t), tt.dsn)
			if tt.wantErr {
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Dialect() != "sqlite" {
				t.Errorf("Dialect = %q", s.Dialect())
			}
			if err := s.Ping(ctxT(t)); err != nil {
				t.Error(err)
			}
		})
	}
}

// Every pooled connection must carry the pragmas, not just the first.
func TestSQLitePragmasOnEveryConnection(t *testing.T) {
	s := openTestSQLite(t)
	ctx := ctxT(t)
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		var fk, busy, sync int
		var journal string
		for q, dst := range map[string]any{
			"PRAGMA foreign_keys": &fk, "PRAGMA busy_timeout": &busy,
			"PRAGMA synchronous": &sync, "PRAGMA journal_mode": &journal,
		} {
			if err := c.QueryRowContext(ctx, q).Scan(dst); err != nil {
				t.Fatalf("conn %d: %s: %v", i, q, err)
			}
		}
		if fk != 1 || busy != 10000 || sync != 1 || journal != "wal" {
			t.Errorf("conn %d: foreign_keys=%d busy_timeout=%d synchronous=%d journal_mode=%s", i, fk, busy, sync, journal)
		}
	}
	// The readers refuse writes.
	if _, err := s.db.ExecContext(ctx, "DELETE FROM subscribers"); err == nil {
		t.Error("a read connection accepted a write")
	}
}

// The background checkpoint copies the log written by the writer.
func TestSQLiteCheckpoint(t *testing.T) {
	s := openTestSQLite(t)
	for i := range 20 {
		mustSubscribe(t, s, fmt.Sprintf("ck%d@example.com", i), t0)
	}
	logFrames, copied, err := s.checkpoint(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if logFrames == 0 || copied != logFrames {
		t.Errorf("checkpoint copied %d of %d frames", copied, logFrames)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		list, err := migrations()
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Migrate(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			v, err := s.SchemaVersion(ctxT(t))
			if err != nil || v != len(list) {
				t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(list))
			}
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM schema_migrations"); n != len(list) {
			t.Errorf("%d rows in schema_migrations, want %d", n, len(list))
		}
	})
}

func TestStatementsSplit(t *testing.T) {
	got := statements("-- a comment; with a semicolon\nCREATE TABLE a (x INT); -- trailing\n\nCREATE INDEX b ON a (x);\n")
	want := []string{"CREATE TABLE a (x INT)", "CREATE INDEX b ON a (x)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("statements = %q, want %q", got, want)
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	// Nothing listens on port 1 of the loopback address.
	_, err := Open(ctxT(t), "postgres://kb:s3cretpass@127.0.0.1:1/kb?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "cannot reach PostgreSQL at 127.0.0.1:1: ") {
		t.Errorf("error %q does not say where it tried", msg)
	}
	if strings.Contains(msg, "s3cretpass") {
		t.Errorf("error %q leaks the password", msg)
	}
	if _, err := Open(ctxT(t), "postgres://kb:s3cretpass@127.0.0.1:1/kb?sslmode=bogus"); err == nil ||
		strings.Contains(err.Error(), "s3cretpass") || !errors.Is(err, ErrInvalidInput) {
		t.Errorf("bad DSN: %v", err)
	}
}

func TestRebind(t *testing.T) {
	pg := newPostgresDialect()
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{"x = 'it''s ?' AND y IN (?, ?)", "x = 'it''s ?' AND y IN ($1, $2)"},
	}
	for _, tt := range tests {
		if got := pg.rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := newSQLiteDialect().rebind(tt.in); got != tt.in {
			t.Errorf("SQLite rebind changed %q to %q", tt.in, got)
		}
	}
}

// Times must come back exactly as stored, on both databases.
func TestTimesRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		local := time.FixedZone("CET", 3600)
		for i, at := range []time.Time{
			t0,
			t0.In(local).Add(789 * time.Nanosecond), // sub-µs is cut, zone becomes UTC
			time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
			time.Date(2200, 1, 1, 0, 0, 0, 1000, time.UTC),
		} {
			email := fmt.Sprintf("time%d@example.com", i)
			sub, _, err := s.Subscribe(ctxT(t), SignupRequest{Email: email, Consent: Consent{At: at}}, at)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctxT(t), sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := at.UTC().Truncate(time.Microsecond)
			if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC || got.Consent.At != want || got.CreatedAt != sub.CreatedAt {
				t.Errorf("stored %v, got created %v consent %v (returned %v)", at, got.CreatedAt, got.Consent.At, sub.CreatedAt)
			}
			if !got.ConfirmedAt.IsZero() {
				t.Errorf("ConfirmedAt = %v, want zero", got.ConfirmedAt)
			}
		}
	})
}

// A failing function in a commit group is rolled back alone; a panic reaches
// its caller and the writer keeps working.
func TestWriterGroupIsolation(t *testing.T) {
	s := openTestSQLite(t)
	ctx := ctxT(t)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.tx(ctx, func(tx *txn) error {
				if _, err := tx.exec("INSERT INTO webhook_tokens (token, seen_at) VALUES (?, ?)", fmt.Sprint("tok", i), 1); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom
				}
				return nil
			})
		})
	}
	wg.Wait()
	want := 0
	for i, err := range errs {
		if i%3 == 0 {
			if !errors.Is(err, boom) {
				t.Errorf("job %d: %v, want boom", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("job %d: %v", i, err)
		}
		want++
	}
	if n := countRows(t, s, "SELECT COUNT(*) FROM webhook_tokens"); n != want {
		t.Errorf("%d tokens stored, want %d (failed jobs rolled back, others kept)", n, want)
	}
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Errorf("recovered %v, want the job's panic", p)
			}
		}()
		s.tx(ctx, func(*txn) error { panic("kaboom") })
	}()
	if _, err := s.SeenWebhookToken(ctx, "after-panic", t0); err != nil {
		t.Errorf("writer broken after a panic: %v", err)
	}
	// A caller that gave up before its turn is not run.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := s.tx(cancelled, func(*txn) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled caller: err %v, ran %v", err, ran)
	}
	s.Close()
	if err := s.tx(ctx, func(*txn) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// Two processes (say `kb serve` and `kb send`) write the same SQLite file at
// once: the busy timeout and BEGIN IMMEDIATE make them take turns.
func TestSQLiteTwoProcessesWrite(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "kb.db")
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	var wg sync.WaitGroup
	for p, s := range []*Store{a, b} {
		for g := range 4 {
			wg.Go(func() {
				for i := range 50 {
					if _, _, err := s.Subscribe(ctxT(t), SignupRequest{Email: fmt.Sprintf("p%d-g%d-%d@example.com", p, g, i)}, t0); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 20 {
				if _, err := s.ClaimMail(ctxT(t), fmt.Sprint("worker", p), 10, time.Minute, t0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := countRows(t, b, "SELECT COUNT(*) FROM subscribers"); n != 400 {
		t.Errorf("%d subscribers, want 400", n)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM mail_queue"); n != 400 {
		t.Errorf("%d emails, want 400", n)
	}
}

// Failures inside one commit group, driven directly so that the group's
// make-up is certain.
func TestWriterGroupFailures(t *testing.T) {
	s := openTestSQLite(t)
	ctx := ctxT(t)
	// A second writer on the same connection pool, run from this goroutine
	// (the store's own writer goroutine sits idle meanwhile).
	w := &writer{db: s.wdb, sc: newStmtCache(s.wdb, s.d)}
	defer w.sc.close()
	insert := func(tok string) func(*txn) error {
		return func(tx *txn) error {
			_, err := tx.exec("INSERT INTO webhook_tokens (token, seen_at) VALUES (?, 1)", tok)
			return err
		}
	}
	job := func(fn func(*txn) error) *writeJob {
		return &writeJob{ctx: ctx, fn: fn, done: make(chan struct{})}
	}
	tokens := func() string {
		var got []string
		rows, err := s.query(ctx, "SELECT token FROM webhook_tokens ORDER BY token")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var tok string
			rows.Scan(&tok)
			got = append(got, tok)
		}
		return strings.Join(got, ",")
	}

	// A panicking job is rolled back alone.
	group := []*writeJob{job(insert("a")), job(func(tx *txn) error { insert("b")(tx); panic("kaboom") }), job(insert("c"))}
	w.runGroup(group)
	if group[0].err != nil || group[1].panicked != "kaboom" || group[2].err != nil {
		t.Errorf("panic group: %v / %v / %v", group[0].err, group[1].panicked, group[2].err)
	}
	if got := tokens(); got != "a,c" {
		t.Errorf("stored %q, want a,c", got)
	}

	// A job that ends the transaction itself takes the whole group down, and
	// every caller is told.
	broke := errors.New("ended the transaction")
	group = []*writeJob{job(insert("d")), job(func(tx *txn) error { tx.exec("ROLLBACK"); return broke }), job(insert("e"))}
	w.runGroup(group)
	if !errors.Is(group[1].err, broke) {
		t.Errorf("culprit: %v", group[1].err)
	}
	for _, i := range []int{0, 2} {
		if group[i].err == nil || !strings.Contains(group[i].err.Error(), "aborted") {
			t.Errorf("job %d: %v, want aborted", i, group[i].err)
		}
	}
	if got := tokens(); got != "a,c" {
		t.Errorf("stored %q after the aborted group, want a,c", got)
	}
	if _, err := s.SeenWebhookToken(ctx, "f", t0); err != nil {
		t.Errorf("writer unusable afterwards: %v", err)
	}
}
