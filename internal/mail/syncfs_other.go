//go:build !linux

package mail

// flushDir makes the directory's renames durable; file contents were
// synced one by one (perFileSync), as there is no syncfs(2) here.
func flushDir(dir string) error { return syncDir(dir) }

const perFileSync = true
