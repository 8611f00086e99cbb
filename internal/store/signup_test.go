package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func confirmationsQueued(t *testing.T, s *Store) int {
	t.Helper()
	return countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE kind = 'confirm' AND status = 'queued'")
}

// One inbox, however its address is spelled, gets at most three
// confirmations a week, spaced 10 minutes and then an hour.
func TestMailboxLimitFoldsSpellings(t *testing.T) {
	spellings := []string{"ofiara@gmail.com", "Ofiara+1@gmail.com", "o.f.i.a.r.a@googlemail.com", "OFIARA+news@GMAIL.com", "ofiara+6@gmail.com"}
	tests := []struct {
		name string
		at   []time.Duration // one signup per spelling, in order
		want int             // confirmations queued in all
	}{
		{"all at once", []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}, 1},
		{"10 minutes apart: the third waits an hour", []time.Duration{0, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 40 * time.Minute}, 2},
		{"spaced enough: three, then the week is full", []time.Duration{0, 10 * time.Minute, 70 * time.Minute, 5 * time.Hour, 48 * time.Hour}, 3},
		{"a week later the count starts again", []time.Duration{0, 10 * time.Minute, 70 * time.Minute, 7*24*time.Hour + time.Minute, 7*24*time.Hour + 2*time.Minute}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, s *Store) {
				for i, at := range tt.at {
					if _, _, err := s.Subscribe(ctxT(t), SignupRequest{Email: spellings[i]}, t0.Add(at)); err != nil {
						t.Fatal(err)
					}
				}
				if n := confirmationsQueued(t, s); n != tt.want {
					t.Errorf("%d confirmations queued, want %d", n, tt.want)
				}
				// Every spelling is kept as typed, each its own subscriber.
				if n := countRows(t, s, "SELECT COUNT(*) FROM subscribers"); n != len(tt.at) {
					t.Errorf("%d subscribers, want %d", n, len(tt.at))
				}
				if _, err := s.GetByEmail(ctxT(t), "o.f.i.a.r.a@googlemail.com"); err != nil {
					t.Errorf("address not stored as typed: %v", err)
				}
			})
		})
	}
}

func TestHourlyCapsHoldConfirmations(t *testing.T) {
	lim := DefaultSignupLimits()
	lim.DomainPerHour, lim.TotalPerHour = 3, 5
	eachBackend(t, func(t *testing.T, s *Store) {
		s.limits = lim
		var outcomes []SignupOutcome
		signup := func(email string, at time.Duration) {
			_, out, err := s.Subscribe(ctxT(t), SignupRequest{Email: email}, t0.Add(at))
			if err != nil {
				t.Fatal(err)
			}
			outcomes = append(outcomes, out)
		}
		for i := range 5 {
			signup(fmt.Sprintf("a%d@one.example", i), time.Duration(i)*time.Second) // 3 go, 2 held by the domain cap
		}
		for i := range 3 {
			signup(fmt.Sprintf("b%d@two.example", i), time.Minute) // 2 go, then the total cap
		}
		want := []SignupOutcome{SignupCreated, SignupCreated, SignupCreated, SignupHeld, SignupHeld, SignupCreated, SignupCreated, SignupHeld}
		if !slices.Equal(outcomes, want) {
			t.Fatalf("outcomes %v, want %v", outcomes, want)
		}
		if n := confirmationsQueued(t, s); n != 5 {
			t.Errorf("%d confirmations queued, want 5", n)
		}
		st, err := s.Stats(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if st.Held[HeldDomain] != 2 || st.Held[HeldTotal] != 1 {
			t.Errorf("held %v, want domain 2, total 1", st.Held)
		}
		// An hour later the caps have room again.
		signup("a9@one.example", time.Hour+5*time.Second)
		if outcomes[len(outcomes)-1] != SignupCreated {
			t.Errorf("an hour later: %s", outcomes[len(outcomes)-1])
		}
	})
}

// TestHeldLoggedOnceAnHour: under a flood the log says so once an hour per
// reason, not once per signup.
func TestHeldLoggedOnceAnHour(t *testing.T) {
	var buf bytes.Buffer
	lim := DefaultSignupLimits()
	lim.DomainPerHour = 1
	s := openTestSQLite(t, WithLogger(slog.New(slog.NewTextHandler(&buf, nil))), WithSignupLimits(lim))
	for i := range 20 {
		if _, _, err := s.Subscribe(ctxT(t), SignupRequest{Email: fmt.Sprintf("f%d@flood.example", i)}, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "held back"); n != 1 {
		t.Fatalf("%d log lines for 19 held emails, want 1:\n%s", n, buf.String())
	}
	mustSubscribe(t, s, "g1@flood.example", t0.Add(61*time.Minute))
	mustSubscribe(t, s, "g2@flood.example", t0.Add(62*time.Minute))
	if n := strings.Count(buf.String(), "held back"); n != 2 {
		t.Fatalf("%d log lines after another hour, want 2", n)
	}
}

func TestLinkKeyNamesOneRow(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		sub := mustSubscribe(t, s, "klucz@example.com", t0)
		other := mustSubscribe(t, s, "inny@example.com", t0)
		if len(sub.LinkKey) != 24 || sub.LinkKey == other.LinkKey {
			t.Fatalf("link keys %q %q", sub.LinkKey, other.LinkKey)
		}
		wrong := Link{ID: sub.ID, Key: other.LinkKey}
		if _, out, err := s.Confirm(ctx, wrong, "", t0, t0.Add(time.Minute)); err != nil || out != ConfirmInvalid {
			t.Fatalf("confirm with another row's key: %s %v", out, err)
		}
		if _, out, err := s.Confirm(ctx, Link{ID: sub.ID}, "", t0, t0.Add(time.Minute)); err != nil || out != ConfirmInvalid {
			t.Fatalf("confirm without a key: %s %v", out, err)
		}
		if _, err := s.GetByLink(ctx, wrong); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetByLink with a wrong key: %v", err)
		}
		if _, _, err := s.UnsubscribeLink(ctx, wrong, "", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("UnsubscribeLink with a wrong key: %v", err)
		}
		if got, _ := s.Get(ctx, sub.ID); got.Status != StatusPending {
			t.Fatalf("a wrong key changed the row: %s", got.Status)
		}
		got, out, err := s.Confirm(ctx, sub.Link(), "Mozilla/5.0 (Reader)\r\n", t0, t0.Add(time.Minute))
		if err != nil || out != ConfirmDone || got.ConfirmUserAgent != "Mozilla/5.0 (Reader)" {
			t.Fatalf("confirm: %s %v %q", out, err, got.ConfirmUserAgent)
		}
		if stored, _ := s.Get(ctx, sub.ID); stored.ConfirmUserAgent != "Mozilla/5.0 (Reader)" || !stored.ConfirmedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("consent evidence of the confirming request not stored: %+v", stored)
		}
		// Legacy unsubscribe links (id only) still work.
		if _, changed, err := s.UnsubscribeLink(ctx, Link{ID: sub.ID, Legacy: true}, "old link", t0.Add(time.Hour)); err != nil || !changed {
			t.Fatalf("legacy unsubscribe: %v %v", changed, err)
		}
	})
}

func TestTombstonesAreKeyed(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		mustConfirmed(t, s, "Usun.Mnie+x@gmail.com", t0)
		if _, err := s.Erase(ctx, "usun.mnie+x@gmail.com", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var stored string
		if err := s.queryRow(ctx, "SELECT email_hash FROM erased").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored == legacyTombstone("usun.mnie+x@gmail.com") || !strings.HasPrefix(stored, tombstonePrefix) {
			t.Fatalf("tombstone %q is a bare hash of the address", stored)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM confirmation_sends"); n != 0 {
			t.Errorf("%d confirmation counts of the erased mailbox left", n)
		}
		// A tombstone written before keys existed still stops an import;
		// so does the new one, for any spelling of the mailbox.
		if err := s.tx(ctx, func(t *txn) error {
			_, err := t.exec("INSERT INTO erased (email_hash, erased_at) VALUES (?, ?)", legacyTombstone("stary@example.com"), dbTime(t0))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		rows := []ImportRow{{Email: "Stary@example.com"}, {Email: "usunmnie@gmail.com"}, {Email: "nowy@example.com"}}
		rep, err := s.Import(ctx, slices.Values(rows), StatusConfirmed, t0.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Imported != 1 || len(rep.Skipped) != 2 || rep.Skipped[0].Reason != SkipErased || rep.Skipped[1].Reason != SkipErased {
			t.Fatalf("import report %+v", rep)
		}
		// Without the key nobody can tell whether an address was erased.
		other := openTestSQLite(t, WithErasureKeys([]byte("some other key")))
		if other.tombstones("usunmnie@gmail.com")[1] == stored {
			t.Fatal("the tombstone does not depend on the key")
		}
	})
}

func TestEraseNeedsAKey(t *testing.T) {
	s := openTestSQLite(t, WithErasureKeys(nil))
	mustSubscribe(t, s, "a@example.com", t0)
	if _, err := s.Erase(ctxT(t), "a@example.com", t0); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("erase without a key: %v", err)
	}
}

func TestErrorTextHasNoAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"Mailgun 400: 'to' parameter is not a valid address: jan.kowalski+x@example.pl": "Mailgun 400: 'to' parameter is not a valid address: [adres]",
		"recipient <Anna@Żółw.pl> rejected; retry":                                      "recipient <[adres]> rejected; retry",
		"timeout after 30s": "timeout after 30s",
	} {
		if got := errorText(in); got != want {
			t.Errorf("errorText(%q) = %q, want %q", in, got, want)
		}
	}
	eachBackend(t, func(t *testing.T, s *Store) {
		c, err := s.CreateCampaign(ctxT(t), CampaignSpec{Slug: "x", Title: "X", Subject: "X", BatchSize: 10}, t0)
		if err != nil {
			t.Skipf("no campaign to fail: %v", err)
		}
		if err := s.FailCampaign(ctxT(t), c.ID, "bad recipient ewa@example.pl", t0); err != nil {
			t.Fatal(err)
		}
		got, err := s.CampaignBySlug(ctxT(t), "x")
		if err != nil || strings.Contains(got.Error, "ewa@") {
			t.Fatalf("stored campaign error %q, %v", got.Error, err)
		}
	})
}

func TestPurgeWithdrawn(t *testing.T) {
	if got := WithdrawnRetentionCutoff(time.Date(2034, 1, 1, 0, 0, 1, 0, time.UTC)); !got.Equal(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("cutoff %v: a withdrawal of 15 March 2027 must go after 31 December 2033", got)
	}
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		y2027 := time.Date(2027, 3, 15, 12, 0, 0, 0, time.UTC)
		old := mustConfirmed(t, s, "old@example.com", y2027)
		s.Unsubscribe(ctx, old.ID, "", y2027)
		recent := mustConfirmed(t, s, "recent@example.com", y2027)
		s.Unsubscribe(ctx, recent.ID, "", y2027.AddDate(1, 0, 0))
		mustConfirmed(t, s, "active@example.com", y2027)
		if n, err := s.PurgeWithdrawn(ctx, WithdrawnRetentionCutoff(time.Date(2033, 12, 31, 23, 0, 0, 0, time.UTC))); err != nil || n != 0 {
			t.Fatalf("purged %d, %v before the period ended", n, err)
		}
		if n, err := s.PurgeWithdrawn(ctx, WithdrawnRetentionCutoff(time.Date(2034, 1, 2, 0, 0, 0, 0, time.UTC))); err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
		if _, err := s.Get(ctx, old.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the 2027 withdrawal is still held: %v", err)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM subscribers"); n != 2 {
			t.Errorf("%d subscribers left, want 2", n)
		}
	})
}
