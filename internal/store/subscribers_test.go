package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func queuedMails(t testing.TB, s *Store, subID int64, kind MailKind) int {
	t.Helper()
	return countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE subscriber_id = ? AND kind = ? AND status = 'queued'", subID, string(kind))
}

// queuedDownloads counts the queued emails that carry the whitepaper link:
// whitepaper emails, and the welcome email of someone who asked for it.
func queuedDownloads(t testing.TB, s *Store, subID int64) int {
	t.Helper()
	return countRows(t, s, `SELECT COUNT(*) FROM mail_queue q WHERE q.subscriber_id = ? AND q.status = 'queued'
		AND (q.kind = 'whitepaper' OR (q.kind = 'welcome' AND q.whitepaper = ?))`, subID, true)
}

func TestSubscribeRules(t *testing.T) {
	type step func(t *testing.T, s *Store, email string)
	signup := func(at time.Duration, wp bool) step {
		return func(t *testing.T, s *Store, email string) {
			if _, _, err := s.Subscribe(ctxT(t), SignupRequest{Email: email, WantsWhitepaper: wp}, t0.Add(at)); err != nil {
				t.Fatal(err)
			}
		}
	}
	confirm := func(at time.Duration) step {
		return func(t *testing.T, s *Store, email string) {
			sub, err := s.GetByEmail(ctxT(t), email)
			if err != nil {
				t.Fatal(err)
			}
			if _, out, err := s.Confirm(ctxT(t), sub.Link(), "", t0.Add(at), t0.Add(at)); err != nil || out != ConfirmDone {
				t.Fatalf("confirm: %v %v", out, err)
			}
		}
	}
	mark := func(status Status, at time.Duration) step {
		return func(t *testing.T, s *Store, email string) {
			if found, err := s.SetStatusByEmail(ctxT(t), email, status, "test", t0.Add(at)); err != nil || !found {
				t.Fatalf("set %s: %v %v", status, found, err)
			}
		}
	}
	erase := func(t *testing.T, s *Store, email string) {
		if _, err := s.Erase(ctxT(t), email, t0); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name          string
		before        []step
		at            time.Duration
		wantsWP       bool
		want          SignupOutcome
		wantStatus    Status
		wantConfirms  int // queued confirmation emails afterwards
		wantWhitepaps int // queued whitepaper emails afterwards
		wantWPFlag    bool
	}{
		{"new address", nil, 0, false, SignupCreated, StatusPending, 1, 0, false},
		{"new address wants whitepaper", nil, 0, true, SignupCreated, StatusPending, 1, 0, true},
		{"pending, 5 min later", []step{signup(0, false)}, 5 * time.Minute, false, SignupThrottled, StatusPending, 1, 0, false},
		{"pending, throttled, whitepaper flag kept", []step{signup(0, false)}, time.Minute, true, SignupThrottled, StatusPending, 1, 0, true},
		{"pending, flag never cleared", []step{signup(0, true)}, time.Minute, false, SignupThrottled, StatusPending, 1, 0, true},
		{"pending, just under 10 min", []step{signup(0, false)}, 10*time.Minute - time.Microsecond, false, SignupThrottled, StatusPending, 1, 0, false},
		{"pending, exactly 10 min", []step{signup(0, false)}, 10 * time.Minute, false, SignupResent, StatusPending, 2, 0, false},
		{"pending, an hour later", []step{signup(0, false)}, time.Hour, false, SignupResent, StatusPending, 2, 0, false},
		{"confirmed", []step{signup(0, false), confirm(time.Minute)}, time.Hour, false, SignupAlreadyConfirmed, StatusConfirmed, 0, 0, false},
		{"confirmed wants whitepaper", []step{signup(0, false), confirm(time.Minute)}, time.Hour, true, SignupWhitepaperQueued, StatusConfirmed, 0, 1, true},
		{"confirmed, whitepaper again too soon", []step{signup(0, false), confirm(time.Minute), signup(time.Hour, true)}, time.Hour + 9*time.Minute, true, SignupAlreadyConfirmed, StatusConfirmed, 0, 1, true},
		{"confirmed, whitepaper again the same day", []step{signup(0, false), confirm(time.Minute), signup(time.Hour, true)}, 2 * time.Hour, true, SignupAlreadyConfirmed, StatusConfirmed, 0, 1, true},
		{"confirmed, whitepaper again next day", []step{signup(0, false), confirm(time.Minute), signup(time.Hour, true)}, 25 * time.Hour, true, SignupWhitepaperQueued, StatusConfirmed, 0, 2, true},
		{"confirmed, whitepaper a fourth time in a month", []step{signup(0, false), confirm(time.Minute), signup(time.Hour, true), signup(26*time.Hour, true), signup(51*time.Hour, true)}, 76 * time.Hour, true, SignupAlreadyConfirmed, StatusConfirmed, 0, 3, true},
		{"confirmed with whitepaper at confirmation, asks again at once", []step{signup(0, true), confirm(time.Minute)}, 2 * time.Minute, true, SignupAlreadyConfirmed, StatusConfirmed, 0, 1, true},
		{"unsubscribed", []step{signup(0, false), confirm(time.Minute), mark(StatusUnsubscribed, time.Hour)}, 2 * time.Hour, false, SignupResubscribed, StatusPending, 1, 0, false},
		{"unsubscribed, at once: the mailbox waits", []step{signup(0, false), mark(StatusUnsubscribed, time.Minute)}, 2 * time.Minute, false, SignupThrottled, StatusPending, 0, 0, false},
		{"bounced recently", []step{signup(0, false), confirm(time.Minute), mark(StatusBounced, time.Hour)}, 2 * time.Hour, true, SignupSuppressed, StatusBounced, 0, 0, false},
		{"bounced over 30 days ago", []step{signup(0, false), confirm(time.Minute), mark(StatusBounced, time.Hour)}, 31 * 24 * time.Hour, true, SignupResubscribed, StatusPending, 1, 0, true},
		{"bounced long ago, had its one try", []step{signup(0, false), confirm(time.Minute), mark(StatusBounced, time.Hour), signup(31*24*time.Hour, false)}, 32 * 24 * time.Hour, true, SignupSuppressed, StatusPending, 1, 0, true},
		{"complained", []step{signup(0, false), confirm(time.Minute), mark(StatusComplained, time.Hour)}, 2 * time.Hour, true, SignupSuppressed, StatusComplained, 0, 0, false},
		{"erased signs up again", []step{signup(0, false), confirm(time.Minute), erase}, time.Hour, false, SignupCreated, StatusPending, 1, 0, false},
	}
	eachBackend(t, func(t *testing.T, s *Store) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				email := fmt.Sprintf("rule%d@example.com", i)
				for _, st := range tt.before {
					st(t, s, email)
				}
				sub, out, err := s.Subscribe(ctxT(t), SignupRequest{Email: email, Name: "Anna", WantsWhitepaper: tt.wantsWP,
					Consent: Consent{Version: "2", Source: "/poradniki/vat", IP: "2001:db8::1"}}, t0.Add(tt.at))
				if err != nil {
					t.Fatal(err)
				}
				if out != tt.want {
					t.Errorf("outcome %s, want %s", out, tt.want)
				}
				got, err := s.Get(ctxT(t), sub.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, sub) {
					t.Errorf("Subscribe returned\n%+v\nstored\n%+v", sub, got)
				}
				if got.Status != tt.wantStatus || got.WhitepaperRequested != tt.wantWPFlag {
					t.Errorf("status %s whitepaper %v, want %s %v", got.Status, got.WhitepaperRequested, tt.wantStatus, tt.wantWPFlag)
				}
				if n := queuedMails(t, s, sub.ID, MailConfirm); n != tt.wantConfirms {
					t.Errorf("%d confirmations queued, want %d", n, tt.wantConfirms)
				}
				if n := queuedDownloads(t, s, sub.ID); n != tt.wantWhitepaps {
					t.Errorf("%d whitepapers queued, want %d", n, tt.wantWhitepaps)
				}
				if out.ConfirmationQueued() != (out == SignupCreated || out == SignupResent || out == SignupResubscribed) {
					t.Errorf("ConfirmationQueued wrong for %s", out)
				}
				// Consent is refreshed whenever the signup counts as new consent.
				if tt.wantStatus == StatusPending && (got.Consent.Version != "2" || got.Consent.Source != "/poradniki/vat" ||
					got.Consent.IP != "2001:db8::1" || !got.Consent.At.Equal(t0.Add(tt.at))) {
					t.Errorf("consent not refreshed: %+v", got.Consent)
				}
				if tt.wantStatus == StatusPending && got.Name != "Anna" {
					t.Errorf("name %q not refreshed", got.Name)
				}
			})
		}
	})
}

func TestSubscribeRejectsHostileInput(t *testing.T) {
	tests := []struct {
		name string
		req  SignupRequest
		want error
	}{
		{"empty email", SignupRequest{Email: ""}, ErrInvalidEmail},
		{"blank email", SignupRequest{Email: "   "}, ErrInvalidEmail},
		{"no at", SignupRequest{Email: "jan.example.com"}, ErrInvalidEmail},
		{"no dot in domain", SignupRequest{Email: "jan@localhost"}, ErrInvalidEmail},
		{"display name", SignupRequest{Email: "Jan <jan@example.com>"}, ErrInvalidEmail},
		{"header injection", SignupRequest{Email: "jan@example.com\r\nBcc: all@example.com"}, ErrInvalidEmail},
		{"two addresses", SignupRequest{Email: "a@example.com, b@example.com"}, ErrInvalidEmail},
		{"address literal", SignupRequest{Email: "jan@[192.0.2.1]"}, ErrInvalidEmail},
		{"oversized", SignupRequest{Email: strings.Repeat("a", 250) + "@example.com"}, ErrInvalidEmail},
		{"invalid UTF-8", SignupRequest{Email: "j\xffn@example.com"}, ErrInvalidEmail},
		{"NUL", SignupRequest{Email: "jan\x00@example.com"}, ErrInvalidEmail},
		{"name with newline", SignupRequest{Email: "ok@example.com", Name: "Jan\nBcc: x"}, ErrInvalidInput},
		{"name with NUL", SignupRequest{Email: "ok@example.com", Name: "Jan\x00"}, ErrInvalidInput},
		{"name with escape", SignupRequest{Email: "ok@example.com", Name: "Jan\x1b[31m"}, ErrInvalidInput},
		{"name too long", SignupRequest{Email: "ok@example.com", Name: strings.Repeat("ż", MaxNameLen+1)}, ErrInvalidInput},
		{"name invalid UTF-8", SignupRequest{Email: "ok@example.com", Name: "\xc3"}, ErrInvalidInput},
		{"consent IP not an IP", SignupRequest{Email: "ok@example.com", Consent: Consent{IP: "1.2.3.4; DROP"}}, ErrInvalidInput},
		{"consent source with newline", SignupRequest{Email: "ok@example.com", Consent: Consent{Source: "/a\n/b"}}, ErrInvalidInput},
		{"consent source too long", SignupRequest{Email: "ok@example.com", Consent: Consent{Source: "/" + strings.Repeat("a", 2000)}}, ErrInvalidInput},
		{"consent version too long", SignupRequest{Email: "ok@example.com", Consent: Consent{Version: strings.Repeat("1", 100)}}, ErrInvalidInput},
	}
	eachBackend(t, func(t *testing.T, s *Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := s.Subscribe(ctxT(t), tt.req, t0)
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
			})
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM subscribers"); n != 0 {
			t.Errorf("%d subscribers stored from rejected input", n)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM mail_queue"); n != 0 {
			t.Errorf("%d emails queued from rejected input", n)
		}
	})
}

func TestSubscribeStoresMetacharactersVerbatim(t *testing.T) {
	tests := []struct{ email, name, wantEmail string }{
		{"o'brien+news@example.com", "Robert'); DROP TABLE subscribers;--", "o'brien+news@example.com"},
		{"percent%_x@Example.COM", `50% _off_ \ "quoted" $1 ?`, "percent%_x@example.com"},
		{"  Zażółć.Gęślą@Jaźń.example.PL  ", "Zażółć Gęślą Jaźń", "Zażółć.Gęślą@jaźń.example.pl"},
		{"semi;colon@example.com", "x' OR '1'='1", ""}, // ; is not allowed unquoted
	}
	eachBackend(t, func(t *testing.T, s *Store) {
		for _, tt := range tests {
			sub, _, err := s.Subscribe(ctxT(t), SignupRequest{Email: tt.email, Name: tt.name,
				Consent: Consent{Source: "/?q=' OR 1=1 --"}}, t0)
			if tt.wantEmail == "" {
				if !errors.Is(err, ErrInvalidEmail) {
					t.Errorf("%q: err %v, want ErrInvalidEmail", tt.email, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%q: %v", tt.email, err)
			}
			got, err := s.GetByEmail(ctxT(t), strings.ToUpper(tt.wantEmail))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != sub.ID || got.Email != tt.wantEmail || got.Name != tt.name || got.Consent.Source != "/?q=' OR 1=1 --" {
				t.Errorf("stored %q %q %q, want %q %q", got.Email, got.Name, got.Consent.Source, tt.wantEmail, tt.name)
			}
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM subscribers"); n != 3 {
			t.Errorf("%d subscribers, want 3", n)
		}
	})
}

func TestSubscribeCaseVariantsAreOneSubscriber(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		first, out, err := s.Subscribe(ctxT(t), SignupRequest{Email: "Jan.Kowalski@Example.COM"}, t0)
		if err != nil || out != SignupCreated {
			t.Fatal(out, err)
		}
		if first.Email != "Jan.Kowalski@example.com" {
			t.Errorf("stored %q, want the domain lower-cased and the local part kept", first.Email)
		}
		for i, variant := range []string{"jan.kowalski@example.com", " JAN.KOWALSKI@EXAMPLE.COM ", "jAn.KoWaLsKi@eXaMpLe.CoM"} {
			sub, out, err := s.Subscribe(ctxT(t), SignupRequest{Email: variant}, t0.Add(time.Duration(i+1)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if sub.ID != first.ID || out != SignupThrottled {
				t.Errorf("%q: id %d outcome %s, want id %d throttled", variant, sub.ID, out, first.ID)
			}
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM subscribers"); n != 1 {
			t.Errorf("%d rows, want 1", n)
		}
	})
}

// Concurrent signups of the same addresses end with one row and one queued
// confirmation each.
func TestSubscribeConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		const calls, addresses = 200, 50
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			outcomes = map[SignupOutcome]int{}
		)
		errs := make(chan error, calls)
		for i := range calls {
			wg.Go(func() {
				email := fmt.Sprintf("race%d@example.com", i%addresses)
				if i%2 == 1 {
					email = strings.ToUpper(email)
				}
				_, out, err := s.Subscribe(ctxT(t), SignupRequest{Email: email}, t0)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				outcomes[out]++
				mu.Unlock()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM subscribers"); n != addresses {
			t.Errorf("%d subscribers, want %d", n, addresses)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE kind = 'confirm' AND status = 'queued'"); n != addresses {
			t.Errorf("%d confirmations queued, want %d", n, addresses)
		}
		if outcomes[SignupCreated] != addresses || outcomes[SignupThrottled] != calls-addresses {
			t.Errorf("outcomes %v, want %d created and %d throttled", outcomes, addresses, calls-addresses)
		}
	})
}

func TestConfirm(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		t.Run("pending with whitepaper", func(t *testing.T) {
			sub, _, err := s.Subscribe(ctx, SignupRequest{Email: "wp@example.com", WantsWhitepaper: true}, t0)
			if err != nil {
				t.Fatal(err)
			}
			// A second confirmation was queued later; confirming cancels both.
			if _, out, _ := s.Subscribe(ctx, SignupRequest{Email: "wp@example.com"}, t0.Add(time.Hour)); out != SignupResent {
				t.Fatalf("resend: %s", out)
			}
			got, out, err := s.Confirm(ctx, sub.Link(), "", t0, t0.Add(2*time.Hour))
			if err != nil || out != ConfirmDone {
				t.Fatalf("%s %v", out, err)
			}
			if got.Status != StatusConfirmed || !got.ConfirmedAt.Equal(t0.Add(2*time.Hour)) {
				t.Errorf("after confirm: %+v", got)
			}
			if n := queuedMails(t, s, sub.ID, MailConfirm); n != 0 {
				t.Errorf("%d confirmations still queued", n)
			}
			// One welcome email, carrying the download link; no separate
			// whitepaper email.
			if n := queuedMails(t, s, sub.ID, MailWelcome); n != 1 {
				t.Errorf("%d welcome emails queued, want 1", n)
			}
			if n := queuedMails(t, s, sub.ID, MailWhitepaper); n != 0 {
				t.Errorf("%d whitepaper emails queued besides the welcome, want 0", n)
			}
			// Repeated clicks change nothing and queue nothing.
			for range 3 {
				again, out, err := s.Confirm(ctx, sub.Link(), "", t0, t0.Add(3*time.Hour))
				if err != nil || out != ConfirmAlreadyConfirmed || !again.ConfirmedAt.Equal(got.ConfirmedAt) {
					t.Errorf("repeat: %s %v %v", out, again.ConfirmedAt, err)
				}
			}
			if n := queuedDownloads(t, s, sub.ID); n != 1 {
				t.Errorf("%d whitepaper links queued after repeats, want 1", n)
			}
		})
		t.Run("without whitepaper", func(t *testing.T) {
			sub := mustSubscribe(t, s, "nowp@example.com", t0)
			if _, out, err := s.Confirm(ctx, sub.Link(), "", t0, t0.Add(time.Minute)); err != nil || out != ConfirmDone {
				t.Fatal(out, err)
			}
			if n := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE subscriber_id = ? AND status = 'queued'", sub.ID); n != 1 {
				t.Errorf("%d emails queued, want the welcome only", n)
			}
			if n := queuedMails(t, s, sub.ID, MailWelcome); n != 1 {
				t.Errorf("%d welcome emails queued, want 1", n)
			}
		})
		t.Run("unknown id", func(t *testing.T) {
			if _, out, err := s.Confirm(ctx, Link{ID: 987654}, "", t0, t0); err != nil || out != ConfirmInvalid {
				t.Errorf("%s %v", out, err)
			}
		})
		t.Run("other statuses", func(t *testing.T) {
			for _, status := range []Status{StatusUnsubscribed, StatusBounced, StatusComplained} {
				sub := mustSubscribe(t, s, "st-"+string(status)+"@example.com", t0)
				if _, err := s.SetStatusByEmail(ctx, sub.Email, status, "", t0.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
				if _, out, err := s.Confirm(ctx, sub.Link(), "", t0.Add(2*time.Minute), t0.Add(2*time.Minute)); err != nil || out != ConfirmInvalid {
					t.Errorf("%s: %s %v", status, out, err)
				}
			}
		})
		t.Run("link older than the last unsubscribe", func(t *testing.T) {
			sub := mustConfirmed(t, s, "again@example.com", t0)
			oldLink := t0
			if _, _, err := s.Unsubscribe(ctx, sub.ID, "link", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if _, out, _ := s.Subscribe(ctx, SignupRequest{Email: "again@example.com"}, t0.Add(2*time.Hour)); out != SignupResubscribed {
				t.Fatalf("resubscribe: %s", out)
			}
			if _, out, err := s.Confirm(ctx, sub.Link(), "", oldLink, t0.Add(3*time.Hour)); err != nil || out != ConfirmInvalid {
				t.Errorf("old link: %s %v, want invalid", out, err)
			}
			// Links carry whole seconds: one issued in the same second as
			// the new signup is still good.
			newLink := t0.Add(2 * time.Hour).Truncate(time.Second)
			if _, out, err := s.Confirm(ctx, sub.Link(), "", newLink, t0.Add(3*time.Hour)); err != nil || out != ConfirmDone {
				t.Errorf("new link: %s %v, want confirmed", out, err)
			}
		})
	})
}

func TestUnsubscribe(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		sub, _, err := s.Subscribe(ctx, SignupRequest{Email: "bye@example.com", WantsWhitepaper: true}, t0)
		if err != nil {
			t.Fatal(err)
		}
		got, changed, err := s.Unsubscribe(ctx, sub.ID, "link in email\r\n", t0.Add(time.Minute))
		if err != nil || !changed {
			t.Fatalf("first: %v %v", changed, err)
		}
		if got.Status != StatusUnsubscribed || !got.UnsubscribedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("after: %+v", got)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE subscriber_id = ? AND status = 'queued'", sub.ID); n != 0 {
			t.Errorf("%d emails still queued", n)
		}
		for range 3 {
			again, changed, err := s.Unsubscribe(ctx, sub.ID, "again", t0.Add(time.Hour))
			if err != nil || changed || !again.UnsubscribedAt.Equal(t0.Add(time.Minute)) {
				t.Errorf("repeat: changed %v at %v err %v", changed, again.UnsubscribedAt, err)
			}
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM subscriber_events WHERE subscriber_id = ? AND type = 'unsubscribed'", sub.ID); n != 1 {
			t.Errorf("%d unsubscribe events, want 1", n)
		}
		var detail string
		s.queryRow(ctx, "SELECT detail FROM subscriber_events WHERE subscriber_id = ? AND type = 'unsubscribed'", sub.ID).Scan(&detail)
		if detail != "link in email" {
			t.Errorf("reason stored as %q", detail)
		}
		if _, _, err := s.Unsubscribe(ctx, 424242, "", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		// A complaint is stronger than an unsubscribe.
		c := mustConfirmed(t, s, "spam@example.com", t0)
		s.SetStatusByEmail(ctx, c.Email, StatusComplained, "", t0.Add(time.Minute))
		if got, changed, err := s.Unsubscribe(ctx, c.ID, "", t0.Add(time.Hour)); err != nil || changed || got.Status != StatusComplained {
			t.Errorf("complained: %s %v %v", got.Status, changed, err)
		}
	})
}

func TestSetStatusByEmail(t *testing.T) {
	tests := []struct {
		from, to  Status
		want      Status
		wantEvent bool
	}{
		{StatusConfirmed, StatusBounced, StatusBounced, true},
		{StatusConfirmed, StatusComplained, StatusComplained, true},
		{StatusConfirmed, StatusUnsubscribed, StatusUnsubscribed, true},
		{StatusPending, StatusBounced, StatusBounced, true},
		{StatusUnsubscribed, StatusComplained, StatusComplained, true},
		{StatusBounced, StatusBounced, StatusBounced, false},
		{StatusComplained, StatusUnsubscribed, StatusComplained, false},
		{StatusComplained, StatusBounced, StatusComplained, false},
	}
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for i, tt := range tests {
			email := fmt.Sprintf("hook%d@example.com", i)
			sub := mustSubscribe(t, s, email, t0)
			switch tt.from {
			case StatusConfirmed:
				s.Confirm(ctx, sub.Link(), "", t0, t0)
			case StatusPending:
			default:
				s.SetStatusByEmail(ctx, email, tt.from, "setup", t0)
			}
			before := countRows(t, s, "SELECT COUNT(*) FROM subscriber_events WHERE subscriber_id = ?", sub.ID)
			found, err := s.SetStatusByEmail(ctx, strings.ToUpper(email), tt.to, "mailgun", t0.Add(time.Hour))
			if err != nil || !found {
				t.Fatalf("%s→%s: %v %v", tt.from, tt.to, found, err)
			}
			got, _ := s.Get(ctx, sub.ID)
			if got.Status != tt.want {
				t.Errorf("%s→%s: status %s, want %s", tt.from, tt.to, got.Status, tt.want)
			}
			after := countRows(t, s, "SELECT COUNT(*) FROM subscriber_events WHERE subscriber_id = ?", sub.ID)
			if (after > before) != tt.wantEvent {
				t.Errorf("%s→%s: events %d→%d", tt.from, tt.to, before, after)
			}
		}
		if found, err := s.SetStatusByEmail(ctx, "nobody@example.com", StatusBounced, "", t0); err != nil || found {
			t.Errorf("unknown address: %v %v", found, err)
		}
		if _, err := s.SetStatusByEmail(ctx, "hook0@example.com", StatusConfirmed, "", t0); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("status confirmed from a webhook: %v", err)
		}
		if _, err := s.SetStatusByEmail(ctx, "not an address", StatusBounced, "", t0); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("invalid address: %v", err)
		}
	})
}

func TestGetNotFound(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		if _, err := s.Get(ctxT(t), 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get: %v", err)
		}
		if _, err := s.GetByEmail(ctxT(t), "none@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetByEmail: %v", err)
		}
		if _, err := s.GetByEmail(ctxT(t), "bad"); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("GetByEmail invalid: %v", err)
		}
	})
}

func TestListSubscribersAndStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for i := range 5 {
			mustSubscribe(t, s, fmt.Sprintf("p%d@example.com", i), t0)
		}
		for i := range 3 {
			mustConfirmed(t, s, fmt.Sprintf("c%d@example.com", i), t0)
		}
		s.SetStatusByEmail(ctx, "c0@example.com", StatusBounced, "", t0)

		var all, confirmed []int64
		if err := s.ListSubscribers(ctx, ListFilter{}, func(sub Subscriber) error { all = append(all, sub.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.ListSubscribers(ctx, ListFilter{Status: StatusConfirmed}, func(sub Subscriber) error {
			if sub.Status != StatusConfirmed {
				t.Errorf("filter returned %s", sub.Status)
			}
			confirmed = append(confirmed, sub.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(all) != 8 || len(confirmed) != 2 {
			t.Errorf("listed %d and %d confirmed, want 8 and 2", len(all), len(confirmed))
		}
		for i := 1; i < len(all); i++ {
			if all[i] <= all[i-1] {
				t.Errorf("not in id order: %v", all)
			}
		}
		stop := errors.New("stop")
		n := 0
		if err := s.ListSubscribers(ctx, ListFilter{}, func(Subscriber) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("fn error: %v after %d", err, n)
		}
		if err := s.ListSubscribers(ctx, ListFilter{Status: "bogus"}, func(Subscriber) error { return nil }); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("bad filter: %v", err)
		}

		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[Status]int{StatusPending: 5, StatusConfirmed: 2, StatusBounced: 1, StatusUnsubscribed: 0, StatusComplained: 0}
		for k, v := range want {
			if st.Subscribers[k] != v {
				t.Errorf("Stats[%s] = %d, want %d", k, st.Subscribers[k], v)
			}
		}
		if st.MailQueued != 7 || st.MailFailed != 0 || st.Campaigns != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}
