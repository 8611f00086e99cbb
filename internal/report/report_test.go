package report

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/store"
)

var warsaw = mustZone("Europe/Warsaw")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// fakeStore records the query and answers with canned figures.
type fakeStore struct {
	q       store.FiguresQuery
	figures store.OverviewFigures
}

func (f *fakeStore) OverviewFigures(_ context.Context, q store.FiguresQuery) (store.OverviewFigures, error) {
	f.q = q
	return f.figures, nil
}

func (f *fakeStore) CampaignFigures(context.Context, int) ([]store.CampaignFigures, error) {
	return nil, nil
}

func (f *fakeStore) CampaignTimeline(context.Context, int64) (store.CampaignFigures, []store.HourFigures, error) {
	return store.CampaignFigures{}, nil, store.ErrNotFound
}

func (f *fakeStore) SourceFigures(context.Context, time.Time) ([]store.SourceFigures, int, int, error) {
	return nil, 0, 0, nil
}

// TestOverviewPeriods: months and weeks are Warsaw's, across the change
// of daylight saving time.
func TestOverviewPeriods(t *testing.T) {
	// Wednesday 1 April 2026, 00:30 in Warsaw (summer time since 29 March)
	// is still 31 March in UTC.
	now := time.Date(2026, 4, 1, 0, 30, 0, 0, warsaw)
	fs := &fakeStore{figures: store.OverviewFigures{Confirmed: 7, Signups: 3, SignupsConfirmed: 2,
		ConfirmedAt: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}}
	o, err := New(fs, warsaw).Overview(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Months) != 12 || len(o.Weeks) != 12 || len(fs.q.ConfirmedAt) != 12 || len(fs.q.Periods) != 13 {
		t.Fatalf("%d months, %d weeks; query %d instants, %d bounds", len(o.Months), len(o.Weeks), len(fs.q.ConfirmedAt), len(fs.q.Periods))
	}
	if m := o.Months[11]; !m.Month.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, warsaw)) || m.Confirmed != 12 {
		t.Errorf("current month %v %d", m.Month, m.Confirmed)
	}
	if !o.Months[0].Month.Equal(time.Date(2025, 5, 1, 0, 0, 0, 0, warsaw)) {
		t.Errorf("first month %v, want May 2025", o.Months[0].Month)
	}
	// March ends at midnight Warsaw time (22:00 UTC), the current month now.
	if got, want := fs.q.ConfirmedAt[10], time.Date(2026, 4, 1, 0, 0, 0, 0, warsaw).Add(-time.Microsecond); !got.Equal(want) {
		t.Errorf("end of March %v, want %v", got, want)
	}
	if !fs.q.ConfirmedAt[11].Equal(now) {
		t.Errorf("current month counted at %v, want now", fs.q.ConfirmedAt[11])
	}
	// This week's Monday is 30 March; eleven weeks before it, in winter
	// time, still midnight in Warsaw.
	if got, want := o.Weeks[11].Week, time.Date(2026, 3, 30, 0, 0, 0, 0, warsaw); !got.Equal(want) {
		t.Errorf("this week %v, want %v", got, want)
	}
	if got, want := o.Weeks[0].Week, time.Date(2026, 1, 12, 0, 0, 0, 0, warsaw); !got.Equal(want) {
		t.Errorf("first week %v, want %v", got, want)
	}
	for i, b := range fs.q.Periods {
		if b.In(warsaw).Hour() != 0 || b.In(warsaw).Weekday() != time.Monday {
			t.Errorf("bound %d: %v is not a Monday midnight", i, b)
		}
	}
	if !fs.q.Since.Equal(now.Add(-90 * 24 * time.Hour)) {
		t.Errorf("rate since %v", fs.q.Since)
	}
	if o.Confirmed != 7 || math.Abs(o.ConfirmationRate-2.0/3) > 1e-9 || o.LastCampaign != nil {
		t.Errorf("overview %+v", o)
	}
}

func TestOverviewNoSignups(t *testing.T) {
	o, err := New(&fakeStore{}, warsaw).Overview(context.Background(), time.Now())
	if err != nil || o.ConfirmationRate != 0 || math.IsNaN(o.ConfirmationRate) {
		t.Fatalf("rate %v, %v", o.ConfirmationRate, err)
	}
	if _, err := New(&fakeStore{}, warsaw).Campaign(context.Background(), 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown campaign: %v", err)
	}
}

// TestReporterOnStore runs the reporter over a real store.
func TestReporterOnStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, warsaw)
	sub, _, err := st.Subscribe(ctx, store.SignupRequest{Email: "a@example.pl", Consent: store.Consent{Source: "/poradniki/x/", At: now}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Confirm(ctx, sub.Link(), "", now, now.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateCampaign(ctx, store.CampaignSpec{Slug: "x", Title: "Poradnik X", Subject: "X"}, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RecordWebhook(ctx, store.WebhookEvent{Token: "t1", CampaignID: c.ID, Stat: store.StatDelivered}, now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := New(st, warsaw)
	o, err := r.Overview(ctx, now.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if o.Confirmed != 1 || o.Months[11].Confirmed != 1 || o.Months[10].Confirmed != 0 || o.Weeks[11].Signups != 1 ||
		o.Weeks[11].Confirmations != 1 || o.ConfirmationRate != 1 || o.MedianToConfirm != 90*time.Minute {
		t.Errorf("overview %+v", o)
	}
	if o.LastCampaign == nil || o.LastCampaign.Title != "Poradnik X" || o.LastCampaign.Delivered != 1 || o.LastCampaign.Recipients != 1 {
		t.Errorf("last campaign %+v", o.LastCampaign)
	}
	d, err := r.Campaign(ctx, c.ID)
	if err != nil || len(d.Timeline) != 1 || d.Timeline[0].Delivered != 1 || d.Timeline[0].Hour.Location() != warsaw {
		t.Errorf("campaign %+v, %v", d, err)
	}
	if _, err := r.Campaign(ctx, c.ID+1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown campaign: %v", err)
	}
	src, err := r.Sources(ctx, now.Add(-time.Hour))
	if err != nil || len(src.Pages) != 1 || src.Pages[0] != (Source{"/poradniki/x/", 1, 1}) {
		t.Errorf("sources %+v, %v", src, err)
	}
}
