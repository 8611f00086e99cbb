package mail

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/mailguntest"
)

func TestSuppressionsPagesThroughEveryList(t *testing.T) {
	srv := mailguntest.New()
	t.Cleanup(srv.Close)
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	var bounces []mailguntest.Suppressed
	for i := range 2345 { // three pages of 1,000
		bounces = append(bounces, mailguntest.Suppressed{Address: fmt.Sprintf("b%04d@example.com", i), At: at, Code: "550", Error: "no such user"})
	}
	srv.Suppress(mailguntest.ListBounces, bounces...)
	srv.Suppress(mailguntest.ListComplaints, mailguntest.Suppressed{Address: "spam@example.com", At: at})
	srv.Suppress(mailguntest.ListUnsubscribes, mailguntest.Suppressed{Address: "bye@example.com", At: at},
		mailguntest.Suppressed{Address: "bye2@example.com", At: at})
	m, err := NewMailgun(MailgunConfig{Domain: srv.Domain(), APIKey: srv.APIKey(), APIBase: srv.URL(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	count := map[SuppressionKind]int{}
	seen := map[string]bool{}
	err = m.Suppressions(context.Background(), func(s Suppression) error {
		if seen[s.Address] {
			t.Errorf("%s listed twice", s.Address)
		}
		seen[s.Address] = true
		count[s.Kind]++
		if !s.At.Equal(at) {
			t.Errorf("%s at %v, want %v", s.Address, s.At, at)
		}
		if s.Kind == SuppressedBounce && s.Reason != "550 no such user" {
			t.Errorf("bounce reason %q", s.Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count[SuppressedBounce] != 2345 || count[SuppressedComplaint] != 1 || count[SuppressedUnsubscribe] != 2 {
		t.Errorf("counts %v", count)
	}

	// The callback's error stops the walk and comes back.
	stop := errors.New("stop")
	calls := 0
	if err := m.Suppressions(context.Background(), func(Suppression) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
	// A wrong key is Mailgun's refusal, not an empty list.
	bad, _ := NewMailgun(MailgunConfig{Domain: srv.Domain(), APIKey: "wrong", APIBase: srv.URL(), Timeout: 10 * time.Second})
	if err := bad.Suppressions(context.Background(), func(Suppression) error { return nil }); err == nil {
		t.Error("a wrong API key listed nothing without an error")
	}
}
