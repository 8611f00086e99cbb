package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// eachDSN runs fn with a fresh database of each backend, so a test can open
// it twice, as two processes would.
func eachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite:"+filepath.Join(t.TempDir(), "kb.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, testPostgresDSN(t)) })
}

func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(ctxT(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSendLockExcludesOtherProcesses(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		ctx := ctxT(t)
		a, b := openDSN(t, dsn), openDSN(t, dsn)
		releaseA, err := a.AcquireSendLock(ctx, "kb send (pid 100)")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*Store{a, b} { // neither another process nor the same one
			_, err := s.AcquireSendLock(ctx, "kb send (pid 200)")
			var locked *LockedError
			if !errors.Is(err, ErrLocked) || !errors.As(err, &locked) || locked.Holder != "kb send (pid 100)" || locked.Since.IsZero() {
				t.Fatalf("second acquire: %v, want ErrLocked naming pid 100", err)
			}
		}
		if err := releaseA(ctx); err != nil {
			t.Fatal(err)
		}
		if err := releaseA(ctx); err != nil {
			t.Errorf("second release: %v", err)
		}
		releaseB, err := b.AcquireSendLock(ctx, "kb send (pid 200)")
		if err != nil {
			t.Fatalf("acquire after release: %v", err)
		}
		if err := releaseB(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a.AcquireSendLock(ctx, ""); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("empty holder: %v", err)
		}
	})
}

// Of many processes racing for the lock, exactly one gets it.
func TestSendLockRace(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		stores := []*Store{openDSN(t, dsn), openDSN(t, dsn), openDSN(t, dsn)}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			won      int
			releases []func(context.Context) error
		)
		for i := range 12 {
			wg.Go(func() {
				rel, err := stores[i%len(stores)].AcquireSendLock(ctxT(t), fmt.Sprint("racer", i))
				switch {
				case err == nil:
					mu.Lock()
					won++
					releases = append(releases, rel)
					mu.Unlock()
				case !errors.Is(err, ErrLocked):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d processes hold the lock, want 1", won)
		}
		for _, rel := range releases {
			rel(ctxT(t))
		}
	})
}

// Two processes starting together: the one that loses always learns who
// won. (On PostgreSQL the advisory lock is visible before the winner's row
// is; the loser must not read the row in between.)
func TestSendLockErrorNamesTheWinner(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		stores := []*Store{openDSN(t, dsn), openDSN(t, dsn)}
		names := []string{"kb send (pid 100)", "kb send (pid 200)"}
		for round := range 100 {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			releases := make([]func(context.Context) error, 2)
			for i, s := range stores {
				wg.Go(func() { releases[i], errs[i] = s.AcquireSendLock(ctxT(t), names[i]) })
			}
			wg.Wait()
			for i := range 2 {
				if errs[i] == nil {
					continue
				}
				var locked *LockedError
				if !errors.As(errs[i], &locked) || locked.Holder != names[1-i] || locked.Since.IsZero() {
					t.Fatalf("round %d: %s got %v, want ErrLocked naming %s", round, names[i], errs[i], names[1-i])
				}
			}
			for _, rel := range releases {
				if rel != nil {
					if err := rel(ctxT(t)); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}

// SQLite without lock files: a lease whose holder stopped renewing it can
// be taken over, and the old holder learns that it lost the lock.
func TestSQLiteLeaseTakeover(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "kb.db")
	a, b := openLeaseOnly(t, dsn), openLeaseOnly(t, dsn)
	ctx := ctxT(t)
	releaseA, err := a.AcquireSendLock(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	var token string
	var expires int64
	a.queryRow(ctx, "SELECT token, expires_at FROM locks WHERE name = 'send'").Scan(&token, &expires)
	if err := a.renewLease(ctx, "send", token); err != nil {
		t.Fatalf("renew: %v", err)
	}
	var renewed int64
	a.queryRow(ctx, "SELECT expires_at FROM locks WHERE name = 'send'").Scan(&renewed)
	if renewed < expires {
		t.Errorf("renewal moved the lease from %d back to %d", expires, renewed)
	}
	// A stalls past its lease (simulated by ageing the row).
	if err := a.tx(ctx, func(t *txn) error {
		_, err := t.exec("UPDATE locks SET expires_at = ? WHERE name = 'send'", time.Now().Add(-time.Second).UnixMicro())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	releaseB, err := b.AcquireSendLock(ctx, "B")
	if err != nil {
		t.Fatalf("take over an expired lease: %v", err)
	}
	if err := a.renewLease(ctx, "send", token); !errors.Is(err, ErrLockLost) {
		t.Errorf("renewing a lost lease: %v, want ErrLockLost", err)
	}
	if err := releaseA(ctx); !errors.Is(err, ErrLockLost) {
		t.Errorf("releasing a lost lock: %v, want ErrLockLost", err)
	}
	if _, err := a.AcquireSendLock(ctx, "A again"); !errors.Is(err, ErrLocked) {
		t.Errorf("A's release must not free B's lock: %v", err)
	}
	if err := releaseB(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejectsShortLease(t *testing.T) {
	if _, err := Open(ctxT(t), "sqlite:"+filepath.Join(t.TempDir(), "kb.db"), WithLockLease(time.Millisecond)); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("lease of 1ms: %v", err)
	}
}

// openLeaseOnly opens dsn as a kb without lock files would use it (a
// platform without flock): the send lock is the lease row alone.
func openLeaseOnly(t *testing.T, dsn string) *Store {
	s := openDSN(t, dsn)
	s.lockFiles = ""
	return s
}

// ageLease makes the send lock's lease look run out, as if its holder had
// stalled past it.
func ageLease(t *testing.T, s *Store) {
	t.Helper()
	if err := s.tx(ctxT(t), func(t *txn) error {
		_, err := t.exec("UPDATE locks SET expires_at = ? WHERE name = 'send'", time.Now().Add(-time.Second).UnixMicro())
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// SQLite: the lock file, not the row, decides. A holder that stalls past
// its lease still holds the lock for as long as its process lives.
func TestSQLiteFileLockOutlivesItsLease(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "kb.db")
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := ctxT(t)
	releaseA, err := a.AcquireSendLock(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(strings.TrimPrefix(dsn, "sqlite:") + ".send-lock"); err != nil {
		t.Fatalf("no lock file beside the database: %v", err)
	}
	ageLease(t, a)
	var locked *LockedError
	if _, err := b.AcquireSendLock(ctx, "B"); !errors.As(err, &locked) || locked.Holder != "A" {
		t.Fatalf("B while A lives: %v, want ErrLocked naming A", err)
	}
	if err := releaseA(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	releaseB, err := b.AcquireSendLock(ctx, "B")
	if err != nil {
		t.Fatalf("B after A released: %v", err)
	}
	releaseB(ctx)
}

// Mixed processes on one SQLite file, with and without lock files (a
// platform without flock): each respects the other's lock.
func TestSQLiteFileLockAndLeaseOnlyExcludeEachOther(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "kb.db")
	file, lease := openDSN(t, dsn), openLeaseOnly(t, dsn)
	ctx := ctxT(t)

	release, err := lease.AcquireSendLock(ctx, "lease only")
	if err != nil {
		t.Fatal(err)
	}
	var locked *LockedError
	if _, err := file.AcquireSendLock(ctx, "file"); !errors.As(err, &locked) || locked.Holder != "lease only" {
		t.Fatalf("while a lease-only holder's lease runs: %v, want ErrLocked naming it", err)
	}
	ageLease(t, lease) // the lease-only holder died; its lease ran out
	releaseFile, err := file.AcquireSendLock(ctx, "file")
	if err != nil {
		t.Fatalf("after the lease ran out: %v", err)
	}
	if err := release(ctx); !errors.Is(err, ErrLockLost) {
		t.Errorf("the lease-only holder's release: %v, want ErrLockLost", err)
	}
	if _, err := lease.AcquireSendLock(ctx, "lease only"); !errors.As(err, &locked) || locked.Holder != "file" {
		t.Fatalf("lease-only while the file lock is held: %v, want ErrLocked naming file", err)
	}
	if err := releaseFile(ctx); err != nil {
		t.Fatal(err)
	}
}

// envLockChild makes the test binary a helper process that takes the send
// lock on the database it names, says so, and waits to be killed.
const envLockChild = "KB_STORE_TEST_LOCK_CHILD"

func TestSendLockHelperProcess(t *testing.T) {
	dsn := os.Getenv(envLockChild)
	if dsn == "" {
		t.Skip("helper process of TestKilledHolderDoesNotBlock")
	}
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireSendLock(context.Background(), fmt.Sprintf("child:%d", os.Getpid())); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	select {} // until SIGKILL
}

// A process killed while it holds the send lock does not keep the next
// one out: the next acquire succeeds at once.
func TestKilledHolderDoesNotBlock(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "kb.db")
	s := openDSN(t, dsn)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSendLockHelperProcess$")
	cmd.Env = append(os.Environ(), envLockChild+"="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v\n%s", line, err, stderr.String())
	}
	var locked *LockedError
	if _, err := s.AcquireSendLock(ctxT(t), "parent"); !errors.As(err, &locked) || locked.Holder != fmt.Sprintf("child:%d", cmd.Process.Pid) {
		t.Fatalf("while the child holds the lock: %v, want ErrLocked naming it", err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	release, err := s.AcquireSendLock(ctxT(t), "parent")
	if err != nil {
		t.Fatalf("right after the holder was killed: %v", err)
	}
	if err := release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}
