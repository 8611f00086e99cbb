package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCreateCampaignBatching(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		// Subscribers who must never be recipients.
		mustSubscribe(t, s, "pending@example.com", t0)
		u := mustConfirmed(t, s, "left@example.com", t0)
		s.Unsubscribe(ctx, u.ID, "", t0)

		seeded := 0
		for _, tt := range []struct{ confirmed, batchSize int }{
			{0, 0}, {1, 0}, {999, 0}, {1000, 0}, {1001, 0}, {2500, 0}, {2500, 7},
		} {
			t.Run(fmt.Sprintf("%d_by_%d", tt.confirmed, tt.batchSize), func(t *testing.T) {
				if tt.confirmed > seeded {
					seedConfirmed(t, s, seeded+1, tt.confirmed-seeded)
					seeded = tt.confirmed
				}
				size := tt.batchSize
				if size == 0 {
					size = MaxBatchSize
				}
				slug := fmt.Sprintf("guide-%d-%d", tt.confirmed, tt.batchSize)
				c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: slug, Title: "Guide", Subject: "Nowy poradnik",
					BatchSize: tt.batchSize, DeliverAt: t0.Add(time.Hour)}, t0)
				if err != nil {
					t.Fatal(err)
				}
				wantBatches := (tt.confirmed + size - 1) / size
				if c.Recipients != tt.confirmed || c.Batches != wantBatches || c.State != CampaignPending ||
					c.BatchSize != size || !c.DeliverAt.Equal(t0.Add(time.Hour)) || !c.CreatedAt.Equal(t0) {
					t.Fatalf("campaign %+v; want %d recipients in %d batches", c, tt.confirmed, wantBatches)
				}
				batches, err := s.Batches(ctx, c.ID)
				if err != nil || len(batches) != wantBatches {
					t.Fatalf("%d batches, %v; want %d", len(batches), err, wantBatches)
				}
				var all []Recipient
				for i, b := range batches {
					wantSize := size
					if i == len(batches)-1 {
						wantSize = tt.confirmed - size*(len(batches)-1)
					}
					if b.Seq != i || b.Size != wantSize || b.State != BatchPending || b.CampaignID != c.ID || b.Attempts != 0 {
						t.Errorf("batch %d: %+v, want seq %d size %d", i, b, i, wantSize)
					}
					rs, err := s.BatchRecipients(ctx, b.ID)
					if err != nil {
						t.Fatal(err)
					}
					if len(rs) != wantSize {
						t.Errorf("batch %d has %d recipients, want %d", i, len(rs), wantSize)
					}
					all = append(all, rs...)
				}
				// Batches follow subscriber ids, each recipient exactly once.
				for i, r := range all {
					if want := fmt.Sprintf("user%d@example.com", i+1); r.Email != want || r.Name != fmt.Sprintf("User %d", i+1) {
						t.Fatalf("recipient %d is %+v, want %s", i, r, want)
					}
				}
			})
		}
	})
}

func TestCreateCampaignRefuses(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		if _, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "a", Subject: "A"}, t0); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			spec CampaignSpec
			want error
		}{
			{"same slug", CampaignSpec{Slug: "a", Subject: "again"}, ErrCampaignExists},
			{"same slug padded", CampaignSpec{Slug: " a ", Subject: "again"}, ErrCampaignExists},
			{"empty slug", CampaignSpec{Slug: " ", Subject: "x"}, ErrInvalidInput},
			{"empty subject", CampaignSpec{Slug: "b"}, ErrInvalidInput},
			{"batch too big", CampaignSpec{Slug: "b", Subject: "x", BatchSize: MaxBatchSize + 1}, ErrInvalidInput},
			{"negative batch", CampaignSpec{Slug: "b", Subject: "x", BatchSize: -1}, ErrInvalidInput},
			{"subject header injection", CampaignSpec{Slug: "b", Subject: "x\r\nBcc: all@example.com"}, ErrInvalidInput},
			{"slug too long", CampaignSpec{Slug: strings.Repeat("s", 201), Subject: "x"}, ErrInvalidInput},
		}
		for _, tt := range tests {
			if _, err := s.CreateCampaign(ctx, tt.spec, t0); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
		if list, _ := s.Campaigns(ctx); len(list) != 1 {
			t.Errorf("%d campaigns, want 1", len(list))
		}
	})
}

func TestBatchTransitions(t *testing.T) {
	type step struct {
		op      string
		batch   int // index; -1: an id that does not exist
		want    error
		state   BatchState
		attempt int
	}
	steps := []step{
		{"finish", 0, ErrConflict, BatchPending, 0},
		{"unknown", 0, ErrConflict, BatchPending, 0},
		{"resolve", 0, ErrConflict, BatchPending, 0},
		{"start", 0, nil, BatchSending, 1},
		{"start", 0, ErrConflict, BatchSending, 1},
		{"unknown", 0, nil, BatchUnknown, 1},
		{"unknown", 0, ErrConflict, BatchUnknown, 1},
		{"finish", 0, ErrConflict, BatchUnknown, 1},
		{"start", 0, nil, BatchSending, 2},
		{"finish", 0, nil, BatchSent, 2},
		{"finish", 0, ErrConflict, BatchSent, 2},
		{"start", 0, ErrConflict, BatchSent, 2},
		{"unknown", 0, ErrConflict, BatchSent, 2},
		{"resolve", 0, ErrConflict, BatchSent, 2},
		{"fail", 0, ErrConflict, BatchSent, 2},
		{"fail", 1, nil, BatchFailed, 0},
		{"start", 1, ErrConflict, BatchFailed, 0},
		{"fail", 1, ErrConflict, BatchFailed, 0},
		{"start", -1, ErrNotFound, "", 0},
		{"finish", -1, ErrNotFound, "", 0},
		{"unknown", -1, ErrNotFound, "", 0},
		{"resolve", -1, ErrNotFound, "", 0},
		{"fail", -1, ErrNotFound, "", 0},
	}
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for i := range 3 {
			mustConfirmed(t, s, fmt.Sprintf("b%d@example.com", i), t0)
		}
		c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "g", Subject: "G", BatchSize: 1}, t0)
		if err != nil {
			t.Fatal(err)
		}
		batches, _ := s.Batches(ctx, c.ID)
		for i, st := range steps {
			id := int64(987654)
			if st.batch >= 0 {
				id = batches[st.batch].ID
			}
			now := t0.Add(time.Duration(i) * time.Minute)
			var err error
			switch st.op {
			case "start":
				err = s.StartBatch(ctx, id, now)
			case "finish":
				err = s.FinishBatch(ctx, id, "<batch@mailgun>", now)
			case "unknown":
				err = s.MarkBatchUnknown(ctx, id, "timeout")
			case "resolve":
				_, _, err = s.ResolveBatch(ctx, id, nil, now)
			case "fail":
				err = s.FailBatch(ctx, id, "given up")
			}
			if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
				t.Fatalf("step %d %s batch %d: %v, want %v", i, st.op, st.batch, err, st.want)
			}
			if st.batch < 0 {
				continue
			}
			b, err := s.Batch(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if b.State != st.state || b.Attempts != st.attempt {
				t.Fatalf("step %d %s: batch %s attempts %d, want %s %d", i, st.op, b.State, b.Attempts, st.state, st.attempt)
			}
		}
		b0, _ := s.Batch(ctx, batches[0].ID)
		if b0.MessageID != "<batch@mailgun>" || b0.SentAt.IsZero() || b0.Error != "" {
			t.Errorf("sent batch %+v", b0)
		}
		c, _ = s.Campaign(ctx, c.ID)
		if c.Sent != 1 || c.Failed != 1 || c.Skipped != 0 || c.Resolved != 0 {
			t.Errorf("counters %+v", c)
		}
	})
}

func TestBatchRecipientsSkipsNoLongerConfirmed(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		var subs []Subscriber
		for i := range 6 {
			subs = append(subs, mustConfirmed(t, s, fmt.Sprintf("r%d@example.com", i), t0))
		}
		c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "skip", Subject: "S"}, t0)
		if err != nil || c.Recipients != 6 {
			t.Fatal(c, err)
		}
		s.Unsubscribe(ctx, subs[1].ID, "", t0)
		s.SetStatusByEmail(ctx, subs[2].Email, StatusBounced, "", t0)
		s.SetStatusByEmail(ctx, subs[3].Email, StatusComplained, "", t0)
		if _, err := s.Erase(ctx, subs[4].Email, t0); err != nil {
			t.Fatal(err)
		}
		// A subscriber who joined after the campaign was created is not in it.
		mustConfirmed(t, s, "late@example.com", t0)
		batches, _ := s.Batches(ctx, c.ID)
		for range 2 { // asking twice counts nothing twice
			rs, err := s.BatchRecipients(ctx, batches[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].SubscriberID != subs[0].ID || rs[1].SubscriberID != subs[5].ID {
				t.Fatalf("recipients %+v, want r0 and r5", rs)
			}
		}
		c, _ = s.Campaign(ctx, c.ID)
		if c.Skipped != 4 || c.Recipients != 6 {
			t.Errorf("skipped %d of %d, want 4 of 6", c.Skipped, c.Recipients)
		}
		s.StartBatch(ctx, batches[0].ID, t0)
		if err := s.FinishBatch(ctx, batches[0].ID, "m", t0); err != nil {
			t.Fatal(err)
		}
		c, _ = s.Campaign(ctx, c.ID)
		if c.Sent != 2 || c.Skipped != 4 {
			t.Errorf("after send: %+v", c)
		}
		if _, err := s.BatchRecipients(ctx, 98765); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown batch: %v", err)
		}
	})
}

func TestResolveBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		var subs []Subscriber
		for i := range 4 {
			subs = append(subs, mustConfirmed(t, s, fmt.Sprintf("Res%d@Example.com", i), t0))
		}
		c, _ := s.CreateCampaign(ctx, CampaignSpec{Slug: "res", Subject: "R"}, t0)
		batches, _ := s.Batches(ctx, c.ID)
		id := batches[0].ID
		s.StartBatch(ctx, id, t0)
		s.MarkBatchUnknown(ctx, id, "timeout after POST")
		accepted := []string{"RES0@EXAMPLE.COM", "res1@example.com", "stranger@example.com", "not an address", ""}
		resolved, remaining, err := s.ResolveBatch(ctx, id, accepted, t0.Add(time.Minute))
		if err != nil || resolved != 2 || remaining != 2 {
			t.Fatalf("resolve: %d resolved, %d remaining, %v; want 2, 2", resolved, remaining, err)
		}
		if b, _ := s.Batch(ctx, id); b.State != BatchPending {
			t.Errorf("batch %s, want pending again", b.State)
		}
		rs, _ := s.BatchRecipients(ctx, id)
		if len(rs) != 2 || rs[0].SubscriberID != subs[2].ID || rs[1].SubscriberID != subs[3].ID {
			t.Fatalf("left to send: %+v", rs)
		}
		if err := s.StartBatch(ctx, id, t0); err != nil {
			t.Fatal(err)
		}
		s.MarkBatchUnknown(ctx, id, "timeout again")
		// Everyone left turns out delivered: the batch is done.
		resolved, remaining, err = s.ResolveBatch(ctx, id, []string{"res2@example.com", "res3@example.com"}, t0.Add(2*time.Minute))
		if err != nil || resolved != 2 || remaining != 0 {
			t.Fatalf("second resolve: %d %d %v", resolved, remaining, err)
		}
		b, _ := s.Batch(ctx, id)
		if b.State != BatchSent || b.Attempts != 2 {
			t.Errorf("batch %+v, want sent after 2 attempts", b)
		}
		c, _ = s.Campaign(ctx, c.ID)
		if c.Resolved != 4 || c.Sent != 0 {
			t.Errorf("counters %+v", c)
		}
		var states []string
		rows, _ := s.query(ctx, "SELECT state FROM campaign_recipients WHERE campaign_id = ? ORDER BY subscriber_id", c.ID)
		for rows.Next() {
			var st string
			rows.Scan(&st)
			states = append(states, st)
		}
		rows.Close()
		if strings.Join(states, ",") != "resolved,resolved,resolved,resolved" {
			t.Errorf("recipient states %v", states)
		}
	})
}

func TestCampaignLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for i := range 3 {
			mustConfirmed(t, s, fmt.Sprintf("l%d@example.com", i), t0)
		}
		c, _ := s.CreateCampaign(ctx, CampaignSpec{Slug: "life", Title: "Life", Subject: "L", BatchSize: 2, TestMode: true}, t0)
		empty, _ := s.CreateCampaign(ctx, CampaignSpec{Slug: "empty-later", Subject: "E"}, t0)
		if !c.TestMode || c.Batches != 2 {
			t.Fatalf("campaign %+v", c)
		}
		if err := s.FinishCampaign(ctx, c.ID, t0); !errors.Is(err, ErrConflict) {
			t.Errorf("finish before start: %v", err)
		}
		if err := s.StartCampaign(ctx, c.ID, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.StartCampaign(ctx, c.ID, t0.Add(time.Minute)); !errors.Is(err, ErrConflict) {
			t.Errorf("second start: %v", err)
		}
		if err := s.FinishCampaign(ctx, c.ID, t0); !errors.Is(err, ErrConflict) {
			t.Errorf("finish with pending batches: %v", err)
		}
		batches, _ := s.Batches(ctx, c.ID)
		s.StartBatch(ctx, batches[0].ID, t0)
		s.FinishBatch(ctx, batches[0].ID, "m1", t0)
		if err := s.FailBatch(ctx, batches[1].ID, "rejected: 400"); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishCampaign(ctx, c.ID, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := s.CampaignBySlug(ctx, "life")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != CampaignSent || !got.StartedAt.Equal(t0.Add(time.Minute)) || !got.FinishedAt.Equal(t0.Add(time.Hour)) ||
			got.Sent != 2 || got.Failed != 1 || got.Recipients != 3 {
			t.Errorf("finished campaign %+v", got)
		}
		for name, err := range map[string]error{
			"finish again": s.FinishCampaign(ctx, c.ID, t0),
			"fail sent":    s.FailCampaign(ctx, c.ID, "x", t0),
			"start sent":   s.StartCampaign(ctx, c.ID, t0),
		} {
			if !errors.Is(err, ErrConflict) {
				t.Errorf("%s: %v, want ErrConflict", name, err)
			}
		}
		unfinished, _ := s.UnfinishedCampaigns(ctx)
		if len(unfinished) != 1 || unfinished[0].ID != empty.ID {
			t.Errorf("unfinished %+v", unfinished)
		}
		if err := s.FailCampaign(ctx, empty.ID, "no guide", t0); err != nil {
			t.Fatal(err)
		}
		if e, _ := s.Campaign(ctx, empty.ID); e.State != CampaignFailed || e.Error != "no guide" {
			t.Errorf("failed campaign %+v", e)
		}
		if unfinished, _ := s.UnfinishedCampaigns(ctx); len(unfinished) != 0 {
			t.Errorf("unfinished %+v", unfinished)
		}
		if all, _ := s.Campaigns(ctx); len(all) != 2 || all[0].ID != c.ID {
			t.Errorf("campaigns %+v", all)
		}
		if _, err := s.Campaign(ctx, 4242); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown campaign: %v", err)
		}
		if _, err := s.CampaignBySlug(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown slug: %v", err)
		}
		if err := s.StartCampaign(ctx, 4242, t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("start unknown: %v", err)
		}
	})
}
