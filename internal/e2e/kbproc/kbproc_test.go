package kbproc

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartServesAndRunShares(t *testing.T) {
	o := Options{}
	o.defaults(t)
	s := Start(t, o)
	res, err := http.Get(s.URL + "/")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %v %v", res, err)
	}
	res.Body.Close()
	out, errOut, err := Run(t, o, "subscribers", "stats")
	if err != nil || !strings.Contains(out, "confirmed") {
		t.Fatalf("kb subscribers stats: %v\n%s%s", err, out, errOut)
	}
}

// TestSendReadsASiteItCannotWrite: kb send only reads the site (it runs
// under a systemd unit with a read-only checkout), so it must not take
// Hugo's build lock there. Hugo skips that lock in test binaries, hence a
// check through the real binary.
func TestSendReadsASiteItCannotWrite(t *testing.T) {
	root := t.TempDir()
	CopySite(t, root)
	o := Options{Root: root}
	out := filepath.Join(t.TempDir(), "public")
	if _, errOut, err := Run(t, o, "build", "--out", out); err != nil {
		t.Fatalf("kb build: %v\n%s", err, errOut)
	}
	lock := filepath.Join(root, ".hugo_build.lock")
	os.Remove(lock) // the build may take it; sending must not
	if stdout, errOut, err := Run(t, o, "send", "--dry-run", "--out", out); err != nil {
		t.Fatalf("kb send --dry-run: %v\n%s%s", err, stdout, errOut)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatalf("kb send created %s", lock)
	}
}
