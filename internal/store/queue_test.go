package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClaimMailLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		var subs []Subscriber
		for i := range 5 {
			sub, _, err := s.Subscribe(ctx, SignupRequest{Email: fmt.Sprintf("q%d@example.com", i), Name: "Ola"}, t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, sub)
		}
		if got, err := s.ClaimMail(ctx, "w1", 10, time.Minute, t0.Add(-time.Second)); err != nil || len(got) != 0 {
			t.Fatalf("claimed %d before anything was due (%v)", len(got), err)
		}
		first, err := s.ClaimMail(ctx, "w1", 3, time.Hour, t0.Add(10*time.Second))
		if err != nil || len(first) != 3 {
			t.Fatalf("claimed %d, %v; want 3", len(first), err)
		}
		for i, m := range first {
			want := QueuedMail{ID: m.ID, Kind: MailConfirm, SubscriberID: subs[i].ID, To: subs[i].Email,
				LinkKey: subs[i].LinkKey, Attempts: 1, CreatedAt: subs[i].CreatedAt, Claim: first[0].Claim}
			if m != want {
				t.Errorf("mail %d = %+v, want %+v", i, m, want)
			}
			if !strings.HasPrefix(m.Claim, "w1:") {
				t.Errorf("claim token %q does not name the worker", m.Claim)
			}
			if i > 0 && m.ID <= first[i-1].ID {
				t.Errorf("not sorted by id")
			}
		}
		rest, _ := s.ClaimMail(ctx, "w1", 10, time.Hour, t0.Add(10*time.Second))
		if len(rest) != 2 {
			t.Fatalf("second claim got %d, want 2", len(rest))
		}
		if none, _ := s.ClaimMail(ctx, "w1", 10, time.Minute, t0.Add(20*time.Second)); len(none) != 0 {
			t.Fatalf("leased mails claimed again: %d", len(none))
		}

		id, claim := first[0].ID, first[0].Claim
		if rest[0].Claim == claim {
			t.Errorf("two claims share the token %q", claim)
		}
		if err := s.MarkMailSent(ctx, claim, id, "<msg@mailgun>", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkMailSent(ctx, claim, id, "<other>", t0.Add(time.Minute)); !errors.Is(err, ErrConflict) {
			t.Errorf("second MarkMailSent: %v, want ErrConflict", err)
		}
		if err := s.RetryMail(ctx, claim, id, t0.Add(time.Hour), "late"); !errors.Is(err, ErrConflict) {
			t.Errorf("RetryMail on a sent email: %v, want ErrConflict", err)
		}
		if err := s.FailMail(ctx, claim, 99999, "x", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("FailMail unknown: %v, want ErrNotFound", err)
		}

		retry := first[1].ID
		if err := s.RetryMail(ctx, claim, retry, t0.Add(5*time.Minute), "421 try later\n"+strings.Repeat("x", 5000)); err != nil {
			t.Fatal(err)
		}
		var retryErr string
		s.queryRow(ctx, "SELECT last_error FROM mail_queue WHERE id = ?", retry).Scan(&retryErr)
		if len(retryErr) != maxErrorLen || !strings.HasPrefix(retryErr, "421 try later xxx") {
			t.Errorf("oversized error stored as %d bytes: %.40q", len(retryErr), retryErr)
		}
		if got, _ := s.ClaimMail(ctx, "w2", 10, time.Minute, t0.Add(4*time.Minute)); len(got) != 0 {
			t.Errorf("retried email claimed before its time")
		}
		got, _ := s.ClaimMail(ctx, "w2", 10, time.Minute, t0.Add(5*time.Minute))
		if len(got) != 1 || got[0].ID != retry || got[0].Attempts != 2 {
			t.Fatalf("retry claim: %+v", got)
		}
		if err := s.FailMail(ctx, got[0].Claim, retry, "550 no such user", t0.Add(6*time.Minute)); err != nil {
			t.Fatal(err)
		}
		var lastErr string
		s.queryRow(ctx, "SELECT last_error FROM mail_queue WHERE id = ?", retry).Scan(&lastErr)
		if lastErr != "550 no such user" {
			t.Errorf("last_error = %q", lastErr)
		}
		var message string
		s.queryRow(ctx, "SELECT message_id FROM mail_queue WHERE id = ?", id).Scan(&message)
		if message != "<msg@mailgun>" {
			t.Errorf("message_id = %q", message)
		}
		st, _ := s.Stats(ctx)
		if st.MailFailed != 1 || st.MailSending != 3 || st.MailQueued != 0 {
			t.Errorf("stats %+v", st)
		}
		if _, err := s.ClaimMail(ctx, "w", 0, time.Minute, t0); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("limit 0: %v", err)
		}
	})
}

func TestCancelledMailIsNotClaimed(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		sub := mustSubscribe(t, s, "gone@example.com", t0)
		mustSubscribe(t, s, "stays@example.com", t0)
		if _, _, err := s.Unsubscribe(ctx, sub.ID, "", t0); err != nil {
			t.Fatal(err)
		}
		got, err := s.ClaimMail(ctx, "w", 10, time.Minute, t0.Add(time.Hour))
		if err != nil || len(got) != 1 || got[0].To != "stays@example.com" {
			t.Errorf("claimed %+v, %v", got, err)
		}
	})
}

// Several workers claiming at once each get different emails, and every
// email is claimed exactly once.
func TestClaimMailConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		const mails, workers = 300, 6
		rows := make([]ImportRow, mails)
		for i := range rows {
			rows[i] = ImportRow{Email: fmt.Sprintf("cc%d@example.com", i)}
		}
		if rep, err := s.Import(ctx, slices.Values(rows), StatusPending, t0); err != nil || rep.Imported != mails {
			t.Fatalf("import: %+v %v", rep, err)
		}
		var (
			mu     sync.Mutex
			claims = map[int64]int{}
			wg     sync.WaitGroup
		)
		for w := range workers {
			wg.Go(func() {
				for {
					got, err := s.ClaimMail(ctx, fmt.Sprint("worker", w), 7, time.Hour, t0.Add(time.Minute))
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, m := range got {
						if err := s.MarkMailSent(ctx, m.Claim, m.ID, "id", t0.Add(time.Minute)); err != nil {
							t.Error(err)
						}
						mu.Lock()
						claims[m.ID]++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if len(claims) != mails {
			t.Errorf("%d distinct emails claimed, want %d", len(claims), mails)
		}
		for id, n := range claims {
			if n != 1 {
				t.Errorf("email %d claimed %d times", id, n)
			}
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE status = 'sent' AND attempts = 1"); n != mails {
			t.Errorf("%d sent once, want %d", n, mails)
		}
	})
}

// A worker that dies leaves its emails leased; once the lease runs out
// another worker takes them, and the first can no longer report on them.
func TestMailLeaseExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		mustSubscribe(t, s, "lease@example.com", t0)
		a, _ := s.ClaimMail(ctx, "A", 1, time.Minute, t0)
		if len(a) != 1 {
			t.Fatal("nothing claimed")
		}
		if b, _ := s.ClaimMail(ctx, "B", 1, time.Minute, t0.Add(59*time.Second)); len(b) != 0 {
			t.Fatal("claimed while the lease runs")
		}
		b, err := s.ClaimMail(ctx, "B", 1, time.Minute, t0.Add(time.Minute))
		if err != nil || len(b) != 1 || b[0].ID != a[0].ID || b[0].Attempts != 2 {
			t.Fatalf("re-claim: %+v %v", b, err)
		}
		var by string
		s.queryRow(ctx, "SELECT locked_by FROM mail_queue WHERE id = ?", b[0].ID).Scan(&by)
		if by != b[0].Claim {
			t.Errorf("locked_by %q, want B's claim %q", by, b[0].Claim)
		}
		if err := s.MarkMailSent(ctx, b[0].Claim, b[0].ID, "b-id", t0.Add(61*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.RetryMail(ctx, a[0].Claim, a[0].ID, t0.Add(time.Hour), "A woke up"); !errors.Is(err, ErrConflict) {
			t.Errorf("stale worker's retry: %v, want ErrConflict", err)
		}
		if err := s.FailMail(ctx, a[0].Claim, a[0].ID, "A woke up", t0.Add(time.Hour)); !errors.Is(err, ErrConflict) {
			t.Errorf("stale worker's fail: %v, want ErrConflict", err)
		}
	})
}

// A claim whose lease ran out is fenced off by the claim that took its
// emails over, even one by the same worker name (a restarted process, or
// the same worker's next claim): none of its updates applies.
func TestStaleClaimIsFenced(t *testing.T) {
	tests := []struct {
		name  string
		stale func(ctx context.Context, s *Store, claim string, id int64) error // nil: refused, as it must be
	}{
		{"mark sent", func(ctx context.Context, s *Store, c string, id int64) error {
			return conflictOnly(s.MarkMailSent(ctx, c, id, "<stale>", t0.Add(2*time.Minute)))
		}},
		{"mark many sent", func(ctx context.Context, s *Store, c string, id int64) error {
			n, err := s.MarkMailsSent(ctx, c, []SentMail{{ID: id, MessageID: "<stale>"}}, t0.Add(2*time.Minute))
			return noneChanged(n, err)
		}},
		{"retry", func(ctx context.Context, s *Store, c string, id int64) error {
			return conflictOnly(s.RetryMail(ctx, c, id, t0.Add(time.Hour), "stale"))
		}},
		{"give up", func(ctx context.Context, s *Store, c string, id int64) error {
			return conflictOnly(s.FailMail(ctx, c, id, "stale", t0.Add(2*time.Minute)))
		}},
		{"release", func(ctx context.Context, s *Store, c string, id int64) error {
			n, err := s.ReleaseMail(ctx, c, []int64{id}, t0.Add(2*time.Minute))
			return noneChanged(n, err)
		}},
		{"renew", func(ctx context.Context, s *Store, c string, id int64) error {
			held, err := s.RenewMailLease(ctx, c, time.Hour, t0.Add(2*time.Minute))
			return noneChanged(len(held), err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, s *Store) {
				ctx := ctxT(t)
				mustSubscribe(t, s, "fence@example.com", t0)
				old, _ := s.ClaimMail(ctx, "host:42", 1, time.Minute, t0)
				cur, _ := s.ClaimMail(ctx, "host:42", 1, time.Minute, t0.Add(time.Minute))
				if len(old) != 1 || len(cur) != 1 || cur[0].ID != old[0].ID {
					t.Fatalf("claims %+v and %+v, want the same email twice", old, cur)
				}
				if err := tt.stale(ctx, s, old[0].Claim, old[0].ID); err != nil {
					t.Fatalf("the stale claim's update: %v", err)
				}
				var status, by string
				var until int64
				s.queryRow(ctx, "SELECT status, locked_by, locked_until FROM mail_queue WHERE id = ?", cur[0].ID).Scan(&status, &by, &until)
				if status != "sending" || by != cur[0].Claim || until != t0.Add(2*time.Minute).UnixMicro() {
					t.Fatalf("after the stale update: %s by %q until %d; want untouched", status, by, until)
				}
				if err := s.MarkMailSent(ctx, cur[0].Claim, cur[0].ID, "<current>", t0.Add(90*time.Second)); err != nil {
					t.Fatalf("the current claim: %v", err)
				}
			})
		})
	}
}

func conflictOnly(err error) error {
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return fmt.Errorf("got %v, want ErrConflict", err)
}

func noneChanged(n int, err error) error {
	if err != nil || n != 0 {
		return fmt.Errorf("changed %d emails (%v), want none", n, err)
	}
	return nil
}

// Renewing extends the lease of what the claim still holds, not of what
// it finished, and tells it which emails it lost.
func TestRenewMailLease(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for i := range 3 {
			mustSubscribe(t, s, fmt.Sprintf("renew%d@example.com", i), t0)
		}
		a, _ := s.ClaimMail(ctx, "A", 3, time.Minute, t0)
		if len(a) != 3 {
			t.Fatalf("claimed %d", len(a))
		}
		claim := a[0].Claim
		if err := s.MarkMailSent(ctx, claim, a[0].ID, "<0>", t0.Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		held, err := s.RenewMailLease(ctx, claim, time.Minute, t0.Add(50*time.Second))
		if err != nil || !slices.Equal(held, []int64{a[1].ID, a[2].ID}) {
			t.Fatalf("renewal holds %v (%v), want %d and %d", held, err, a[1].ID, a[2].ID)
		}
		if got := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE id = ? AND locked_until IS NULL", a[0].ID); got != 1 {
			t.Error("the renewal leased the sent email again")
		}
		if b, _ := s.ClaimMail(ctx, "B", 3, time.Minute, t0.Add(100*time.Second)); len(b) != 0 {
			t.Fatalf("B took %d emails whose lease was renewed", len(b))
		}
		// A stalls past the renewed lease; B takes one email over.
		b, _ := s.ClaimMail(ctx, "B", 1, time.Minute, t0.Add(110*time.Second))
		if len(b) != 1 || b[0].ID != a[1].ID {
			t.Fatalf("B claimed %+v, want email %d", b, a[1].ID)
		}
		held, err = s.RenewMailLease(ctx, claim, time.Minute, t0.Add(111*time.Second))
		if err != nil || !slices.Equal(held, []int64{a[2].ID}) {
			t.Fatalf("A's late renewal holds %v (%v), want only %d", held, err, a[2].ID)
		}
		if _, err := s.RenewMailLease(ctx, claim, 0, t0); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("lease 0: %v", err)
		}
	})
}

// A worker shutting down hands back what it has not tried: due at once
// for anyone, its attempt not counted.
func TestReleaseMail(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		mustSubscribe(t, s, "r1@example.com", t0)
		mustSubscribe(t, s, "r2@example.com", t0)
		a, _ := s.ClaimMail(ctx, "A", 2, time.Hour, t0)
		if len(a) != 2 {
			t.Fatalf("claimed %d", len(a))
		}
		if n, err := s.ReleaseMail(ctx, "A:not-the-claim", []int64{a[0].ID, a[1].ID}, t0); n != 0 || err != nil {
			t.Fatalf("release under another token = %d, %v", n, err)
		}
		if n, err := s.ReleaseMail(ctx, a[0].Claim, []int64{a[1].ID, 987654}, t0.Add(time.Minute)); n != 1 || err != nil {
			t.Fatalf("release = %d, %v; want 1", n, err)
		}
		b, err := s.ClaimMail(ctx, "B", 2, time.Hour, t0.Add(time.Minute))
		if err != nil || len(b) != 1 || b[0].ID != a[1].ID || b[0].Attempts != 1 {
			t.Fatalf("B claimed %+v (%v), want email %d at its first attempt", b, err, a[1].ID)
		}
	})
}

func TestNextMailDue(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		if _, ok, err := s.NextMailDue(ctx); err != nil || ok {
			t.Fatalf("empty queue: ok %v err %v", ok, err)
		}
		mustSubscribe(t, s, "a@example.com", t0)
		mustSubscribe(t, s, "b@example.com", t0.Add(time.Second))
		if due, ok, _ := s.NextMailDue(ctx); !ok || !due.Equal(t0) {
			t.Errorf("due %v %v, want %v", due, ok, t0)
		}
		got, _ := s.ClaimMail(ctx, "w", 2, 10*time.Minute, t0.Add(2*time.Second))
		if len(got) != 2 {
			t.Fatal("claim")
		}
		if due, ok, _ := s.NextMailDue(ctx); !ok || !due.Equal(t0.Add(2*time.Second+10*time.Minute)) {
			t.Errorf("due %v, want the lease's end", due)
		}
		s.RetryMail(ctx, got[0].Claim, got[0].ID, t0.Add(3*time.Minute), "later")
		if due, _, _ := s.NextMailDue(ctx); !due.Equal(t0.Add(3 * time.Minute)) {
			t.Errorf("due %v, want the retry time", due)
		}
		s.FailMail(ctx, got[1].Claim, got[1].ID, "x", t0)
		s.MarkMailSent(ctx, got[0].Claim, got[0].ID, "x", t0) // not sending any more: conflict, ignored
		if due, _, _ := s.NextMailDue(ctx); !due.Equal(t0.Add(3 * time.Minute)) {
			t.Errorf("due %v, want the retry time", due)
		}
	})
}

// A confirmation says whether the whitepaper was asked for, as it stands
// when the email goes out (a second signup may have added the wish).
func TestClaimedMailCarriesWhitepaperWish(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		mustSubscribe(t, s, "plain@example.com", t0)
		if _, _, err := s.Subscribe(ctx, SignupRequest{Email: "wish@example.com"}, t0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Subscribe(ctx, SignupRequest{Email: "wish@example.com", WantsWhitepaper: true}, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, err := s.ClaimMail(ctx, "w", 10, time.Minute, t0.Add(time.Hour))
		if err != nil || len(got) != 2 {
			t.Fatalf("claimed %+v, %v", got, err)
		}
		if got[0].To != "plain@example.com" || got[0].WantsWhitepaper || got[1].To != "wish@example.com" || !got[1].WantsWhitepaper {
			t.Errorf("claimed %+v", got)
		}
	})
}

func TestMarkMailsSent(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for i := range 7 {
			mustSubscribe(t, s, fmt.Sprintf("bulk%d@example.com", i), t0)
		}
		claimed, err := s.ClaimMail(ctx, "w", 10, time.Hour, t0)
		if err != nil || len(claimed) != 7 {
			t.Fatalf("claimed %d, %v", len(claimed), err)
		}
		// One of them was taken over and finished by another worker.
		if err := s.FailMail(ctx, claimed[6].Claim, claimed[6].ID, "elsewhere", t0); err != nil {
			t.Fatal(err)
		}
		var sent []SentMail
		for i, m := range claimed {
			sent = append(sent, SentMail{ID: m.ID, MessageID: fmt.Sprintf("<%d@mg>", i)})
		}
		sent = append(sent, SentMail{ID: 987654, MessageID: "<unknown>"})
		n, err := s.MarkMailsSent(ctx, claimed[0].Claim, sent, t0.Add(time.Minute))
		if err != nil || n != 6 {
			t.Fatalf("MarkMailsSent = %d, %v; want 6", n, err)
		}
		if got := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE status = 'sent' AND message_id LIKE '<%@mg>'"); got != 6 {
			t.Fatalf("%d rows sent, want 6", got)
		}
		if got := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE status = 'failed'"); got != 1 {
			t.Fatalf("the failed email was overwritten")
		}
		if n, err := s.MarkMailsSent(ctx, claimed[0].Claim, nil, t0); n != 0 || err != nil {
			t.Fatalf("empty MarkMailsSent = %d, %v", n, err)
		}
	})
}
