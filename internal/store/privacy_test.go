package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestImport(t *testing.T) {
	for _, status := range []Status{StatusConfirmed, StatusPending} {
		t.Run(string(status), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, s *Store) {
				ctx := ctxT(t)
				mustSubscribe(t, s, "stored@example.com", t0)
				mustSubscribe(t, s, "erased@example.com", t0)
				if _, err := s.Erase(ctx, "erased@example.com", t0); err != nil {
					t.Fatal(err)
				}
				consent := t0.Add(-365 * 24 * time.Hour)
				rows := []ImportRow{
					{Line: 2, Email: "new@example.com", Name: "Nowy"},
					{Line: 3, Email: "NEW@example.com"},
					{Line: 4, Email: "not-an-address"},
					{Line: 5, Email: "Stored@Example.com"},
					{Line: 6, Email: "ERASED@example.com"},
					{Line: 7, Email: "name@example.com", Name: "Bad\nName"},
					{Line: 8, Email: "old@example.com", ConsentAt: consent, Source: "mailchimp-2024"},
					{Line: 9, Email: "src@example.com", Source: "x\x00"},
					{Email: "noline@example.com"},
				}
				rep, err := s.Import(ctx, slices.Values(rows), status, t0.Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if rep.Read != len(rows) || rep.Imported != 3 {
					t.Errorf("report %+v, want 3 of %d imported", rep, len(rows))
				}
				var got []string
				for _, sk := range rep.Skipped {
					got = append(got, fmt.Sprintf("%d:%s:%s", sk.Line, sk.Email, sk.Reason))
				}
				sort.Strings(got)
				want := []string{
					"3:NEW@example.com:duplicate_in_file",
					"4:not-an-address:invalid_email",
					"5:Stored@example.com:already_stored",
					"6:ERASED@example.com:erased",
					"7:name@example.com:invalid_name",
					"9:src@example.com:invalid_source",
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				old, err := s.GetByEmail(ctx, "old@example.com")
				if err != nil {
					t.Fatal(err)
				}
				if old.Status != status || !old.Consent.At.Equal(consent) || old.Consent.Source != "mailchimp-2024" {
					t.Errorf("imported %+v", old)
				}
				if n, _ := s.GetByEmail(ctx, "new@example.com"); n.Name != "Nowy" || n.Consent.Source != "import" || !n.Consent.At.IsZero() {
					t.Errorf("imported without consent data: %+v", n)
				}
				wantQueued := 0
				if status == StatusPending {
					wantQueued = 3
				}
				if n := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE status = 'queued' AND subscriber_id > 2"); n != wantQueued {
					t.Errorf("%d confirmations queued, want %d", n, wantQueued)
				}
				if n := countRows(t, s, "SELECT COUNT(*) FROM subscriber_events WHERE type = 'imported'"); n != 3 {
					t.Errorf("%d import events, want 3", n)
				}
			})
		})
	}
}

func TestImportLargeAcrossChunks(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		const n = 3*importChunk + 7
		seq := func(yield func(ImportRow) bool) {
			for i := range n {
				// Every 100th row repeats an earlier address, in another chunk.
				email := fmt.Sprintf("bulk%d@example.com", i)
				if i%100 == 99 {
					email = fmt.Sprintf("BULK%d@example.com", i-importChunk-1)
				}
				if !yield(ImportRow{Email: email}) {
					return
				}
			}
		}
		rep, err := s.Import(ctxT(t), seq, StatusConfirmed, t0)
		if err != nil {
			t.Fatal(err)
		}
		dups := 0
		for i := range n {
			if i%100 == 99 && i-importChunk-1 >= 0 {
				dups++
			}
		}
		if len(rep.Skipped) != dups || rep.Imported != n-dups || rep.Read != n {
			t.Errorf("report %d imported, %d skipped of %d; want %d duplicates", rep.Imported, len(rep.Skipped), n, dups)
		}
		for _, sk := range rep.Skipped {
			if sk.Reason != SkipDuplicateInFile || sk.Line%100 != 0 {
				t.Errorf("skipped %+v", sk)
			}
		}
		if got := countRows(t, s, "SELECT COUNT(*) FROM subscribers WHERE status = 'confirmed'"); got != rep.Imported {
			t.Errorf("%d stored, report says %d", got, rep.Imported)
		}
		if _, err := s.Import(ctxT(t), slices.Values([]ImportRow{}), StatusUnsubscribed, t0); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("import as unsubscribed: %v", err)
		}
	})
}

func TestPersonAndErase(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		sub, _, err := s.Subscribe(ctx, SignupRequest{Email: "Ewa@Example.com", Name: "Ewa", WantsWhitepaper: true,
			Consent: Consent{Version: "3", Source: "/o-nas", IP: "198.51.100.7"}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		s.Confirm(ctx, sub.Link(), "", t0, t0.Add(time.Minute))
		other := mustConfirmed(t, s, "other@example.com", t0)
		c, _ := s.CreateCampaign(ctx, CampaignSpec{Slug: "p", Title: "Poradnik", Subject: "P"}, t0.Add(time.Hour))
		// Then Ewa switches to the digest, and the next guide waits for it:
		// erasing her must take that row too (no foreign key does it).
		sub, _ = s.Get(ctx, sub.ID)
		mustPrefs(t, s, sub, FrequencyDigest, knownTopics...)
		if _, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "q", Title: "Drugi", Subject: "Q"}, t0.Add(90*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM digest_items WHERE subscriber_id = ?", sub.ID); n != 1 {
			t.Fatalf("%d guides waiting for Ewa's digest, want 1", n)
		}
		batches, _ := s.Batches(ctx, c.ID)
		s.StartBatch(ctx, batches[0].ID, t0)
		s.FinishBatch(ctx, batches[0].ID, "m", t0.Add(2*time.Hour))

		p, err := s.Person(ctx, "ewa@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if p.Subscriber == nil || p.Subscriber.ID != sub.ID || p.Subscriber.Consent.IP != "198.51.100.7" || p.Erased {
			t.Fatalf("person %+v", p)
		}
		var types []string
		for _, e := range p.Events {
			types = append(types, e.Type)
		}
		if strings.Join(types, ",") != "signup,confirmation_queued,confirmed,welcome_queued,whitepaper_queued,preferences" {
			t.Errorf("events %v", types)
		}
		if len(p.Mails) != 2 || p.Mails[0].Kind != MailConfirm || p.Mails[0].Status != MailCancelled || p.Mails[1].Kind != MailWelcome {
			t.Errorf("mails %+v", p.Mails)
		}
		if len(p.Deliveries) != 1 || p.Deliveries[0].CampaignSlug != "p" || p.Deliveries[0].State != RecipientSent ||
			!p.Deliveries[0].SentAt.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("deliveries %+v", p.Deliveries)
		}
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{`"email":"Ewa@example.com"`, `"subscriber":{`, `"consent":{"at":`, `"whitepaper_requested":true`,
			`"confirmed_at":`, `"events":[`, `"mails":[`, `"deliveries":[`, `"campaign_slug":"p"`, `"erased":false`} {
			if !strings.Contains(string(raw), key) {
				t.Errorf("JSON lacks %s:\n%s", key, raw)
			}
		}
		if strings.Contains(string(raw), "0001-01-01") {
			t.Errorf("JSON shows zero times:\n%s", raw)
		}

		found, err := s.Erase(ctx, "EWA@example.COM", t0.Add(3*time.Hour))
		if err != nil || !found {
			t.Fatalf("erase: %v %v", found, err)
		}
		if _, err := s.Get(ctx, sub.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("subscriber still there: %v", err)
		}
		for _, table := range []string{"subscriber_events", "mail_queue", "digest_items"} {
			if n := countRows(t, s, "SELECT COUNT(*) FROM "+table+" WHERE subscriber_id = ?", sub.ID); n != 0 {
				t.Errorf("%d rows left in %s", n, table)
			}
		}
		var email, name string
		s.queryRow(ctx, "SELECT email, name FROM campaign_recipients WHERE subscriber_id = ?", sub.ID).Scan(&email, &name)
		if email != "" || name != "" {
			t.Errorf("ledger keeps %q %q", email, name)
		}
		if got, _ := s.Campaign(ctx, c.ID); got.Recipients != 2 || got.Sent != 2 {
			t.Errorf("campaign counts changed: %+v", got)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM campaign_recipients WHERE campaign_id = ?", c.ID); n != 2 {
			t.Errorf("%d ledger rows, want 2", n)
		}
		if o, err := s.Get(ctx, other.ID); err != nil || o.Email != "other@example.com" {
			t.Errorf("erase touched another subscriber: %v", err)
		}
		p, err = s.Person(ctx, "ewa@example.com")
		if err != nil || p.Subscriber != nil || !p.Erased || len(p.Events) != 0 || p.Deliveries == nil {
			t.Errorf("after erase: %+v %v", p, err)
		}
		raw, _ = json.Marshal(p)
		if !strings.Contains(string(raw), `"subscriber":null`) || !strings.Contains(string(raw), `"events":[]`) {
			t.Errorf("JSON after erase: %s", raw)
		}
		// Erasing again, or someone never stored, is not an error.
		if found, err := s.Erase(ctx, "ewa@example.com", t0); err != nil || found {
			t.Errorf("erase again: %v %v", found, err)
		}
		if found, err := s.Erase(ctx, "never@example.com", t0); err != nil || found {
			t.Errorf("erase unknown: %v %v", found, err)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM erased"); n != 2 {
			t.Errorf("%d erased hashes, want 2", n)
		}
		if _, err := s.Erase(ctx, "garbage", t0); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("erase invalid: %v", err)
		}
		if _, err := s.Person(ctx, "garbage"); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("person invalid: %v", err)
		}
	})
}

func TestPurgeUnconfirmed(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		day := 24 * time.Hour
		old := mustSubscribe(t, s, "old@example.com", t0)
		mustSubscribe(t, s, "renewed@example.com", t0)
		mustSubscribe(t, s, "renewed@example.com", t0.Add(29*day)) // signs up again: the 30 days still count from t0
		mustSubscribe(t, s, "recent@example.com", t0.Add(10*day))
		back := mustConfirmed(t, s, "back@example.com", t0)
		s.Unsubscribe(ctx, back.ID, "", t0.Add(time.Hour))
		mustSubscribe(t, s, "back@example.com", t0.Add(20*day)) // pending again since day 20: kept
		mustConfirmed(t, s, "confirmed@example.com", t0)
		gone := mustConfirmed(t, s, "gone@example.com", t0)
		s.Unsubscribe(ctx, gone.ID, "", t0)

		n, err := s.PurgeUnconfirmed(ctx, t0.Add(31*day-30*day)) // run on day 31
		if err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want 2 (old, renewed)", n, err)
		}
		if _, err := s.Get(ctx, old.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("old pending subscriber kept: %v", err)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM mail_queue WHERE subscriber_id = ?", old.ID); n != 0 {
			t.Errorf("%d emails of the purged subscriber left", n)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM subscribers"); n != 4 {
			t.Errorf("%d subscribers left, want 4 (recent, confirmed, gone, back)", n)
		}
		if n, err := s.PurgeUnconfirmed(ctx, t0.Add(31*day-30*day)); err != nil || n != 0 {
			t.Errorf("second purge: %d %v", n, err)
		}
	})
}
