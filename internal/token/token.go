// Package token signs and verifies the links sent in emails: confirmation,
// unsubscribe and whitepaper download. A token names a subscriber (its id
// and the random key of its row), a purpose, may expire, and cannot be
// forged without the secret.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"time"
)

// Purpose keeps a token for one action from being replayed for another.
type Purpose byte

const (
	Confirm     Purpose = 'c'
	Unsubscribe Purpose = 'u'
	Whitepaper  Purpose = 'w'
	// Preferences opens a subscriber's preference page (topics, frequency,
	// their data); it never expires, and erasure revokes it with the row.
	Preferences Purpose = 'p'
)

// Errors returned by Verify; callers show readers a different page for each.
var (
	ErrMalformed = errors.New("token: malformed")
	ErrForged    = errors.New("token: bad signature")
	ErrExpired   = errors.New("token: expired")
)

const (
	// Version 1 tokens named only the subscriber id; they are still read
	// for unsubscribe links, which never expire and sit in old emails.
	versionLegacy = 1
	version       = 2
	macLen        = 16 // truncated HMAC-SHA256: 128 bits is plenty against forgery
	MaxKeyLen     = 32 // bytes of a row key
	maxLen        = 128
)

var enc = base64.RawURLEncoding

// Signer issues tokens with the current secret and accepts tokens signed
// with it or with any previous one, so the secret can be rotated without
// breaking the links already in people's inboxes.
type Signer struct {
	secrets []*keyed // current first
}

// keyed is one secret with a pool of its HMACs: a send signs two links per
// recipient, and hmac.New costs more than the MAC itself (it hashes the
// key's pads); a pooled HMAC's Reset restores the keyed state.
type keyed struct {
	pool sync.Pool
}

func newKeyed(secret []byte) *keyed {
	k := &keyed{}
	k.pool.New = func() any { return hmac.New(sha256.New, secret) }
	return k
}

func (k *keyed) mac(body []byte) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte("kb-token\x00"))
	h.Write(body)
	var sum [sha256.Size]byte
	out := h.Sum(sum[:0])[:macLen]
	k.pool.Put(h)
	return out
}

// NewSigner returns a Signer that signs with secret and also verifies with
// previous; no secret may be empty.
func NewSigner(secret []byte, previous ...[]byte) (*Signer, error) {
	s := &Signer{}
	for _, sec := range append([][]byte{secret}, previous...) {
		if len(sec) == 0 {
			return nil, errors.New("token: empty secret")
		}
		s.secrets = append(s.secrets, newKeyed(append([]byte(nil), sec...)))
	}
	return s, nil
}

// Claims is what a token asserts.
type Claims struct {
	Purpose      Purpose
	SubscriberID int64
	// Key is the random key of the subscriber's row: an id alone could
	// name someone else after a restore or once an id is handed out again.
	// Callers check it against the row; it is empty only for Legacy tokens.
	Key string
	// Expires is the zero time for tokens that never expire (unsubscribe).
	Expires time.Time
	// Legacy marks a version 1 unsubscribe token, issued before rows had
	// keys: it names the subscriber by id alone.
	Legacy bool
}

// Sign returns a URL-safe token for c, signed with the current secret. A
// key longer than MaxKeyLen is cut (the store's keys are far shorter).
func (s *Signer) Sign(c Claims) string {
	key := c.Key[:min(len(c.Key), MaxKeyLen)]
	buf := make([]byte, 0, 3+len(key)+2*binary.MaxVarintLen64+macLen)
	buf = append(buf, version, byte(c.Purpose))
	buf = binary.AppendUvarint(buf, uint64(c.SubscriberID))
	buf = append(buf, byte(len(key)))
	buf = append(buf, key...)
	var exp uint64
	if !c.Expires.IsZero() {
		exp = uint64(c.Expires.Unix())
	}
	buf = binary.AppendUvarint(buf, exp)
	buf = append(buf, s.secrets[0].mac(buf)...)
	return enc.EncodeToString(buf)
}

// Verify checks tok for purpose p at time now and returns its claims.
func (s *Signer) Verify(tok string, p Purpose, now time.Time) (Claims, error) {
	if tok == "" || len(tok) > maxLen {
		return Claims{}, ErrMalformed
	}
	raw, err := enc.DecodeString(tok)
	if err != nil || len(raw) < 2+2+macLen || (raw[0] != version && raw[0] != versionLegacy) {
		return Claims{}, ErrMalformed
	}
	body, sig := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !s.signed(body, sig) {
		return Claims{}, ErrForged
	}
	c := Claims{Purpose: Purpose(body[1]), Legacy: body[0] == versionLegacy}
	if c.Purpose != p || (c.Legacy && p != Unsubscribe) {
		// Signed by us but for another action (or, unkeyed, for an action
		// other than unsubscribing): treat as forged for this one.
		return Claims{}, ErrForged
	}
	rest := body[2:]
	id, n := binary.Uvarint(rest)
	if n <= 0 || id == 0 || id > 1<<62 {
		return Claims{}, ErrMalformed
	}
	rest = rest[n:]
	if !c.Legacy {
		if len(rest) == 0 || int(rest[0]) > MaxKeyLen || len(rest) < 1+int(rest[0]) || rest[0] == 0 {
			return Claims{}, ErrMalformed
		}
		c.Key, rest = string(rest[1:1+rest[0]]), rest[1+rest[0]:]
	}
	exp, n := binary.Uvarint(rest)
	if n <= 0 || n != len(rest) || exp > 1<<40 {
		return Claims{}, ErrMalformed
	}
	c.SubscriberID = int64(id)
	if exp != 0 {
		c.Expires = time.Unix(int64(exp), 0).UTC()
		if !now.Before(c.Expires) {
			return c, ErrExpired
		}
	}
	return c, nil
}

// signed reports whether sig is body's MAC under any of the secrets.
func (s *Signer) signed(body, sig []byte) bool {
	for _, sec := range s.secrets {
		if hmac.Equal(sig, sec.mac(body)) {
			return true
		}
	}
	return false
}

// DeriveKey returns a key for another use of the secret (named by
// purpose), so one KB_SECRET can serve several unrelated MACs without
// one's output ever standing in for another's.
func DeriveKey(secret []byte, purpose string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("kb-derive\x00" + purpose))
	return h.Sum(nil)
}

// KeyMatches compares a token's key with the row's in constant time.
func KeyMatches(c Claims, rowKey string) bool {
	if c.Legacy {
		return true
	}
	return rowKey != "" && hmac.Equal([]byte(c.Key), []byte(rowKey))
}
