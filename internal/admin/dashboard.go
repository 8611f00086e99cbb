package admin

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/kbpress/kb/internal/report"
	"github.com/kbpress/kb/internal/store"
)

// Reports gives the dashboard's figures; *report.Reporter has it.
type Reports interface {
	Overview(ctx context.Context, now time.Time) (report.Overview, error)
	Campaigns(ctx context.Context, limit int) ([]report.CampaignRow, error)
	Campaign(ctx context.Context, id int64) (report.CampaignDetail, error)
	Sources(ctx context.Context, since time.Time) (report.Sources, error)
}

// campaignsShown caps the campaigns table (newest first).
const campaignsShown = 500

type overviewData struct {
	report.Overview
	MonthChart, WeekChart template.HTML
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, _ session) {
	if h.reports == nil {
		h.render(w, http.StatusOK, "message", page{Title: "Przegląd", Nav: "overview", LoggedIn: true, Message: "Brak danych."})
		return
	}
	o, err := h.reports.Overview(r.Context(), h.now())
	if err != nil {
		h.log.Error("admin: overview", "err", err)
		h.fail(w, r)
		return
	}
	d := overviewData{Overview: o, MonthChart: o.MonthChart(), WeekChart: o.WeekChart()}
	h.render(w, http.StatusOK, "overview", page{Title: "Przegląd", Nav: "overview", LoggedIn: true, Data: &d})
}

type sourcesData struct {
	report.Sources
	Days    int
	Periods []int
}

func (h *Handler) sources(w http.ResponseWriter, r *http.Request, _ session) {
	days := 90
	if v, err := strconv.Atoi(r.URL.Query().Get("dni")); err == nil && (v == 30 || v == 90 || v == 365) {
		days = v
	}
	d := sourcesData{Days: days, Periods: []int{30, 90, 365}}
	if h.reports != nil {
		s, err := h.reports.Sources(r.Context(), h.now().AddDate(0, 0, -days))
		if err != nil {
			h.log.Error("admin: sources", "err", err)
			h.fail(w, r)
			return
		}
		d.Sources = s
	}
	h.render(w, http.StatusOK, "sources", page{Title: "Źródła zapisów", Nav: "sources", LoggedIn: true, Data: &d})
}

func (h *Handler) campaigns(w http.ResponseWriter, r *http.Request, _ session) {
	var rows []report.CampaignRow
	if h.reports != nil {
		var err error
		if rows, err = h.reports.Campaigns(r.Context(), campaignsShown); err != nil {
			h.log.Error("admin: campaigns", "err", err)
			h.fail(w, r)
			return
		}
	}
	h.render(w, http.StatusOK, "campaigns", page{Title: "Kampanie", Nav: "campaigns", LoggedIn: true, Data: rows})
}

type campaignData struct {
	report.CampaignDetail
	Chart  template.HTML
	Labels []string
}

func (h *Handler) campaign(w http.ResponseWriter, r *http.Request, s session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 || h.reports == nil {
		h.notFound(w, r, s)
		return
	}
	c, err := h.reports.Campaign(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		h.notFound(w, r, s)
		return
	}
	if err != nil {
		h.log.Error("admin: campaign", "err", err)
		h.fail(w, r)
		return
	}
	d := campaignData{CampaignDetail: c}
	series := []report.Series{{Name: "Doręczone"}, {Name: "Trwałe błędy"}, {Name: "Przejściowe błędy"}, {Name: "Skargi"}, {Name: "Wypisania"}}
	for _, p := range c.Timeline {
		d.Labels = append(d.Labels, p.Hour.In(h.loc).Format("2.01 15:00"))
		for i, v := range []int{p.Delivered, p.PermanentFailures, p.TemporaryFailures, p.Complaints, p.Unsubscribes} {
			series[i].Values = append(series[i].Values, float64(v))
		}
	}
	if len(c.Timeline) > 0 {
		d.Chart = report.BarChart("Przebieg kampanii godzina po godzinie",
			"Doręczenia, błędy, skargi i wypisania w kolejnych godzinach; te same liczby są w tabeli obok.", d.Labels, series)
	}
	title := c.Title
	if title == "" {
		title = c.Slug
	}
	h.render(w, http.StatusOK, "campaign", page{Title: fmt.Sprintf("Kampania: %s", title), Nav: "campaigns", LoggedIn: true, Data: &d})
}
