// Package atomicfile writes a file so that readers see the old content or
// the new, never a part: a temporary file in the same directory, renamed.
package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
)

// Write replaces name with data (mode 0644).
func Write(name string, data []byte) error {
	return WriteFrom(name, bytes.NewReader(data))
}

// WriteFrom replaces name with what r reads (mode 0644).
func WriteFrom(name string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing there
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// WriteIfChanged is Write, unless name already holds data: then the file,
// and its modification time, stay as they are.
func WriteIfChanged(name string, data []byte) error {
	if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return Write(name, data)
}
