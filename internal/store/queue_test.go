package store

import (
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
			want := QueuedMail{ID: m.ID, Kind: MailConfirm, SubscriberID: subs[i].ID, To: subs[i].Email, Name: "Ola",
				Attempts: 1, CreatedAt: subs[i].CreatedAt}
			if m != want {
				t.Errorf("mail %d = %+v, want %+v", i, m, want)
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

		id := first[0].ID
		if err := s.MarkMailSent(ctx, id, "<msg@mailgun>", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkMailSent(ctx, id, "<other>", t0.Add(time.Minute)); !errors.Is(err, ErrConflict) {
			t.Errorf("second MarkMailSent: %v, want ErrConflict", err)
		}
		if err := s.RetryMail(ctx, id, t0.Add(time.Hour), "late"); !errors.Is(err, ErrConflict) {
			t.Errorf("RetryMail on a sent email: %v, want ErrConflict", err)
		}
		if err := s.FailMail(ctx, 99999, "x", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("FailMail unknown: %v, want ErrNotFound", err)
		}

		retry := first[1].ID
		if err := s.RetryMail(ctx, retry, t0.Add(5*time.Minute), "421 try later\n"+strings.Repeat("x", 5000)); err != nil {
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
		if err := s.FailMail(ctx, retry, "550 no such user", t0.Add(6*time.Minute)); err != nil {
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
						if err := s.MarkMailSent(ctx, m.ID, "id", t0.Add(time.Minute)); err != nil {
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
		if by != "B" {
			t.Errorf("locked_by %q, want B", by)
		}
		if err := s.MarkMailSent(ctx, b[0].ID, "b-id", t0.Add(61*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.RetryMail(ctx, a[0].ID, t0.Add(time.Hour), "A woke up"); !errors.Is(err, ErrConflict) {
			t.Errorf("stale worker's retry: %v, want ErrConflict", err)
		}
		if err := s.FailMail(ctx, a[0].ID, "A woke up", t0.Add(time.Hour)); !errors.Is(err, ErrConflict) {
			t.Errorf("stale worker's fail: %v, want ErrConflict", err)
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
		s.RetryMail(ctx, got[0].ID, t0.Add(3*time.Minute), "later")
		if due, _, _ := s.NextMailDue(ctx); !due.Equal(t0.Add(3 * time.Minute)) {
			t.Errorf("due %v, want the retry time", due)
		}
		s.FailMail(ctx, got[1].ID, "x", t0)
		s.MarkMailSent(ctx, got[0].ID, "x", t0) // not sending any more: conflict, ignored
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
		if err := s.FailMail(ctx, claimed[6].ID, "elsewhere", t0); err != nil {
			t.Fatal(err)
		}
		var sent []SentMail
		for i, m := range claimed {
			sent = append(sent, SentMail{ID: m.ID, MessageID: fmt.Sprintf("<%d@mg>", i)})
		}
		sent = append(sent, SentMail{ID: 987654, MessageID: "<unknown>"})
		n, err := s.MarkMailsSent(ctx, sent, t0.Add(time.Minute))
		if err != nil || n != 6 {
			t.Fatalf("MarkMailsSent = %d, %v; want 6", n, err)
		}
		if got := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE status = 'sent' AND message_id LIKE '<%@mg>'"); got != 6 {
			t.Fatalf("%d rows sent, want 6", got)
		}
		if got := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE status = 'failed'"); got != 1 {
			t.Fatalf("the failed email was overwritten")
		}
		if n, err := s.MarkMailsSent(ctx, nil, t0); n != 0 || err != nil {
			t.Fatalf("empty MarkMailsSent = %d, %v", n, err)
		}
	})
}
