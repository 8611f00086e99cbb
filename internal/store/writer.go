package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// writer performs every SQLite write on the one write connection, committing
// the transactions of callers that arrived together as one SQLite
// transaction (group commit). Each caller's function runs in its own
// savepoint, so a failing one is rolled back alone and the others keep
// their effects; callers are served in arrival order. One commit per group
// instead of per caller is what lets the signup path keep up with a burst
// while the mail worker writes too.
type writer struct {
	db   *sql.DB
	sc   *stmtCache
	jobs chan *writeJob // unbuffered: a job is either taken or its caller sees quit
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// maxGroup bounds how many callers share one transaction, so that a large
// group does not hold everyone's answer back for long.
const maxGroup = 64

type writeJob struct {
	ctx      context.Context
	fn       func(*txn) error
	err      error
	panicked any
	done     chan struct{}
	// state moves from jobQueued to jobRunning (the writer starts fn) or
	// to jobAbandoned (the caller gave up first), never both.
	state atomic.Int32
}

const (
	jobQueued int32 = iota
	jobRunning
	jobAbandoned
)

func newWriter(db *sql.DB, d *dialect) *writer {
	w := &writer{
		db:   db,
		sc:   newStmtCache(db, d),
		jobs: make(chan *writeJob),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go w.run()
	return w
}

func (w *writer) close() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	w.sc.close()
}

// do runs fn in a write transaction and returns once it is committed or
// rolled back. A caller whose ctx ends while waiting for its turn — also
// while the writer waits for the database (another process holding SQLite's
// write lock) — returns ctx's error at once, and fn never runs; once fn has
// started it runs to the end (SQLite would otherwise roll back the whole
// shared transaction on interruption).
func (w *writer) do(ctx context.Context, fn func(*txn) error) error {
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return ErrClosed
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return ctx.Err()
		}
		<-j.done // fn has started: wait for its outcome
	}
	if j.panicked != nil {
		panic(j.panicked)
	}
	return j.err
}

func (w *writer) run() {
	defer close(w.done)
	group := make([]*writeJob, 0, maxGroup)
	for {
		select {
		case j := <-w.jobs:
			group = append(group[:0], j)
		case <-w.quit:
			return
		}
		// Let the callers woken by the previous group queue their next
		// write first, so that groups grow with the load. When nothing else
		// is runnable this returns at once.
		runtime.Gosched()
	fill:
		for len(group) < maxGroup {
			select {
			case j := <-w.jobs:
				group = append(group, j)
			default:
				break fill
			}
		}
		w.runGroup(group)
		clear(group)
		w.sc.prepareWanted()
	}
}

func (w *writer) runGroup(group []*writeJob) {
	live := group[:0]
	for _, j := range group {
		if err := j.ctx.Err(); err != nil {
			j.err = err
			close(j.done)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	finish := func(jobs []*writeJob, err error) {
		for _, j := range jobs {
			if j.err == nil && j.panicked == nil {
				j.err = err
			}
			close(j.done)
		}
	}
	// The transaction does not follow any caller's context: the group must
	// commit even if one caller goes away.
	tx, err := w.db.BeginTx(context.Background(), nil)
	if err != nil {
		finish(live, fmt.Errorf("store: begin: %w", err))
		return
	}
	// BEGIN IMMEDIATE may have waited for another process: callers that
	// gave up meanwhile have returned, and their writes must not happen.
	started := live[:0]
	for _, j := range live {
		if !j.state.CompareAndSwap(jobQueued, jobRunning) {
			j.err = j.ctx.Err()
			close(j.done)
			continue
		}
		started = append(started, j)
	}
	if live = started; len(live) == 0 {
		tx.Rollback()
		return
	}
	// abort ends the transaction after a failure of the transaction itself
	// (SQLite aborts it on some errors): nothing in the group is committed.
	abort := func(what string, err error) {
		tx.Rollback()
		finish(live, fmt.Errorf("store: %s: transaction of %d writes aborted: %w", what, len(live), err))
	}
	single := len(live) == 1
	for _, j := range live {
		if !single {
			if _, err := w.exec(tx, "SAVEPOINT job"); err != nil {
				abort("savepoint", err)
				return
			}
		}
		w.call(tx, j)
		failed := j.err != nil || j.panicked != nil
		switch {
		case failed && single:
			tx.Rollback()
			finish(live, nil)
			return
		case failed:
			if _, err := w.exec(tx, "ROLLBACK TO job"); err != nil {
				// The caller's own error stays; the others learn why their
				// write was lost.
				abort("roll back to savepoint", err)
				return
			}
		}
		if !single {
			if _, err := w.exec(tx, "RELEASE job"); err != nil {
				abort("release savepoint", err)
				return
			}
		}
	}
	if err := tx.Commit(); err != nil {
		finish(live, fmt.Errorf("store: commit: %w", err))
		return
	}
	finish(live, nil)
}

func (w *writer) exec(tx *sql.Tx, q string) (sql.Result, error) {
	if st := w.sc.get(context.Background(), tx, q); st != nil {
		return st.Exec()
	}
	return tx.Exec(q)
}

// call runs one job, turning a panic into a value re-raised in the caller's
// goroutine so the writer survives it.
func (w *writer) call(tx *sql.Tx, j *writeJob) {
	defer func() {
		if p := recover(); p != nil {
			j.panicked = p
		}
	}()
	j.err = j.fn(&txn{tx: tx, ctx: context.WithoutCancel(j.ctx), d: w.sc.d, sc: w.sc})
}

// stmtCache keeps the writer's statements prepared: modernc's SQLite
// otherwise parses and plans every statement on every call, which was a
// quarter of the signup path's CPU time. Only the writer goroutine uses it.
// A statement seen inside a transaction is prepared after that transaction
// ends, when the single write connection is free again.
type stmtCache struct {
	db     *sql.DB
	d      *dialect
	stmts  map[string]*sql.Stmt // nil value: could not be prepared, do not retry
	wanted map[string]bool
}

// maxCached bounds the cache; the package's set of statements is far smaller.
const maxCached = 256

func newStmtCache(db *sql.DB, d *dialect) *stmtCache {
	return &stmtCache{db: db, d: d, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns q prepared for tx, or nil to run it unprepared.
func (c *stmtCache) get(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	if st, ok := c.stmts[q]; ok {
		if st == nil {
			return nil
		}
		return tx.StmtContext(ctx, st)
	}
	if len(c.stmts)+len(c.wanted) < maxCached {
		c.wanted[q] = true
	}
	return nil
}

// prepareWanted prepares the statements met since the last call; the write
// connection must be idle.
func (c *stmtCache) prepareWanted() {
	for q := range c.wanted {
		st, err := c.db.Prepare(c.d.rebind(q))
		if err != nil {
			st = nil
		}
		c.stmts[q] = st
		delete(c.wanted, q)
	}
}

func (c *stmtCache) close() {
	for _, st := range c.stmts {
		if st != nil {
			st.Close()
		}
	}
}
