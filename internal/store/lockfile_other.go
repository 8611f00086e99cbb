//go:build !unix

package store

import (
	"errors"
	"os"
)

// Without flock the send lock is a lease row (see AcquireSendLock).
func openLockFile(string) (*os.File, error) { return nil, errors.New("no flock on this platform") }

func tryLockFile(*os.File) (bool, error) { return false, errors.New("no flock on this platform") }
