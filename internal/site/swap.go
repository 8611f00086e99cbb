package site

import (
	"errors"
	"io/fs"
	"os"
)

// swapByRename moves the old publish dir aside, then staging into place;
// for a moment the publish dir does not exist.
func swapByRename(staging, publishDir string) (string, error) {
	trash := staging + ".old"
	if err := os.Rename(publishDir, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", os.Rename(staging, publishDir)
		}
		return "", err
	}
	if err := os.Rename(staging, publishDir); err != nil {
		_ = os.Rename(trash, publishDir) // put the old site back
		return "", err
	}
	return trash, nil
}
