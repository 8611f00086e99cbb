package mail

import (
	"os"

	"golang.org/x/sys/unix"
)

// flushDir makes every write and rename in dir's file system durable with
// one syncfs(2), however many files were written since the last one.
func flushDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

// perFileSync is false where flushDir covers file contents too.
const perFileSync = false
