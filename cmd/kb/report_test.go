package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/store"
)

// seedReport gives the environment's database 3 confirmed readers and a
// campaign to them with delivery reports.
func seedReport(t *testing.T, e env) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(e["KB_DATA"], "kb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for i := range 3 {
		sub, _, err := st.Subscribe(ctx, store.SignupRequest{Email: fmt.Sprintf("r%d@example.pl", i)}, now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Confirm(ctx, sub.Link(), "", now.Add(-time.Hour), now.Add(-30*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := st.CreateCampaign(ctx, store.CampaignSpec{Slug: "rozmowa-o-fakturze", Title: "Rozmowa o fakturze", Subject: "S"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for i, stat := range []string{store.StatDelivered, store.StatDelivered, store.StatPermanentFailure} {
		if _, _, err := st.RecordWebhook(ctx, store.WebhookEvent{Token: fmt.Sprint("t", i), CampaignID: c.ID, Stat: stat}, now); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReportCommand(t *testing.T) {
	e := newEnv(t)
	seedReport(t, e)

	text := mustKB(t, e, "report")
	for _, want := range []string{"Confirmed subscribers", "100.0%", "30m0s", "rozmowa-o-fakturze"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	// The campaign's row: 3 recipients, none accepted yet (never sent), 2
	// delivered, 1 permanent failure.
	if !regexp.MustCompile(`rozmowa-o-fakturze\s+\d{4}-\d\d-\d\d\s+3\s+0\s+2\s+1\s+0\s+0\s+0`).MatchString(text) {
		t.Errorf("campaign row wrong:\n%s", text)
	}

	var got reportOut
	if err := json.Unmarshal([]byte(mustKB(t, e, "report", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Confirmed != 3 || len(got.Months) != 12 || len(got.Weeks) != 12 || got.Months[11].Confirmed != 3 ||
		got.ConfirmationRate != 1 || got.MedianToConfirmSeconds != 1800 || len(got.Campaigns) != 1 {
		t.Errorf("JSON report %+v", got)
	}
	if c := got.LastCampaign; c == nil || c.Recipients != 3 || c.Delivered != 2 || c.PermanentFailures != 1 {
		t.Errorf("last campaign %+v", c)
	}

	file := filepath.Join(t.TempDir(), "raport.html")
	if out := mustKB(t, e, "report", "--html", file); !strings.Contains(out, file) {
		t.Errorf("kb report --html says %q", out)
	}
	page, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<html lang="pl">`, "Rozmowa o fakturze", "<td>3</td>", "<svg", "100,0%"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<link", "src=", "href="} {
		if strings.Contains(string(page), bad) {
			t.Errorf("HTML report is not self-contained: %q", bad)
		}
	}
	if code, _, _ := kb(t, e, "", "report", "--json", "--html", file); code == 0 {
		t.Error("--json with --html accepted")
	}
}
