package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var knownTopics = []string{"rozmowy", "pieniadze", "prawo"}

func mustPrefs(t testing.TB, s *Store, sub Subscriber, freq Frequency, topics ...string) {
	t.Helper()
	if _, _, err := s.SetPreferences(ctxT(t), sub.Link(), PreferencesUpdate{Topics: topics, Known: knownTopics, Frequency: freq}, t0); err != nil {
		t.Fatalf("preferences of %s: %v", sub.Email, err)
	}
}

func TestSetPreferences(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for _, tt := range []struct {
			name    string
			topics  []string
			freq    Frequency
			wantErr error
			want    PreferencesChange
			wantOff []string
		}{
			{name: "same as the default", topics: knownTopics, freq: FrequencyEach, want: PreferencesChange{}},
			{name: "one topic off", topics: []string{"rozmowy", "prawo"}, freq: FrequencyEach,
				want: PreferencesChange{Removed: []string{"pieniadze"}}, wantOff: []string{"pieniadze"}},
			{name: "digest and one topic", topics: []string{"prawo"}, freq: FrequencyDigest,
				want: PreferencesChange{Removed: []string{"rozmowy"}, Frequency: FrequencyDigest}, wantOff: []string{"rozmowy", "pieniadze"}},
			{name: "topics back", topics: []string{"prawo", "rozmowy", "pieniadze"}, freq: FrequencyDigest,
				want: PreferencesChange{Added: []string{"rozmowy", "pieniadze"}}},
			{name: "unknown topic", topics: []string{"prawo", "krypto"}, freq: FrequencyEach, wantErr: ErrInvalidInput},
			{name: "unknown frequency", topics: knownTopics, freq: "hourly", wantErr: ErrInvalidInput},
			{name: "no topic unsubscribes", topics: nil, freq: FrequencyDigest, want: PreferencesChange{Unsubscribed: true}},
			{name: "then inactive", topics: knownTopics, freq: FrequencyEach, wantErr: ErrInactive},
		} {
			t.Run(tt.name, func(t *testing.T) {
				sub, err := s.GetByEmail(ctx, "prefs@example.com")
				if errors.Is(err, ErrNotFound) {
					sub, err = mustConfirmed(t, s, "prefs@example.com", t0), nil
				}
				if err != nil {
					t.Fatal(err)
				}
				got, ch, err := s.SetPreferences(ctx, sub.Link(), PreferencesUpdate{Topics: tt.topics, Known: knownTopics, Frequency: tt.freq}, t0.Add(time.Hour))
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				if err != nil {
					return
				}
				if fmt.Sprint(ch) != fmt.Sprint(tt.want) {
					t.Errorf("change %+v, want %+v", ch, tt.want)
				}
				stored, _ := s.Get(ctx, sub.ID)
				if fmt.Sprint(stored.TopicsOff) != fmt.Sprint(got.TopicsOff) || stored.Frequency != got.Frequency || stored.Status != got.Status {
					t.Errorf("returned %+v, stored %+v", got, stored)
				}
				if tt.want.Unsubscribed {
					if stored.Status != StatusUnsubscribed {
						t.Errorf("status %s, want unsubscribed", stored.Status)
					}
					return
				}
				if fmt.Sprint(stored.TopicsOff) != fmt.Sprint(tt.wantOff) || stored.Frequency != tt.freq {
					t.Errorf("stored off %v freq %s, want %v %s", stored.TopicsOff, stored.Frequency, tt.wantOff, tt.freq)
				}
			})
		}
		t.Run("another row's key", func(t *testing.T) {
			sub := mustConfirmed(t, s, "key@example.com", t0)
			link := sub.Link()
			link.Key = "0123456789abcdef01234567"
			if _, _, err := s.SetPreferences(ctx, link, PreferencesUpdate{Topics: knownTopics, Known: knownTopics, Frequency: FrequencyEach}, t0); !errors.Is(err, ErrNotFound) {
				t.Errorf("err %v, want ErrNotFound", err)
			}
		})
		t.Run("confirming again starts from every topic and each guide", func(t *testing.T) {
			sub := mustConfirmed(t, s, "again@example.com", t0)
			mustPrefs(t, s, sub, FrequencyDigest, "prawo")
			if _, _, err := s.Unsubscribe(ctx, sub.ID, "", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			again, _, err := s.Subscribe(ctx, SignupRequest{Email: sub.Email}, t0.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			got, out, err := s.Confirm(ctx, again.Link(), "", t0.Add(2*time.Hour), t0.Add(2*time.Hour))
			if err != nil || out != ConfirmDone {
				t.Fatal(out, err)
			}
			stored, _ := s.Get(ctx, sub.ID)
			for _, x := range []Subscriber{got, stored} {
				if x.Frequency != FrequencyEach || len(x.TopicsOff) != 0 {
					t.Errorf("after confirming again: %s %v", x.Frequency, x.TopicsOff)
				}
			}
		})
	})
}

// recipientsOf lists a campaign's recipients' addresses, sorted.
func recipientsOf(t testing.TB, s *Store, campaignID int64) []string {
	t.Helper()
	rows, err := s.query(ctxT(t), "SELECT email FROM campaign_recipients WHERE campaign_id = ? ORDER BY email", campaignID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSuffix(e, "@example.com"))
	}
	return out
}

// digestOf maps each digest recipient to the slugs of their guides.
func digestOf(t testing.TB, s *Store, c Campaign) map[string]string {
	t.Helper()
	batches, err := s.Batches(ctxT(t), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range batches {
		var slugs []string
		for _, id := range strings.Split(b.Variant, ",") {
			var slug string
			if err := s.queryRow(ctxT(t), "SELECT slug FROM campaigns WHERE id = ?", id).Scan(&slug); err != nil {
				t.Fatalf("batch %d variant %q: %v", b.Seq, b.Variant, err)
			}
			slugs = append(slugs, slug)
		}
		rs, err := s.BatchRecipients(ctxT(t), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			name := strings.TrimSuffix(r.Email, "@example.com")
			if _, dup := out[name]; dup {
				t.Errorf("%s is in two batches of the digest", name)
			}
			out[name] = strings.Join(slugs, " ")
		}
	}
	return out
}

func TestTopicsAndDigests(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		sub := func(name string, freq Frequency, topics ...string) Subscriber {
			x := mustConfirmed(t, s, name+"@example.com", t0)
			mustPrefs(t, s, x, freq, topics...)
			return x
		}
		sub("all", FrequencyEach, knownTopics...)
		sub("noprawo", FrequencyEach, "rozmowy", "pieniadze")
		onlyPrawo := sub("onlyprawo", FrequencyEach, "prawo")
		switcher := sub("switcher", FrequencyDigest, knownTopics...)
		sub("dnoprawo", FrequencyDigest, "rozmowy", "pieniadze")
		dropper := sub("dropper", FrequencyDigest, "rozmowy", "prawo")
		mustSubscribe(t, s, "pending@example.com", t0)

		guide := func(slug string, topics ...string) Campaign {
			c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: slug, Subject: slug, Topics: topics}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != KindGuide || fmt.Sprint(c.Topics) != fmt.Sprint(topics) && len(topics) > 0 {
				t.Errorf("campaign %+v", c)
			}
			return c
		}
		check := func(c Campaign, want ...string) {
			t.Helper()
			if got := recipientsOf(t, s, c.ID); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s went to %v, want %v", c.Slug, got, want)
			}
		}

		g1 := guide("g1-prawo", "prawo")
		check(g1, "all", "onlyprawo")
		// The switcher moves to each guide: g1 waits for their last digest,
		// g2 comes on its own; neither twice, neither lost.
		mustPrefs(t, s, switcher, FrequencyEach, knownTopics...)
		g2 := guide("g2-everyone")
		check(g2, "all", "noprawo", "onlyprawo", "switcher")
		// The dropper turns prawo off after g1 and g3 were queued for them:
		// a digest lists only guides still on their topics.
		g3 := guide("g3-rozmowy-prawo", "rozmowy", "prawo")
		check(g3, "all", "noprawo", "onlyprawo", "switcher")
		mustPrefs(t, s, dropper, FrequencyDigest, "rozmowy")
		// onlyprawo moves to the digest: g4 waits for it.
		mustPrefs(t, s, onlyPrawo, FrequencyDigest, "prawo")
		g4 := guide("g4-prawo", "prawo")
		check(g4, "all", "switcher")

		if n, err := s.DigestWaiting(ctx); err != nil || n != 4 {
			t.Errorf("DigestWaiting = %d, %v; want 4", n, err)
		}
		// On the digest now: dnoprawo, dropper, onlyprawo; waiting also the
		// switcher's last digest.
		if st, err := s.Stats(ctx); err != nil || st.Digest != 3 || st.DigestWaiting != 4 {
			t.Errorf("Stats digest %d waiting %d (%v); want 3 and 4", st.Digest, st.DigestWaiting, err)
		}
		d, err := s.CreateDigest(ctx, CampaignSpec{Slug: "digest-1", Subject: "Przegląd", BatchSize: 1}, t0)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"switcher":  "g1-prawo",
			"dnoprawo":  "g2-everyone g3-rozmowy-prawo",
			"dropper":   "g2-everyone g3-rozmowy-prawo", // g1 (prawo only) dropped, g3 also rozmowy
			"onlyprawo": "g4-prawo",
		}
		if got := digestOf(t, s, d); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("digest\n%v\nwant\n%v", got, want)
		}
		if d.Kind != KindDigest || d.Recipients != 4 || d.Batches != 4 {
			t.Errorf("digest campaign %+v", d)
		}
		// A second digest right after has nobody to send to.
		if n, _ := s.DigestWaiting(ctx); n != 0 {
			t.Errorf("DigestWaiting after the digest = %d", n)
		}
		d2, err := s.CreateDigest(ctx, CampaignSpec{Slug: "digest-2", Subject: "Przegląd"}, t0)
		if err != nil || d2.Recipients != 0 || d2.Batches != 0 {
			t.Errorf("second digest %+v %v", d2, err)
		}
		if _, err := s.CreateDigest(ctx, CampaignSpec{Slug: "digest-2", Subject: "Przegląd"}, t0); !errors.Is(err, ErrCampaignExists) {
			t.Errorf("same slug again: %v", err)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM digest_items"); n != 0 {
			t.Errorf("%d digest items left", n)
		}
	})
}

func TestDigestBatchesKeepOneBodyEach(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		seedConfirmed(t, s, 1, 23)
		// Odd users get the digest on every topic, even users on rozmowy only.
		if err := s.tx(ctx, func(tx *txn) error {
			_, err := tx.exec(`UPDATE subscribers SET frequency = 'digest',
				topics_off = CASE WHEN id % 2 = 0 THEN 'pieniadze,prawo' ELSE '' END`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, g := range []struct {
			slug   string
			topics []string
		}{{"a", []string{"prawo"}}, {"b", []string{"rozmowy"}}, {"c", nil}} {
			if _, err := s.CreateCampaign(ctx, CampaignSpec{Slug: g.slug, Subject: g.slug, Topics: g.topics}, t0); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.CreateDigest(ctx, CampaignSpec{Slug: "digest", Subject: "Przegląd", BatchSize: 5}, t0)
		if err != nil {
			t.Fatal(err)
		}
		// 12 odd users (a b c), 11 even (b c): 3 + 3 batches of at most 5.
		batches, err := s.Batches(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Recipients != 23 || len(batches) != 6 {
			t.Fatalf("%d recipients in %d batches, want 23 in 6", d.Recipients, len(batches))
		}
		variants := map[string]int{}
		for i, b := range batches {
			if b.Seq != i || b.Size < 1 || b.Size > 5 {
				t.Errorf("batch %+v", b)
			}
			variants[b.Variant] += b.Size
			n := countRows(t, s, "SELECT COUNT(DISTINCT variant) FROM campaign_recipients WHERE campaign_id = ? AND batch_seq = ?", d.ID, b.Seq)
			if n != 1 {
				t.Errorf("batch %d mixes %d variants", b.Seq, n)
			}
		}
		counts := slices.Sorted(func(yield func(int) bool) {
			for _, n := range variants {
				if !yield(n) {
					return
				}
			}
		})
		if fmt.Sprint(counts) != "[11 12]" {
			t.Errorf("variants %v", variants)
		}
	})
}

func TestEraseDropsWaitingDigest(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		x := mustConfirmed(t, s, "gone@example.com", t0)
		mustPrefs(t, s, x, FrequencyDigest, knownTopics...)
		if _, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "g", Subject: "g"}, t0); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM digest_items"); n != 1 {
			t.Fatalf("%d waiting", n)
		}
		if err := s.EraseLink(ctx, x.Link(), t0); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM digest_items"); n != 0 {
			t.Errorf("%d waiting after erasure", n)
		}
		if _, err := s.GetByLink(ctx, x.Link()); !errors.Is(err, ErrNotFound) {
			t.Errorf("link after erasure: %v", err)
		}
	})
}

// TestQueueCopyKeepsIDs runs migration 3's copy of mail_queue again on a
// queue whose newest row was deleted: a new row must not get that id back.
func TestQueueCopyKeepsIDs(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			mustSubscribe(t, s, e, t0)
		}
		var maxID int64
		if err := s.queryRow(ctx, "SELECT MAX(id) FROM mail_queue").Scan(&maxID); err != nil {
			t.Fatal(err)
		}
		list, err := migrations()
		if err != nil {
			t.Fatal(err)
		}
		script := list[2].sql
		script = script[strings.Index(script, "CREATE TABLE mail_queue_new"):]
		err = s.tx(ctx, func(tx *txn) error {
			if _, err := tx.exec("DELETE FROM mail_queue WHERE id = ?", maxID); err != nil {
				return err
			}
			for _, st := range statements(s.d.ddl.Replace(script)) {
				if _, err := tx.exec(st); err != nil {
					return fmt.Errorf("%.60s: %w", st, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		mustSubscribe(t, s, "d@example.com", t0)
		var newID int64
		if err := s.queryRow(ctx, "SELECT MAX(id) FROM mail_queue").Scan(&newID); err != nil {
			t.Fatal(err)
		}
		if newID <= maxID {
			t.Errorf("new queue row got id %d, not past the deleted %d", newID, maxID)
		}
		if n := countRows(t, s, "SELECT COUNT(*) FROM mail_queue"); n != 3 {
			t.Errorf("%d rows after the copy, want 3", n)
		}
	})
}
