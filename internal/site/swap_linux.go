package site

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// swapDirs puts staging at publishDir in one atomic step (renameat2
// RENAME_EXCHANGE), so a server never finds the directory missing. It
// returns where the previous build now is ("" when there was none).
func swapDirs(staging, publishDir string) (string, error) {
	err := unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, publishDir, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return staging, nil
	case errors.Is(err, unix.ENOENT):
		// No previous build.
		return "", os.Rename(staging, publishDir)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		// The file system cannot exchange; fall back to two renames.
		return swapByRename(staging, publishDir)
	default:
		return "", err
	}
}
