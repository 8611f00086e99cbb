package admin_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/admin"
	"github.com/kbpress/kb/internal/report"
	"github.com/kbpress/kb/internal/store"
)

// fakeReports returns fixed figures.
type fakeReports struct{}

var lastCampaign = report.CampaignRow{ID: 7, Slug: "rozmowa", Title: "Rozmowa o fakturze", Kind: "guide", Date: t0,
	Recipients: 7, Accepted: 7, Delivered: 5, PermanentFailures: 1, Complaints: 1, Unsubscribes: 2}

func (fakeReports) Overview(_ context.Context, now time.Time) (report.Overview, error) {
	o := report.Overview{Now: now, Confirmed: 4321, ConfirmationRate: 0.8333, MedianToConfirm: 95 * time.Minute, LastCampaign: &lastCampaign}
	for i := range 12 {
		o.Months = append(o.Months, report.MonthPoint{Month: time.Date(2026, time.Month(i+1), 1, 0, 0, 0, 0, time.UTC), Confirmed: 1000 + 111*i})
		o.Weeks = append(o.Weeks, report.WeekPoint{Week: t0.AddDate(0, 0, 7*(i-11)), Signups: 30 + i, Confirmations: 20 + i, Unsubscribes: 1, Bounces: 2, Complaints: 0})
	}
	return o, nil
}

func (fakeReports) Campaigns(context.Context, int) ([]report.CampaignRow, error) {
	return []report.CampaignRow{lastCampaign}, nil
}

func (fakeReports) Campaign(_ context.Context, id int64) (report.CampaignDetail, error) {
	if id != lastCampaign.ID {
		return report.CampaignDetail{}, fmt.Errorf("campaign %d: %w", id, store.ErrNotFound)
	}
	return report.CampaignDetail{CampaignRow: lastCampaign, Timeline: []report.TimelinePoint{
		{Hour: t0, Delivered: 4, PermanentFailures: 1}, {Hour: t0.Add(time.Hour), Delivered: 1, Complaints: 1, Unsubscribes: 2},
	}}, nil
}

func (fakeReports) Sources(context.Context, time.Time) (report.Sources, error) {
	return report.Sources{Pages: []report.Source{{Path: "/poradniki/rozmowa/", Signups: 12, Confirmed: 9}, {Path: "", Signups: 3}},
		WhitepaperRequests: 17, WhitepaperDownloads: 11}, nil
}

func newDashboard(t *testing.T) *env {
	e := newEnv(t, envOpts{})
	h, err := admin.New(admin.Options{Store: e.st, Reports: fakeReports{}, BaseURL: "http://kb.test/", Now: e.clock.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e
}

func TestDashboardPages(t *testing.T) {
	e := newDashboard(t)
	full := e.login()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/admin/", []string{"4321", "83,3%", "1 godz. 35 min", `role="img"`, "Potwierdzeni subskrybenci w ostatnich 12 miesiącach</title>", "<td class=\"num\">2221</td>",
			"Tydzień po tygodniu", "<td class=\"num\">41</td>", "Rozmowa o fakturze", "<dd>5</dd>", `aria-current="page">Przegląd`}},
		{"/admin/campaigns", []string{"Rozmowa o fakturze", `href="/admin/campaigns/7"`, `<td class="num">5</td>`}},
		{"/admin/campaigns/7", []string{"Kampania: Rozmowa o fakturze", `role="img"`, "Zdarzenia godzina po godzinie", `<td class="num">4</td>`}},
		{"/admin/sources", []string{"/poradniki/rozmowa/", `<td class="num">12</td>`, "<strong>17</strong>", "<strong>11</strong>", "nieznana"}},
		{"/admin/sources?dni=365", []string{`<strong aria-current="page">365 dni</strong>`}},
	} {
		res := e.do(req{path: tc.path, cookie: full})
		page := body(t, res)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", tc.path, res.StatusCode)
			continue
		}
		for _, w := range append(tc.want, `action="/admin/logout"`) {
			if !strings.Contains(page, w) {
				t.Errorf("%s lacks %q", tc.path, w)
			}
		}
		if strings.Contains(page, "<script") || strings.Contains(page, "https://") {
			t.Errorf("%s has a script or an external reference", tc.path)
		}
	}
	for _, p := range []string{"/admin/campaigns/8", "/admin/campaigns/x", "/admin/nothing"} {
		if res := e.do(req{path: p, cookie: full}); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
	}
}
