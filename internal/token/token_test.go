package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s, err := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSigner([]byte("another secret, just as long as!"))

	confirm := s.Sign(Claims{Purpose: Confirm, SubscriberID: 42, Key: "k42", Expires: now.Add(72 * time.Hour)})
	unsub := s.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 1 << 40, Key: "kbig"})
	tests := []struct {
		name    string
		tok     string
		purpose Purpose
		at      time.Time
		wantID  int64
		wantErr error
	}{
		{"valid confirm", confirm, Confirm, now, 42, nil},
		{"confirm just before expiry", confirm, Confirm, now.Add(72*time.Hour - time.Second), 42, nil},
		{"confirm at expiry", confirm, Confirm, now.Add(72 * time.Hour), 0, ErrExpired},
		{"unsubscribe never expires", unsub, Unsubscribe, now.AddDate(30, 0, 0), 1 << 40, nil},
		{"wrong purpose", confirm, Unsubscribe, now, 0, ErrForged},
		{"other secret", other.Sign(Claims{Purpose: Confirm, SubscriberID: 42, Key: "k"}), Confirm, now, 0, ErrForged},
		{"no key", s.Sign(Claims{Purpose: Confirm, SubscriberID: 42, Expires: now.Add(time.Hour)}), Confirm, now, 0, ErrMalformed},
		{"legacy unsubscribe still works", legacyToken(t, "0123456789abcdef0123456789abcdef", Unsubscribe, 9, 0), Unsubscribe, now, 9, nil},
		{"legacy confirm refused", legacyToken(t, "0123456789abcdef0123456789abcdef", Confirm, 9, now.Add(time.Hour).Unix()), Confirm, now, 0, ErrForged},
		{"legacy whitepaper refused", legacyToken(t, "0123456789abcdef0123456789abcdef", Whitepaper, 9, now.Add(time.Hour).Unix()), Whitepaper, now, 0, ErrForged},
		{"empty", "", Confirm, now, 0, ErrMalformed},
		{"not base64", "!!!!", Confirm, now, 0, ErrMalformed},
		{"too long", strings.Repeat("A", 1000), Confirm, now, 0, ErrMalformed},
		{"truncated", confirm[:len(confirm)-4], Confirm, now, 0, ErrForged},
		{"zero id", s.Sign(Claims{Purpose: Confirm, Key: "k"}), Confirm, now, 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Verify(tt.tok, tt.purpose, tt.at)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && c.SubscriberID != tt.wantID {
				t.Fatalf("SubscriberID = %d, want %d", c.SubscriberID, tt.wantID)
			}
		})
	}
}

// legacyToken builds a version 1 token (id, no row key) as kb signed them
// before row keys existed.
func legacyToken(t *testing.T, secret string, p Purpose, id int64, exp int64) string {
	t.Helper()
	buf := []byte{versionLegacy, byte(p)}
	buf = binary.AppendUvarint(buf, uint64(id))
	buf = binary.AppendUvarint(buf, uint64(exp))
	// The MAC computed here, not by the package: an oracle of its own.
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte("kb-token\x00"))
	h.Write(buf)
	return enc.EncodeToString(append(buf, h.Sum(nil)[:macLen]...))
}

func TestKeyTravelsAndIsChecked(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	c, err := s.Verify(s.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 3, Key: "9f86d081884c7d65"}), Unsubscribe, time.Now())
	if err != nil || c.Key != "9f86d081884c7d65" || c.Legacy {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if !KeyMatches(c, "9f86d081884c7d65") || KeyMatches(c, "9f86d081884c7d66") || KeyMatches(c, "") {
		t.Fatal("KeyMatches does not compare the row's key")
	}
	legacy, err := s.Verify(legacyToken(t, "0123456789abcdef0123456789abcdef", Unsubscribe, 3, 0), Unsubscribe, time.Now())
	if err != nil || !legacy.Legacy || !KeyMatches(legacy, "anything") {
		t.Fatalf("legacy claims %+v, %v", legacy, err)
	}
}

func TestRotation(t *testing.T) {
	old, _ := NewSigner([]byte("the old secret, thirty-two bytes"))
	rotated, err := NewSigner([]byte("the new secret, thirty-two bytes"), []byte("the old secret, thirty-two bytes"))
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := NewSigner([]byte("the new secret, thirty-two bytes"))
	oldTok := old.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 5, Key: "k"})
	if _, err := rotated.Verify(oldTok, Unsubscribe, time.Now()); err != nil {
		t.Fatalf("a link signed with the previous secret: %v", err)
	}
	if _, err := fresh.Verify(oldTok, Unsubscribe, time.Now()); !errors.Is(err, ErrForged) {
		t.Fatalf("without KB_SECRET_PREVIOUS the old link verified: %v", err)
	}
	newTok := rotated.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 5, Key: "k"})
	if _, err := fresh.Verify(newTok, Unsubscribe, time.Now()); err != nil {
		t.Fatalf("new links are not signed with the current secret: %v", err)
	}
	if _, err := NewSigner([]byte("x"), nil); err == nil {
		t.Fatal("an empty previous secret was accepted")
	}
}

func TestTamperedByteIsRejected(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	tok := s.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 7, Key: "abc"})
	raw, _ := enc.DecodeString(tok)
	for i := range raw {
		mod := append([]byte(nil), raw...)
		mod[i] ^= 0x01
		if _, err := s.Verify(enc.EncodeToString(mod), Unsubscribe, time.Now()); err == nil {
			t.Fatalf("flipping byte %d still verified", i)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(s.Sign(Claims{Purpose: Confirm, SubscriberID: 1, Key: "k", Expires: time.Unix(2e9, 0)}))
	f.Add("AQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, Confirm, time.Unix(1e9, 0))
		if err == nil && (c.SubscriberID <= 0 || c.Key == "" || c.Legacy) {
			t.Fatalf("verified a token with id %d", c.SubscriberID)
		}
	})
}

func TestLinksVerify(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	l := NewLinks(s, "https://wiedza.example.pl/")
	issued := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		link    string
		path    string
		purpose Purpose
		at      time.Time
		wantErr error
	}{
		{l.Confirm(5, "k", issued), ConfirmPath, Confirm, issued.Add(71 * time.Hour), nil},
		{l.Confirm(5, "k", issued), ConfirmPath, Confirm, issued.Add(73 * time.Hour), ErrExpired},
		{l.Unsubscribe(5, "k"), UnsubscribePath, Unsubscribe, issued.AddDate(10, 0, 0), nil},
		{l.Whitepaper(5, "k", issued.Add(WhitepaperTTL)), WhitepaperPath, Whitepaper, issued.Add(6 * 24 * time.Hour), nil},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.link)
		if err != nil || u.Scheme != "https" || u.Host != "wiedza.example.pl" || u.Path != tt.path {
			t.Fatalf("link %q: %v", tt.link, err)
		}
		c, err := s.Verify(u.Query().Get("token"), tt.purpose, tt.at)
		if !errors.Is(err, tt.wantErr) || (err == nil && (c.SubscriberID != 5 || c.Key != "k")) {
			t.Errorf("%s: claims %+v, err %v; want err %v", tt.link, c, err, tt.wantErr)
		}
	}
}

// TestSignConcurrently signs and verifies from many goroutines at once:
// the pooled HMACs must never mix two messages.
func TestSignConcurrently(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"), []byte("previous-secret-previous-secret!"))
	want := s.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 7, Key: "k7"})
	done := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 500 {
				id := int64(g*1000 + i + 1)
				tok := s.Sign(Claims{Purpose: Unsubscribe, SubscriberID: id, Key: "key"})
				c, err := s.Verify(tok, Unsubscribe, time.Now())
				if err == nil && c.SubscriberID != id {
					err = errors.New("claims of another token")
				}
				if err == nil && s.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 7, Key: "k7"}) != want {
					err = errors.New("the same claims signed differently")
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkSign is the cost of one link's token (a send signs two per
// recipient).
func BenchmarkSign(b *testing.B) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	c := Claims{Purpose: Unsubscribe, SubscriberID: 123456, Key: "9f86d081884c7d65"}
	for b.Loop() {
		s.Sign(c)
	}
}
