package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Files are named
// NNNN_description.sql; the same list serves both databases.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var list []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.sql", e.Name())
		}
		raw, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		list = append(list, migration{version: v, name: name, sql: string(raw)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].version < list[j].version })
	for i, m := range list {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migrations are not numbered 1, 2, 3…: found %d at position %d", m.version, i+1)
		}
	}
	return list, nil
}

// statements splits a migration into statements. Migrations contain no
// semicolons inside literals, and comments are dropped.
func statements(script string) []string {
	var b strings.Builder
	for _, line := range strings.Split(script, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	var out []string
	for _, st := range strings.Split(b.String(), ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out
}

// migrationLock is the PostgreSQL advisory lock key that serialises
// migrations of several processes starting at once ("kbmigr" in ASCII).
const migrationLock = 0x6b626d696772

// Migrate applies the migrations the database lacks, each in its own
// transaction. Open calls it; it is safe to call again.
func (s *Store) Migrate(ctx context.Context) error {
	list, err := migrations()
	if err != nil {
		return err
	}
	if err := s.tx(ctx, func(t *txn) error {
		if err := s.lockMigrations(t); err != nil {
			return err
		}
		_, err := t.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`)
		return err
	}); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	for _, m := range list {
		err := s.tx(ctx, func(t *txn) error {
			if err := s.lockMigrations(t); err != nil {
				return err
			}
			var applied int
			if err := t.queryRow("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&applied); err != nil {
				return err
			}
			if applied > 0 {
				return nil
			}
			for _, st := range statements(s.d.ddl.Replace(m.sql)) {
				if _, err := t.exec(st); err != nil {
					return fmt.Errorf("%.60s…: %w", st, err)
				}
			}
			_, err := t.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v > len(list) {
		return fmt.Errorf("store: database schema version %d is newer than this kb (%d): upgrade kb", v, len(list))
	}
	return nil
}

// SchemaVersion returns the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// lockMigrations makes concurrent PostgreSQL migrators take turns until t
// ends. SQLite needs nothing: BEGIN IMMEDIATE already admits one writer.
func (s *Store) lockMigrations(t *txn) error {
	if s.d.name != dialectPostgres {
		return nil
	}
	// Waiting for another instance's migration, or a migration rewriting a
	// large table, may take longer than the statement_timeout of requests.
	if _, err := t.exec("SET LOCAL statement_timeout = 0"); err != nil {
		return err
	}
	_, err := t.exec("SELECT pg_advisory_xact_lock(?)", int64(migrationLock))
	return err
}
