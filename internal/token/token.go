// Package token signs and verifies the links sent in emails: confirmation,
// unsubscribe and whitepaper download. A token names a subscriber and a
// purpose, may expire, and cannot be forged without the secret.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Purpose keeps a token for one action from being replayed for another.
type Purpose byte

const (
	Confirm     Purpose = 'c'
	Unsubscribe Purpose = 'u'
	Whitepaper  Purpose = 'w'
)

// Errors returned by Verify; callers show readers a different page for each.
var (
	ErrMalformed = errors.New("token: malformed")
	ErrForged    = errors.New("token: bad signature")
	ErrExpired   = errors.New("token: expired")
)

const (
	version = 1
	macLen  = 16 // truncated HMAC-SHA256: 128 bits is plenty against forgery
	maxLen  = 64 // longest valid token in base64, with room to spare
)

var enc = base64.RawURLEncoding

// Signer issues and checks tokens with one secret.
type Signer struct {
	secret []byte
}

// NewSigner returns a Signer; the secret must not be empty.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) == 0 {
		return nil, errors.New("token: empty secret")
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

// Claims is what a token asserts.
type Claims struct {
	Purpose      Purpose
	SubscriberID int64
	// Expires is the zero time for tokens that never expire (unsubscribe).
	Expires time.Time
}

// Sign returns a URL-safe token for c.
func (s *Signer) Sign(c Claims) string {
	buf := make([]byte, 0, 2+2*binary.MaxVarintLen64+macLen)
	buf = append(buf, version, byte(c.Purpose))
	buf = binary.AppendUvarint(buf, uint64(c.SubscriberID))
	var exp uint64
	if !c.Expires.IsZero() {
		exp = uint64(c.Expires.Unix())
	}
	buf = binary.AppendUvarint(buf, exp)
	buf = append(buf, s.mac(buf)...)
	return enc.EncodeToString(buf)
}

// Verify checks tok for purpose p at time now and returns its claims.
func (s *Signer) Verify(tok string, p Purpose, now time.Time) (Claims, error) {
	if tok == "" || len(tok) > maxLen {
		return Claims{}, ErrMalformed
	}
	raw, err := enc.DecodeString(tok)
	if err != nil || len(raw) < 2+2+macLen || raw[0] != version {
		return Claims{}, ErrMalformed
	}
	body, mac := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !hmac.Equal(mac, s.mac(body)) {
		return Claims{}, ErrForged
	}
	c := Claims{Purpose: Purpose(body[1])}
	if c.Purpose != p {
		// Signed by us but for another action: treat as forged for this one.
		return Claims{}, ErrForged
	}
	rest := body[2:]
	id, n := binary.Uvarint(rest)
	if n <= 0 || id == 0 || id > 1<<62 {
		return Claims{}, ErrMalformed
	}
	rest = rest[n:]
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

func (s *Signer) mac(body []byte) []byte {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte("kb-token\x00"))
	h.Write(body)
	return h.Sum(nil)[:macLen]
}
