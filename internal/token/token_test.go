package token

import (
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

	confirm := s.Sign(Claims{Purpose: Confirm, SubscriberID: 42, Expires: now.Add(72 * time.Hour)})
	unsub := s.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 1 << 40})
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
		{"other secret", other.Sign(Claims{Purpose: Confirm, SubscriberID: 42}), Confirm, now, 0, ErrForged},
		{"empty", "", Confirm, now, 0, ErrMalformed},
		{"not base64", "!!!!", Confirm, now, 0, ErrMalformed},
		{"too long", strings.Repeat("A", 1000), Confirm, now, 0, ErrMalformed},
		{"truncated", confirm[:len(confirm)-4], Confirm, now, 0, ErrForged},
		{"zero id", s.Sign(Claims{Purpose: Confirm}), Confirm, now, 0, ErrMalformed},
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

func TestTamperedByteIsRejected(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	tok := s.Sign(Claims{Purpose: Unsubscribe, SubscriberID: 7})
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
	f.Add(s.Sign(Claims{Purpose: Confirm, SubscriberID: 1, Expires: time.Unix(2e9, 0)}))
	f.Add("AQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, Confirm, time.Unix(1e9, 0))
		if err == nil && c.SubscriberID <= 0 {
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
		{l.Confirm(5, issued), ConfirmPath, Confirm, issued.Add(71 * time.Hour), nil},
		{l.Confirm(5, issued), ConfirmPath, Confirm, issued.Add(73 * time.Hour), ErrExpired},
		{l.Unsubscribe(5), UnsubscribePath, Unsubscribe, issued.AddDate(10, 0, 0), nil},
		{l.Whitepaper(5, issued.Add(WhitepaperTTL)), WhitepaperPath, Whitepaper, issued.Add(6 * 24 * time.Hour), nil},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.link)
		if err != nil || u.Scheme != "https" || u.Host != "wiedza.example.pl" || u.Path != tt.path {
			t.Fatalf("link %q: %v", tt.link, err)
		}
		c, err := s.Verify(u.Query().Get("token"), tt.purpose, tt.at)
		if !errors.Is(err, tt.wantErr) || (err == nil && c.SubscriberID != 5) {
			t.Errorf("%s: claims %+v, err %v; want err %v", tt.link, c, err, tt.wantErr)
		}
	}
}
