package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteIfChanged(t *testing.T) {
	name := filepath.Join(t.TempDir(), "a.json")
	if err := Write(name, []byte("one")); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(name, old, old); err != nil {
		t.Fatal(err)
	}
	if err := WriteIfChanged(name, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(name); !st.ModTime().Equal(old) {
		t.Errorf("unchanged content rewritten: mtime %v, want %v", st.ModTime(), old)
	}
	if err := WriteIfChanged(name, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(name); string(b) != "two" {
		t.Errorf("content %q, want two", b)
	}
	if st, _ := os.Stat(name); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(name), ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
