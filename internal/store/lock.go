package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LockedError says who holds a lock; errors.Is(err, ErrLocked) is true.
type LockedError struct {
	Name   string
	Holder string
	Since  time.Time // zero if unknown
}

func (e *LockedError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("store: lock %q is held by another process", e.Name)
	}
	return fmt.Sprintf("store: lock %q is held by %s since %s", e.Name, e.Holder, e.Since.Format(time.RFC3339))
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ErrLockLost is returned by a release function when the lock had been
// taken over meanwhile (the SQLite lease ran out while the holder stalled).
var ErrLockLost = errors.New("store: lock was lost while held")

const (
	sendLockName = "send"
	// sendLockKey is the PostgreSQL advisory lock key for `kb send`
	// ("kbsend" in ASCII).
	sendLockKey int64 = 0x6b6273656e64
)

// AcquireSendLock makes sure at most one `kb send` works on this database at
// a time. holder names the process in the error others get (ErrLocked).
// The returned function releases the lock; call it exactly once.
//
// Both kinds end when the holder's process dies, so a killed kb send never
// keeps the next one out. PostgreSQL: a session advisory lock on a
// connection kept for the purpose. SQLite: an exclusive flock on a file
// beside the database (kb.db.send-lock), which the kernel drops with the
// process; the locks row only names the holder. Where no lock file can be
// had (a platform without flock), the row itself is the lock: a lease
// renewed every third of its length (WithLockLease), which another process
// may take over once it has run out.
func (s *Store) AcquireSendLock(ctx context.Context, holder string) (release func(context.Context) error, err error) {
	if err := checkText("lock holder", holder, maxHolderLen); err != nil || holder == "" {
		return nil, fmt.Errorf("%w: lock holder must be a short non-empty name", ErrInvalidInput)
	}
	if s.d.name == dialectPostgres {
		return s.acquireAdvisory(ctx, sendLockName, sendLockKey, holder)
	}
	if s.lockFiles != "" {
		f, err := openLockFile(s.lockFiles + "." + sendLockName + "-lock")
		if err == nil {
			return s.acquireFileLock(ctx, f, sendLockName, holder)
		}
		s.log.Warn("no lock file; the send lock falls back to a lease that a killed holder keeps until it runs out",
			"err", err, "lease", s.lockLease)
	}
	return s.acquireLease(ctx, sendLockName, holder)
}

// fileLockToken marks the row of a holder whose authority is the lock
// file. Another row that has not expired belongs to a holder with a lease
// only (a kb without lock files on the same database) and is respected.
const fileLockToken = "file:"

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Store) lockedError(ctx context.Context, name string) error {
	e := &LockedError{Name: name}
	err := s.queryRow(ctx, "SELECT holder, acquired_at FROM locks WHERE name = ?", name).Scan(&e.Holder, scanTime(&e.Since))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return errors.Join(e, err)
	}
	return e
}

// acquireFileLock takes the flock on f inside a write transaction, so
// that contenders take turns: the winner writes its row before anyone
// else may look, and a loser reads the winner's name.
func (s *Store) acquireFileLock(ctx context.Context, f *os.File, name, holder string) (func(context.Context) error, error) {
	token := fileLockToken + randomToken()
	var locked *LockedError
	err := s.tx(ctx, func(t *txn) error {
		locked = nil
		ok, err := tryLockFile(f)
		if err != nil {
			return err
		}
		e := &LockedError{Name: name}
		var other string
		var expires int64
		err = t.queryRow("SELECT holder, acquired_at, token, expires_at FROM locks WHERE name = ?", name).
			Scan(&e.Holder, scanTime(&e.Since), &other, &expires)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := time.Now()
		if !ok || err == nil && !strings.HasPrefix(other, fileLockToken) && expires > now.UnixMicro() {
			locked = e
			return nil
		}
		// Any other row is stale: its holder's flock is gone with it. The
		// lease is kept alive for holders that know only leases.
		_, err = t.exec(`INSERT INTO locks (name, holder, token, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token,
				acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
			name, holder, token, dbTime(now), dbTime(now.Add(s.lockLease)))
		return err
	})
	if err != nil || locked != nil {
		f.Close() // drops the flock, if it was taken
		if err != nil {
			return nil, fmt.Errorf("store: acquire lock %q: %w", name, err)
		}
		return nil, locked
	}
	return s.holdLease(name, holder, token, f), nil
}

func (s *Store) acquireLease(ctx context.Context, name, holder string) (func(context.Context) error, error) {
	token := randomToken()
	var taken bool
	err := s.tx(ctx, func(t *txn) error {
		now := time.Now()
		n, err := affected(t.exec(`INSERT INTO locks (name, holder, token, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token,
				acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
			WHERE locks.expires_at <= ?`,
			name, holder, token, dbTime(now), dbTime(now.Add(s.lockLease)), dbTime(now)))
		taken = n == 1
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: acquire lock %q: %w", name, err)
	}
	if !taken {
		return nil, s.lockedError(ctx, name)
	}
	return s.holdLease(name, holder, token, nil), nil
}

// holdLease renews the lease row held under token until the returned
// release function deletes it and then closes file (the flock), if any.
func (s *Store) holdLease(name, holder, token string, file *os.File) func(context.Context) error {
	var lost atomic.Bool
	hbCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(s.lockLease / 3)
		defer tick.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-tick.C:
			}
			err := s.renewLease(hbCtx, name, token)
			switch {
			case errors.Is(err, ErrLockLost):
				lost.Store(true)
				s.log.Error("lock lease lost", "lock", name, "holder", holder)
				return
			case err != nil && hbCtx.Err() == nil:
				// Try again at the next tick; the lease outlives two misses.
				s.log.Warn("cannot renew lock lease", "lock", name, "err", err)
			}
		}
	}()
	var once sync.Once
	var relErr error
	return func(ctx context.Context) error {
		once.Do(func() {
			stop()
			<-done
			var n int64
			err := s.tx(ctx, func(t *txn) error {
				var err error
				n, err = affected(t.exec("DELETE FROM locks WHERE name = ? AND token = ?", name, token))
				return err
			})
			// The flock goes after the row, so that a row gone missing
			// meanwhile can only mean a lease-only holder took over.
			if file != nil {
				file.Close()
			}
			switch {
			case err != nil:
				relErr = fmt.Errorf("store: release lock %q: %w", name, err)
			case n == 0 || lost.Load():
				relErr = fmt.Errorf("store: release lock %q: %w", name, ErrLockLost)
			}
		})
		return relErr
	}
}

// renewLease extends the lease held under token, or reports ErrLockLost.
func (s *Store) renewLease(ctx context.Context, name, token string) error {
	var n int64
	err := s.tx(ctx, func(t *txn) error {
		var err error
		n, err = affected(t.exec("UPDATE locks SET expires_at = ? WHERE name = ? AND token = ?",
			dbTime(time.Now().Add(s.lockLease)), name, token))
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLockLost
	}
	return nil
}

func (s *Store) acquireAdvisory(ctx context.Context, name string, key int64, holder string) (func(context.Context) error, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: acquire lock %q: %w", name, err)
	}
	token := randomToken()
	locked, err := advisoryTake(ctx, conn, name, key, holder, token)
	if err != nil {
		// Closing the session drops the advisory lock, should it have been
		// taken before the failure.
		discardConn(conn)
		return nil, fmt.Errorf("store: acquire lock %q: %w", name, err)
	}
	if locked != nil {
		conn.Close()
		return nil, locked
	}
	var once sync.Once
	var relErr error
	return func(ctx context.Context) error {
		once.Do(func() {
			var unlocked bool
			if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", key).Scan(&unlocked); err != nil || !unlocked {
				// Never hand a connection that may still hold the lock back
				// to the pool.
				discardConn(conn)
				if err == nil {
					err = ErrLockLost
				}
				relErr = err
			} else {
				conn.Close()
			}
			// The row goes after the lock: a contender failing meanwhile
			// still finds this holder's name, and one that wins has written
			// its own token, which this delete leaves alone.
			if _, err := s.db.ExecContext(ctx, "DELETE FROM locks WHERE name = $1 AND token = $2", name, token); err != nil {
				relErr = errors.Join(relErr, err)
			}
			if relErr != nil {
				relErr = fmt.Errorf("store: release lock %q: %w", name, relErr)
			}
		})
		return relErr
	}, nil
}

// advisoryTake tries the advisory lock inside a transaction that first
// locks the lock's row, so contenders take turns: the winner writes its
// name before anyone else may look, and a loser reports it (the advisory
// lock itself is outside transactions: the winner's could otherwise be
// seen before its row). It returns a *LockedError when another session
// holds the lock.
func advisoryTake(ctx context.Context, conn *sql.Conn, name string, key int64, holder, token string) (*LockedError, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO locks (name, holder, token, acquired_at, expires_at)
		VALUES ($1, '', '', 0, 0) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return nil, err
	}
	e := &LockedError{Name: name}
	if err := tx.QueryRowContext(ctx, "SELECT holder, acquired_at FROM locks WHERE name = $1 FOR UPDATE", name).
		Scan(&e.Holder, scanTime(&e.Since)); err != nil {
		return nil, err
	}
	var ok bool
	if err := tx.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		return nil, err
	}
	if !ok {
		if e.Holder == "" {
			e.Since = time.Time{} // the placeholder row: holder unknown
		}
		return e, nil
	}
	// The row only tells others who holds the lock; the advisory lock is
	// what excludes them.
	now := time.Now().UnixMicro()
	if _, err := tx.ExecContext(ctx, `UPDATE locks SET holder = $2, token = $3, acquired_at = $4, expires_at = $4
		WHERE name = $1`, name, holder, token, now); err != nil {
		return nil, err
	}
	return nil, tx.Commit()
}

// discardConn closes conn's underlying connection instead of pooling it.
func discardConn(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
