// Package store keeps subscribers, their consent evidence, the queue of
// transactional emails, the newsletter campaign ledger, the webhook replay
// guard and the send lock, in SQLite or PostgreSQL over database/sql. All of
// kb's SQL lives here.
//
// Every query is written once, with ? placeholders; dialect.go holds what
// differs between the two databases. Each operation that changes state is
// one transaction. On SQLite all writes of a process go through one
// connection owned by a goroutine that commits concurrent callers together
// (writer.go); on PostgreSQL transactions run in parallel and serialise on
// row locks (SELECT … FOR UPDATE, SKIP LOCKED for the queue).
//
// Times passed in ("now") are stored in UTC at microsecond precision, and
// every time returned is UTC; a zero time.Time means "never".
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Errors callers tell apart with errors.Is.
var (
	ErrNotFound       = errors.New("store: not found")
	ErrCampaignExists = errors.New("store: a campaign with this slug already exists")
	ErrConflict       = errors.New("store: state changed meanwhile")
	ErrLocked         = errors.New("store: lock held by another process")
	ErrInvalidEmail   = errors.New("store: invalid email address")
	ErrInvalidInput   = errors.New("store: invalid input")
	ErrNotEmpty       = errors.New("store: database is not empty")
	ErrClosed         = errors.New("store: closed")
)

// Store is the database. It is safe for concurrent use.
type Store struct {
	d   *dialect
	db  *sql.DB // reads; on PostgreSQL also writes
	wdb *sql.DB // SQLite: the single write connection; PostgreSQL: == db
	w   *writer // SQLite group commit; nil on PostgreSQL

	log       *slog.Logger
	lockLease time.Duration
	// lockFiles is the SQLite database's path, which lock files are named
	// after (kb.db.send-lock); "" on PostgreSQL.
	lockFiles string
	lastPrune atomic.Int64 // unix µs of the last webhook-token prune
	closed    atomic.Bool
	limits    SignupLimits
	// erasureKeys key the erasure tombstones; the first writes, all are
	// checked (see erasure.go).
	erasureKeys [][]byte

	heldMu     sync.Mutex
	heldLogged map[string]time.Time // reason → when last logged

	// SQLite background checkpoints
	stopBackground chan struct{}
	backgroundDone chan struct{}
}

type options struct {
	maxOpen     int
	maxIdle     int
	maxLifetime time.Duration
	log         *slog.Logger
	lockLease   time.Duration
	limits      *SignupLimits
	erasureKeys [][]byte

	// stmtTimeout is PostgreSQL's statement_timeout (see
	// WithStatementTimeout); negative: the server's own.
	stmtTimeout time.Duration
}

// Option tunes Open.
type Option func(*options)

// WithMaxOpenConns caps the connection pool (PostgreSQL; for SQLite the pool
// of readers — writes always go through one connection).
func WithMaxOpenConns(n int) Option { return func(o *options) { o.maxOpen = n } }

// WithMaxIdleConns sets how many idle connections are kept.
func WithMaxIdleConns(n int) Option { return func(o *options) { o.maxIdle = n } }

// WithConnMaxLifetime recycles connections after d (0: never).
func WithConnMaxLifetime(d time.Duration) Option { return func(o *options) { o.maxLifetime = d } }

// WithLogger sets where the store reports trouble it cannot return as an
// error (a lost send-lock lease).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// DefaultStatementTimeout is PostgreSQL's statement_timeout unless the URL
// sets one or WithStatementTimeout another: a statement stuck behind a lock
// ends after it, instead of holding its connection after the request that
// started it has given up.
const DefaultStatementTimeout = 10 * time.Second

// WithStatementTimeout sets PostgreSQL's statement_timeout of every
// connection; 0 turns it off (long operator exports). A statement_timeout
// in the URL wins over both.
func WithStatementTimeout(d time.Duration) Option { return func(o *options) { o.stmtTimeout = d } }

// WithLockLease sets the lease of the SQLite send lock's row, renewed every
// third of that while held: how long a holder without a lock file (see
// AcquireSendLock) keeps others out after it died.
func WithLockLease(d time.Duration) Option { return func(o *options) { o.lockLease = d } }

// Open connects to the database named by dsn and brings its schema up to
// date. dsn is "sqlite:PATH", a bare PATH, or a "postgres://" or
// "postgresql://" URL.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{
		maxIdle:     -1, // unset: a backend default
		maxLifetime: 30 * time.Minute,
		log:         slog.New(slog.DiscardHandler),
		lockLease:   30 * time.Second,
		stmtTimeout: DefaultStatementTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.lockLease < time.Second {
		return nil, fmt.Errorf("%w: lock lease %s is shorter than a second", ErrInvalidInput, o.lockLease)
	}
	var (
		s   *Store
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err = openPostgres(ctx, dsn, o)
	case strings.TrimSpace(dsn) == "":
		return nil, fmt.Errorf("%w: empty database DSN", ErrInvalidInput)
	case !strings.HasPrefix(dsn, "sqlite:") && (strings.Contains(dsn, "://") || strings.Contains(dsn, "=")):
		// Not a path: an unknown scheme or a key=value PostgreSQL DSN,
		// which would otherwise become an oddly named SQLite file.
		return nil, fmt.Errorf("%w: database DSN must be sqlite:PATH or a postgres:// URL", ErrInvalidInput)
	default:
		s, err = openSQLite(ctx, dsn, o)
	}
	if err != nil {
		return nil, err
	}
	s.limits, s.heldLogged, s.erasureKeys = DefaultSignupLimits(), map[string]time.Time{}, o.erasureKeys
	if o.limits != nil {
		s.limits = *o.limits
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// sqlitePragmas go into the DSN so that every pooled connection gets them.
// WAL lets readers work while the writer commits; synchronous=NORMAL is
// durable across application crashes (only an OS crash may lose the last
// commits) and is what makes a commit cheap in WAL mode.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

func openSQLite(ctx context.Context, dsn string, o options) (*Store, error) {
	path := strings.TrimPrefix(dsn, "sqlite:")
	if strings.HasPrefix(path, "//") { // sqlite:///abs/path
		path = strings.TrimPrefix(path, "//")
	}
	switch {
	case path == "" || path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("%w: SQLite DSN %q: want sqlite:PATH to a database file", ErrInvalidInput, dsn)
	case strings.ContainsAny(path, "?#"):
		return nil, fmt.Errorf("%w: SQLite path %q must not contain ? or #", ErrInvalidInput, path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// One connection does every write: SQLite admits one writer at a time
	// anyway, and funnelling writes through a goroutine that commits them in
	// groups (writer.go) serves waiting requests in order instead of letting
	// them spin on SQLITE_BUSY or queue in database/sql's random-order pool.
	// BEGIN IMMEDIATE still guards against writers in other processes.
	//   - temp_store keeps the savepoint journals of group commit in memory;
	//   - a 64 MiB page cache (a cap, used only as the data grows) roughly
	//     halves the time a large campaign's recipient list holds the writer;
	//   - checkpoints normally run in the background (checkpointLoop), so the
	//     writer never waits for an fsync; its own automatic checkpoint is a
	//     safety net for when the background one cannot keep up.
	wdb, err := sql.Open("sqlite", path+"?"+sqlitePragmas+"&_pragma=journal_mode(WAL)"+
		"&_pragma=temp_store(MEMORY)&_pragma=cache_size(-65536)"+
		"&_pragma=wal_autocheckpoint(10000)&_pragma=journal_size_limit(67108864)"+
		"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	if err := wdb.PingContext(ctx); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	// Readers run in parallel on their own connections; query_only keeps a
	// slip from writing past the writer.
	rdb, err := sql.Open("sqlite", path+"?"+sqlitePragmas+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	if o.maxOpen <= 0 {
		o.maxOpen = max(4, runtime.GOMAXPROCS(0))
	}
	if o.maxIdle < 0 {
		o.maxIdle = o.maxOpen
	}
	rdb.SetMaxOpenConns(o.maxOpen)
	rdb.SetMaxIdleConns(o.maxIdle)
	rdb.SetConnMaxLifetime(o.maxLifetime)
	s := &Store{d: newSQLiteDialect(), db: rdb, wdb: wdb, log: o.log, lockLease: o.lockLease, lockFiles: path,
		stopBackground: make(chan struct{}), backgroundDone: make(chan struct{})}
	s.w = newWriter(wdb, s.d)
	go s.checkpointLoop(time.Second)
	return s, nil
}

// checkpointLoop copies the write-ahead log into the database file every
// interval, on a reader connection. A PASSIVE checkpoint never blocks the
// writer or readers; doing it here keeps its fsync off the signup path.
func (s *Store) checkpointLoop(interval time.Duration) {
	defer close(s.backgroundDone)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopBackground:
			return
		case <-tick.C:
			if _, _, err := s.checkpoint(context.Background()); err != nil {
				s.log.Warn("SQLite checkpoint failed", "err", err)
			}
		}
	}
}

// checkpoint runs one passive checkpoint. It returns the frames in the log
// and how many of them are now in the database file; they differ while a
// reader still needs older frames (the next checkpoint catches up).
func (s *Store) checkpoint(ctx context.Context) (logFrames, copied int, err error) {
	var busy int
	if err := s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied); err != nil {
		return 0, 0, fmt.Errorf("store: checkpoint: %w", err)
	}
	return logFrames, copied, nil
}

func openPostgres(ctx context.Context, dsn string, o options) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn) // its errors already redact the password
	if err != nil {
		return nil, fmt.Errorf("%w: PostgreSQL DSN: %w", ErrInvalidInput, err)
	}
	// A startup parameter, so every pooled connection has it from the
	// start; ParseConfig put the URL's own statement_timeout here already.
	if _, set := cfg.RuntimeParams["statement_timeout"]; !set && o.stmtTimeout >= 0 {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(o.stmtTimeout.Milliseconds(), 10)
	}
	if o.maxOpen <= 0 {
		o.maxOpen = 20
	}
	if o.maxIdle < 0 {
		// Keep every connection a burst opened: closing one beyond a small
		// idle limit and opening it again on the next request costs a
		// PostgreSQL backend process each time. Idle ones go after a while.
		o.maxIdle = o.maxOpen
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.maxOpen)
	db.SetMaxIdleConns(o.maxIdle)
	db.SetConnMaxLifetime(o.maxLifetime)
	db.SetConnMaxIdleTime(5 * time.Minute)

	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		addr := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
		return nil, &redactedError{
			msg: redact(fmt.Sprintf("cannot reach PostgreSQL at %s: %v", addr, err), cfg.Password),
			err: err,
		}
	}
	return &Store{d: newPostgresDialect(), db: db, wdb: db, log: o.log, lockLease: o.lockLease}, nil
}

// redactedError keeps the cause for errors.Is/As but never prints the
// password that a driver message might echo.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "xxxxx")
}

// Dialect names the database: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close stops the writer and closes every connection.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.w != nil {
		close(s.stopBackground)
		<-s.backgroundDone
		s.w.close()
	}
	err := s.db.Close()
	if s.wdb != s.db {
		err = errors.Join(err, s.wdb.Close())
	}
	return err
}

// tx runs fn in one write transaction. On SQLite fn may share the
// transaction with other callers' functions (group commit, each in its own
// savepoint); on PostgreSQL it is run again when it collided with another
// transaction, so fn must set its results afresh on every call.
func (s *Store) tx(ctx context.Context, fn func(*txn) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.w != nil {
		return s.w.do(ctx, fn)
	}
	for attempt := 1; ; attempt++ {
		err := s.pgTx(ctx, fn)
		if err == nil || attempt == 5 || !s.d.retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

func (s *Store) pgTx(ctx context.Context, fn func(*txn) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(&txn{tx: tx, ctx: ctx, d: s.d}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// readTx runs fn in a read-only transaction, for reads that must see one
// consistent state (several queries).
func (s *Store) readTx(ctx context.Context, fn func(*txn) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d.name == dialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(&txn{tx: tx, ctx: ctx, d: s.d})
}

// query and queryRow read outside a transaction.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.d.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.d.rebind(q), args...)
}

// txn is one transaction with the dialect applied to every query.
type txn struct {
	tx  *sql.Tx
	ctx context.Context
	d   *dialect
	sc  *stmtCache // SQLite writer only: statements stay prepared
}

func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	if st := t.sc.get(t.ctx, t.tx, q); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, t.d.rebind(q), args...)
}

func (t *txn) query(q string, args ...any) (*sql.Rows, error) {
	if st := t.sc.get(t.ctx, t.tx, q); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, t.d.rebind(q), args...)
}

func (t *txn) queryRow(q string, args ...any) *sql.Row {
	if st := t.sc.get(t.ctx, t.tx, q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, t.d.rebind(q), args...)
}

// affected returns the rows a statement changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
