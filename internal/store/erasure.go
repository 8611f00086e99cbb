package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/kbpress/kb/internal/mailaddr"
)

// Erasure tombstones. After `kb subscribers delete` the erased table keeps
// one value per person so that a later import cannot bring them back. It is
// an HMAC of the mailbox key (mailaddr.Mailbox) under a key derived from
// KB_SECRET: without the secret nobody can test a guessed address against
// it. Tombstones written before (a bare SHA-256 of the lower-cased address)
// cannot be re-keyed, since the addresses are gone: they are still checked
// as they are.

// tombstonePrefix marks keyed tombstones (a bare SHA-256 is 64 hex digits).
const tombstonePrefix = "k1:"

// WithErasureKeys sets the keys of erasure tombstones: the first keys new
// ones, every one is checked (keys derived from retired secrets keep their
// tombstones working). Erase refuses to run without a key.
func WithErasureKeys(keys ...[]byte) Option {
	return func(o *options) { o.erasureKeys = keys }
}

// tombstone is the value written for a new erasure of email.
func (s *Store) tombstone(email string) (string, error) {
	if len(s.erasureKeys) == 0 || len(s.erasureKeys[0]) == 0 {
		return "", fmt.Errorf("%w: no erasure key (the store was opened without WithErasureKeys)", ErrInvalidInput)
	}
	return keyedTombstone(s.erasureKeys[0], email), nil
}

// tombstones are every value under which email may have been erased.
func (s *Store) tombstones(email string) []any {
	vals := []any{legacyTombstone(mailaddr.Key(email))}
	for _, k := range s.erasureKeys {
		vals = append(vals, keyedTombstone(k, email))
	}
	return vals
}

// erasedCheck is the condition and arguments that find email's tombstone.
func (s *Store) erasedCheck(email string) (string, []any) {
	vals := s.tombstones(email)
	q := "SELECT 1 FROM erased WHERE email_hash IN (?" + repeatPlaceholders(len(vals)-1) + ")"
	return q, vals
}

func repeatPlaceholders(n int) string {
	b := make([]byte, 0, 3*n)
	for range n {
		b = append(b, ", ?"...)
	}
	return string(b)
}

func keyedTombstone(key []byte, email string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(mailaddr.Mailbox(email)))
	return tombstonePrefix + hex.EncodeToString(h.Sum(nil))
}

// legacyTombstone is what kb wrote before tombstones were keyed.
func legacyTombstone(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
