package site

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/afero"
)

// recordingFs is the file system Hugo publishes to: the OS file system,
// noting every file opened for writing, so that publish knows which files
// of a reused staging dir belong to this build.
type recordingFs struct {
	afero.Fs
	mu      sync.Mutex
	written map[string]bool // absolute paths
}

func newRecordingFs() *recordingFs {
	return &recordingFs{Fs: afero.NewOsFs(), written: map[string]bool{}}
}

func (r *recordingFs) note(name string) {
	r.mu.Lock()
	r.written[filepath.Clean(name)] = true
	r.mu.Unlock()
}

func (r *recordingFs) Create(name string) (afero.File, error) {
	f, err := r.Fs.Create(name)
	if err == nil {
		r.note(name)
	}
	return f, err
}

func (r *recordingFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := r.Fs.OpenFile(name, flag, perm)
	if err == nil && flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC) != 0 {
		r.note(name)
	}
	return f, err
}

// builtFiles lists what the build put into dir (slash paths relative to
// it): the files Hugo wrote and every static file, including those the
// static sync left alone because an identical copy was already there.
func (s *hugoSite) builtFiles(dir string) (map[string]bool, error) {
	out := map[string]bool{}
	s.rec.mu.Lock()
	for abs := range s.rec.written {
		if rel, err := filepath.Rel(dir, abs); err == nil && within(abs, dir) {
			out[filepath.ToSlash(rel)] = true
		}
	}
	s.rec.mu.Unlock()
	for _, sfs := range s.h.BaseFs.SourceFilesystems.Static {
		err := afero.Walk(sfs.Fs, string(filepath.Separator), func(path string, info fs.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			out[strings.TrimPrefix(filepath.ToSlash(filepath.Join(sfs.PublishFolder, path)), "/")] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
