//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// openLockFile opens (creating it) the file whose flock is a lock. The file
// stays: deleting it could let two processes lock two different files of
// one name.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}

// tryLockFile takes an exclusive flock on f without waiting. A flock
// belongs to the open file, so two opens conflict even in one process, and
// the kernel drops it when the process dies however it dies.
func tryLockFile(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		default:
			return false, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
}
