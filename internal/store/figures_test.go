package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestOverviewFigures checks the overview's numbers against a history
// whose figures are known.
func TestOverviewFigures(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		day := 24 * time.Hour
		signup := func(email string, at time.Time) Subscriber { return mustSubscribe(t, s, email, at) }
		confirm := func(sub Subscriber, issued, at time.Time) {
			t.Helper()
			if _, out, err := s.Confirm(ctx, sub.Link(), "", issued, at); err != nil || out != ConfirmDone {
				t.Fatalf("confirm %s: %v %v", sub.Email, out, err)
			}
		}
		status := func(email string, st Status, at time.Time) {
			t.Helper()
			if _, err := s.SetStatusByEmail(ctx, email, st, "test", at); err != nil {
				t.Fatal(err)
			}
		}
		a := signup("a@example.com", t0)
		confirm(a, t0, t0.Add(time.Hour))
		b := signup("b@example.com", t0.Add(day))
		confirm(b, t0.Add(day), t0.Add(day+3*time.Hour))
		status("b@example.com", StatusUnsubscribed, t0.Add(10*day))
		signup("c@example.com", t0.Add(2*day)) // never confirms
		d := signup("d@example.com", t0.Add(3*day))
		confirm(d, t0.Add(3*day), t0.Add(3*day+5*time.Hour))
		status("d@example.com", StatusBounced, t0.Add(20*day))
		status("d@example.com", StatusComplained, t0.Add(25*day)) // left at the bounce
		signup("e@example.com", t0.Add(4*day))
		status("e@example.com", StatusBounced, t0.Add(5*day)) // the confirmation bounced: never a reader
		f := signup("f@example.com", t0)
		confirm(f, t0, t0.Add(2*time.Hour))
		status("f@example.com", StatusUnsubscribed, t0.Add(6*day))
		f = signup("f@example.com", t0.Add(8*day)) // signs up again
		confirm(f, t0.Add(8*day), t0.Add(8*day+time.Hour))

		at := []time.Time{t0.Add(30 * time.Minute), t0.Add(7 * day), t0.Add(9 * day), t0.Add(15 * day), t0.Add(30 * day)}
		weeks := []time.Time{t0, t0.Add(7 * day), t0.Add(14 * day), t0.Add(21 * day), t0.Add(28 * day)}
		got, err := s.OverviewFigures(ctx, FiguresQuery{ConfirmedAt: at, Periods: weeks, Since: t0})
		if err != nil {
			t.Fatal(err)
		}
		if got.Confirmed != 2 {
			t.Errorf("confirmed now %d, want 2 (a, f)", got.Confirmed)
		}
		// 30 min: nobody yet; 7 days: a, b, d (f left on day 6); 9 days: f
		// is back; 15: b left; 30: d bounced.
		if want := []int{0, 3, 4, 3, 2}; !slices.Equal(got.ConfirmedAt, want) {
			t.Errorf("confirmed at month ends %v, want %v", got.ConfirmedAt, want)
		}
		want := []Flow{
			{Signups: 6, Confirmations: 4, Unsubscribes: 1, Bounces: 1},
			{Signups: 1, Confirmations: 1, Unsubscribes: 1},
			{Bounces: 1},
			{Complaints: 1},
		}
		if !slices.Equal(got.Periods, want) {
			t.Errorf("weeks\n%+v, want\n%+v", got.Periods, want)
		}
		// a, b, c, d, e and f's new signup; a (1 h), b (3 h), d (5 h) and f
		// (1 h) confirmed: the median of 1, 1, 3, 5 hours is 2 hours.
		if got.Signups != 6 || got.SignupsConfirmed != 4 || got.MedianToConfirm != 2*time.Hour {
			t.Errorf("signups %d, confirmed %d, median %s; want 6, 4, 2h", got.Signups, got.SignupsConfirmed, got.MedianToConfirm)
		}
		later, err := s.OverviewFigures(ctx, FiguresQuery{Since: t0.Add(3 * day)})
		if err != nil {
			t.Fatal(err)
		}
		// d (5 h), e, f (1 h): an odd count's median is the middle one.
		if later.Signups != 3 || later.SignupsConfirmed != 2 || later.MedianToConfirm != 3*time.Hour || later.Last != nil {
			t.Errorf("since day 3: %+v", later)
		}
		empty, err := s.OverviewFigures(ctx, FiguresQuery{Since: t0.Add(100 * day)})
		if err != nil || empty.Signups != 0 || empty.MedianToConfirm != 0 {
			t.Errorf("no signups: %+v, %v", empty, err)
		}
	})
}

// sentCampaign creates a campaign to n confirmed subscribers and marks
// every batch accepted.
func sentCampaign(t *testing.T, s *Store, slug string, n int) Campaign {
	t.Helper()
	ctx := ctxT(t)
	c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: slug, Title: "Poradnik " + slug, Subject: "S"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartCampaign(ctx, c.ID, t0); err != nil {
		t.Fatal(err)
	}
	batches, err := s.Batches(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := s.StartBatch(ctx, b.ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishBatch(ctx, b.ID, "<m@mailgun>", t0); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestCampaignFiguresFromWebhooks(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		subs := make([]Subscriber, 8)
		for i := range subs {
			subs[i] = mustConfirmed(t, s, fmt.Sprintf("r%d@example.com", i), t0)
		}
		c := sentCampaign(t, s, "pierwszy", len(subs))
		hour := t0.Add(2 * time.Hour)
		record := func(tok string, ev WebhookEvent, at time.Time) bool {
			t.Helper()
			ev.Token, ev.Reason = tok, "test"
			seen, _, err := s.RecordWebhook(ctx, ev, at)
			if err != nil {
				t.Fatal(err)
			}
			return seen
		}
		for i := range 5 {
			record(fmt.Sprint("d", i), WebhookEvent{CampaignID: c.ID, Stat: StatDelivered}, hour)
		}
		if !record("d0", WebhookEvent{CampaignID: c.ID, Stat: StatDelivered}, hour) {
			t.Error("replayed webhook not seen")
		}
		record("p", WebhookEvent{Email: subs[5].Email, Status: StatusBounced, CampaignID: c.ID, Stat: StatPermanentFailure}, hour)
		record("tmp", WebhookEvent{CampaignID: c.ID, Stat: StatTemporaryFailure}, hour.Add(time.Hour))
		record("cmp", WebhookEvent{Email: subs[7].Email, Status: StatusComplained, CampaignID: c.ID, Stat: StatComplained}, hour.Add(time.Hour))
		record("nobody", WebhookEvent{CampaignID: c.ID + 100, Stat: StatDelivered}, hour) // no such campaign: counted nowhere
		if _, _, err := s.RecordWebhook(ctx, WebhookEvent{Token: "bad", CampaignID: c.ID, Stat: "bogus"}, hour); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("unknown figure: %v", err)
		}
		// Unsubscribes: from this campaign's email, again (counted once),
		// and with a campaign id the reader was not a recipient of.
		other, err := s.CreateCampaign(ctx, CampaignSpec{Slug: "empty", Title: "E", Subject: "S"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		late := mustConfirmed(t, s, "late@example.com", t0.Add(time.Hour)) // not a recipient of c
		for i, tt := range []struct {
			sub      Subscriber
			campaign int64
		}{{subs[0], c.ID}, {subs[0], c.ID}, {subs[1], other.ID + 1}, {subs[2], 999}, {late, c.ID}} {
			if _, _, err := s.UnsubscribeLinkFrom(ctx, tt.sub.Link(), tt.campaign, "test", hour); err != nil {
				t.Fatalf("unsubscribe %d: %v", i, err)
			}
		}
		rows, err := s.CampaignFigures(ctx, 10)
		if err != nil || len(rows) != 2 {
			t.Fatalf("campaign figures %v, %v", rows, err)
		}
		if rows[0].ID != other.ID || rows[0].Recipients != 6 || rows[0].Delivered != 0 {
			t.Errorf("newest first: %+v", rows[0])
		}
		got := rows[1]
		want := CampaignFigures{ID: c.ID, Slug: "pierwszy", Title: "Poradnik pierwszy", Kind: "guide", Date: t0,
			Recipients: 8, Accepted: 8, Delivered: 5, PermanentFailures: 1, TemporaryFailures: 1, Complaints: 1, Unsubscribes: 1}
		if got != want {
			t.Errorf("campaign row\n%+v, want\n%+v", got, want)
		}
		// The temporary failure suppressed nobody; the others did.
		for i, st := range map[int]Status{5: StatusBounced, 6: StatusConfirmed, 7: StatusComplained, 1: StatusUnsubscribed} {
			if sub, _ := s.Get(ctx, subs[i].ID); sub.Status != st {
				t.Errorf("subscriber %d: %s, want %s", i, sub.Status, st)
			}
		}
		row, hours, err := s.CampaignTimeline(ctx, c.ID)
		if err != nil || row != want {
			t.Fatalf("timeline row %+v, %v", row, err)
		}
		wantHours := []HourFigures{
			{Hour: hour.Truncate(time.Hour), Delivered: 5, PermanentFailures: 1, Unsubscribes: 1},
			{Hour: hour.Add(time.Hour).Truncate(time.Hour), TemporaryFailures: 1, Complaints: 1},
		}
		if !slices.Equal(hours, wantHours) {
			t.Errorf("timeline\n%+v, want\n%+v", hours, wantHours)
		}
		if _, _, err := s.CampaignTimeline(ctx, c.ID+100); !errors.Is(err, ErrNotFound) {
			t.Errorf("no such campaign: %v", err)
		}
		last, err := s.OverviewFigures(ctx, FiguresQuery{})
		if err != nil || last.Last == nil || last.Last.ID != other.ID {
			t.Errorf("last campaign %+v, %v", last.Last, err)
		}
	})
}

func TestSourceFigures(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for i, src := range []string{"/poradniki/a/", "/poradniki/a/", "/", "/poradniki/a/"} {
			sub, _, err := s.Subscribe(ctx, SignupRequest{Email: fmt.Sprintf("s%d@example.com", i), WantsWhitepaper: i == 0,
				Consent: Consent{Version: "1", Source: src, IP: "192.0.2.1", At: t0}}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if i < 2 {
				if _, _, err := s.Confirm(ctx, sub.Link(), "", t0, t0.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
		}
		sub, _ := s.GetByEmail(ctx, "s0@example.com")
		// A download manager's range requests within the hour are one
		// download; the next hour's is another.
		for i, tt := range []struct {
			at   time.Duration
			want bool
		}{{time.Hour, true}, {time.Hour + time.Minute, false}, {2*time.Hour + time.Second, true}} {
			if got, err := s.RecordWhitepaperDownload(ctx, sub.ID, t0.Add(tt.at)); err != nil || got != tt.want {
				t.Errorf("download %d: %v %v, want %v", i, got, err, tt.want)
			}
		}
		if got, err := s.RecordWhitepaperDownload(ctx, sub.ID+100, t0); err != nil || got {
			t.Errorf("unknown subscriber: %v %v", got, err)
		}
		pages, req, dl, err := s.SourceFigures(ctx, t0.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []SourceFigures{{"/poradniki/a/", 3, 2}, {"/", 1, 0}}
		if !slices.Equal(pages, want) || req != 1 || dl != 2 {
			t.Errorf("pages %v, whitepaper %d requests %d downloads; want %v, 1, 2", pages, req, dl, want)
		}
		if pages, _, _, _ := s.SourceFigures(ctx, t0.Add(time.Hour)); len(pages) != 0 {
			t.Errorf("since later: %v", pages)
		}
	})
}
