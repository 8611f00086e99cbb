package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// A guide's recipients are the confirmed readers in subscriber order, cut
// into full batches (the last one the rest), whatever the gaps in the ids
// left by those who are not confirmed. SQLite numbers them one batch per
// statement; PostgreSQL with a window: both must agree.
func TestCreateCampaignNumbersBatchesInOrder(t *testing.T) {
	tests := []struct {
		name          string
		subscribers   int
		unconfirmedAt func(i int) bool
		batchSize     int
		wantSizes     []int
	}{
		{"none", 0, nil, 10, nil},
		{"one", 1, nil, 10, []int{1}},
		{"exactly one batch", 10, nil, 10, []int{10}},
		{"one over", 11, nil, 10, []int{10, 1}},
		{"exact multiple", 30, nil, 10, []int{10, 10, 10}},
		{"gaps", 40, func(i int) bool { return i%3 == 0 }, 7, []int{7, 7, 7, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, s *Store) {
				ctx := ctxT(t)
				var want []int64
				for i := range tt.subscribers {
					addr := fmt.Sprintf("n%03d@example.com", i)
					if tt.unconfirmedAt != nil && tt.unconfirmedAt(i) {
						mustSubscribe(t, s, addr, t0)
						continue
					}
					want = append(want, mustConfirmed(t, s, addr, t0).ID)
				}
				c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "order", Subject: "S", BatchSize: tt.batchSize}, t0)
				if err != nil {
					t.Fatal(err)
				}
				if c.Recipients != len(want) || c.Batches != len(tt.wantSizes) {
					t.Fatalf("campaign: %d recipients in %d batches, want %d in %d", c.Recipients, c.Batches, len(want), len(tt.wantSizes))
				}
				batches, err := s.Batches(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for i, b := range batches {
					if b.Seq != i || b.Size != tt.wantSizes[i] {
						t.Errorf("batch %d: seq %d size %d, want size %d", i, b.Seq, b.Size, tt.wantSizes[i])
					}
					rs, err := s.BatchRecipients(ctx, b.ID)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range rs {
						got = append(got, r.SubscriberID)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("recipients in batch order %v, want %v", got, want)
				}
			})
		})
	}
}

// A sent batch leaves its recipients' rows as they were: the pending ones
// count as sent, at the batch's time, in the counters and in a person's
// data; one skipped before the call stays skipped, and the batch has no
// one left to send to.
func TestSentBatchImpliesItsPendingRecipients(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		stay := mustConfirmed(t, s, "stay@example.com", t0)
		gone := mustConfirmed(t, s, "gone@example.com", t0)
		c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "implied", Title: "Implied", Subject: "S"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Unsubscribe(ctx, gone.ID, "test", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		batches, _ := s.Batches(ctx, c.ID)
		b := batches[0]
		rs, err := s.BatchRecipients(ctx, b.ID)
		if err != nil || len(rs) != 1 || rs[0].SubscriberID != stay.ID {
			t.Fatalf("recipients %+v, %v; want only %d", rs, err, stay.ID)
		}
		sentAt := t0.Add(time.Minute)
		if err := s.StartBatch(ctx, b.ID, sentAt); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishBatch(ctx, b.ID, "<m@mg>", sentAt); err != nil {
			t.Fatal(err)
		}
		if rs, err := s.BatchRecipients(ctx, b.ID); err != nil || len(rs) != 0 {
			t.Errorf("a sent batch still has %d to send to (%v)", len(rs), err)
		}
		if got, _ := s.Campaign(ctx, c.ID); got.Sent != 1 || got.Skipped != 1 {
			t.Errorf("counters: sent %d skipped %d, want 1 and 1", got.Sent, got.Skipped)
		}
		for _, tc := range []struct {
			email string
			state RecipientState
			at    time.Time
		}{{"stay@example.com", RecipientSent, sentAt}, {"gone@example.com", RecipientSkipped, time.Time{}}} {
			p, err := s.Person(ctx, tc.email)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Deliveries) != 1 || p.Deliveries[0].State != tc.state || !p.Deliveries[0].SentAt.Equal(tc.at) {
				t.Errorf("%s: deliveries %+v, want %s at %v", tc.email, p.Deliveries, tc.state, tc.at)
			}
		}
	})
}
