package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPostgresStatementTimeout: every connection has a statement_timeout,
// the default, the option's, or the URL's own; and a statement stuck behind
// a lock ends after it.
func TestPostgresStatementTimeout(t *testing.T) {
	withURLOption := func(dsn, v string) string {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("statement_timeout", v)
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name string
		url  string // statement_timeout in the URL, if any
		opts []Option
		want string // SHOW statement_timeout
	}{
		{"default", "", nil, "10s"},
		{"option", "", []Option{WithStatementTimeout(250 * time.Millisecond)}, "250ms"},
		{"option off", "", []Option{WithStatementTimeout(0)}, "0"},
		{"the URL's own wins", "1500", []Option{WithStatementTimeout(250 * time.Millisecond)}, "1500ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := testPostgresDSN(t)
			if tt.url != "" {
				dsn = withURLOption(dsn, tt.url)
			}
			s, err := Open(ctxT(t), dsn, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Several connections at once: each has it, not just the first.
			conns := make([]*sql.Conn, 3)
			for i := range conns {
				if conns[i], err = s.db.Conn(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				defer conns[i].Close()
				var got string
				if err := conns[i].QueryRowContext(ctxT(t), "SHOW statement_timeout").Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("connection %d: statement_timeout = %q, want %q", i, got, tt.want)
				}
			}
		})
	}

	t.Run("a statement behind a lock ends", func(t *testing.T) {
		s := openTestPostgres(t, WithStatementTimeout(200*time.Millisecond))
		holder, err := s.db.BeginTx(ctxT(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Rollback()
		if _, err := holder.Exec("LOCK TABLE subscribers IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		// The context only keeps a failing test from hanging.
		ctx, cancel := context.WithTimeout(ctxT(t), 5*time.Second)
		defer cancel()
		_, _, err = s.Subscribe(ctx, SignupRequest{Email: "zablokowany@example.pl"}, t0)
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); !ok || pgErr.Code != "57014" {
			t.Fatalf("Subscribe behind the lock: %v, want query_canceled (57014) by the statement timeout", err)
		}
	})
}

// TestWriterCallerGivesUpWhileDatabaseLocked: another process holds SQLite's
// write lock; a caller whose context ends returns at once, not after the
// busy timeout, and its write never happens, even once the lock is free.
func TestWriterCallerGivesUpWhileDatabaseLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kb.db")
	s, err := Open(ctxT(t), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctxT(t), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	var ran atomic.Bool
	ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.tx(ctx, func(t *txn) error {
		ran.Store(true)
		_, err := t.exec("INSERT INTO erased (email_hash, erased_at) VALUES ('abandoned', 1)")
		return err
	})
	// The busy timeout is 10 s; the caller's deadline must win by far.
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("write behind another process's lock: %v after %s, want the deadline soon", err, time.Since(start))
	}

	if _, err := lock.ExecContext(ctxT(t), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	// The writer is free again once a later write goes through.
	if err := s.tx(ctxT(t), func(t *txn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Error("the abandoned write ran after its caller had given up")
	}
	if n := countRows(t, s, "SELECT COUNT(*) FROM erased WHERE email_hash = 'abandoned'"); n != 0 {
		t.Errorf("%d abandoned rows written", n)
	}
}
