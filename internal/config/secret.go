package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// devSecretFile is where a generated development secret is kept, so that
// links in emails keep working across restarts of a local install.
const devSecretFile = "secret.dev"

// minSecretLen keeps KB_SECRET long enough for HMAC-SHA256 to be unguessable.
const minSecretLen = 32

// LoadSecret returns KB_SECRET, or a development secret stored in DataDir
// (created on first use). generated reports that the development secret is
// in use, which production installs must not rely on.
func (e Env) LoadSecret() (secret []byte, generated bool, err error) {
	if e.Secret != "" {
		if len(e.Secret) < minSecretLen {
			return nil, false, fmt.Errorf("KB_SECRET must be at least %d characters", minSecretLen)
		}
		return []byte(e.Secret), false, nil
	}
	path := filepath.Join(e.DataDir, devSecretFile)
	raw, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(raw))
		if len(s) < minSecretLen {
			return nil, true, fmt.Errorf("%s: development secret is too short; delete the file to regenerate it", path)
		}
		return []byte(s), true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, true, fmt.Errorf("read development secret: %w", err)
	}
	if err := os.MkdirAll(e.DataDir, 0o750); err != nil {
		return nil, true, fmt.Errorf("create data dir: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, true, err
	}
	s := hex.EncodeToString(buf)
	// O_EXCL: if another process created it meanwhile, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return e.LoadSecret()
	}
	if err != nil {
		return nil, true, fmt.Errorf("create development secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, true, fmt.Errorf("write development secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, true, fmt.Errorf("write development secret: %w", err)
	}
	return []byte(s), true, nil
}
