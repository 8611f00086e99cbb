package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/newsletter"
	"github.com/kbpress/kb/internal/store"
)

// The names the newsletter puts into messages and links are the ones the
// handlers read.
func TestCampaignNamesMatchNewsletter(t *testing.T) {
	if varCampaign != newsletter.VarCampaign || paramCampaign != newsletter.ParamCampaign {
		t.Errorf("web reads %q and %q; the newsletter writes %q and %q",
			varCampaign, paramCampaign, newsletter.VarCampaign, newsletter.ParamCampaign)
	}
}

// figuresCampaign creates a campaign sent to n confirmed subscribers
// r0…r<n-1>@example.pl, every batch accepted.
func figuresCampaign(t *testing.T, e *env, slug string, n int) (store.Campaign, []store.Subscriber) {
	t.Helper()
	ctx := context.Background()
	subs := make([]store.Subscriber, n)
	for i := range subs {
		sub, _, err := e.store.Subscribe(ctx, store.SignupRequest{Email: fmt.Sprintf("r%d@example.pl", i)}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if subs[i], _, err = e.store.Confirm(ctx, sub.Link(), "", t0, t0); err != nil {
			t.Fatal(err)
		}
	}
	c, err := e.store.CreateCampaign(ctx, store.CampaignSpec{Slug: slug, Title: "Poradnik", Subject: "S"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	batches, err := e.store.Batches(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := e.store.StartBatch(ctx, b.ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := e.store.FinishBatch(ctx, b.ID, "m", t0); err != nil {
			t.Fatal(err)
		}
	}
	return c, subs
}

func (e *env) postWebhook(w mailguntest.Webhook) int {
	e.t.Helper()
	if w.Timestamp == 0 {
		w.Timestamp = e.clock.Now().Unix()
	}
	r := httptest.NewRequest(http.MethodPost, webhookPath, bytes.NewReader(w.JSON(testWebhookKey)))
	r.Header.Set("Content-Type", "application/json")
	return e.do(r).Code
}

func (e *env) campaignRow(id int64) store.CampaignFigures {
	e.t.Helper()
	rows, err := e.store.CampaignFigures(context.Background(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows {
		if r.ID == id {
			return r
		}
	}
	e.t.Fatalf("no campaign %d in %+v", id, rows)
	return store.CampaignFigures{}
}

// TestWebhookCampaignFigures: a campaign and a set of webhooks → those
// numbers on its row.
func TestWebhookCampaignFigures(t *testing.T) {
	for _, tracking := range []bool{false, true} {
		t.Run(fmt.Sprint("tracking=", tracking), func(t *testing.T) {
			e := newEnv(t, func(c *envConfig) { c.newsletter.Tracking = tracking })
			c, subs := figuresCampaign(t, e, "pierwszy", 8)
			vars := map[string]string{newsletter.VarCampaign: strconv.FormatInt(c.ID, 10)}
			hook := func(event, email string) mailguntest.Webhook {
				return mailguntest.Webhook{Event: event, Recipient: email, UserVariables: vars}
			}
			for i := range 5 {
				if code := e.postWebhook(hook("delivered", subs[i].Email)); code != 200 {
					t.Fatalf("delivered: %d", code)
				}
			}
			bounce := mailguntest.PermanentFailure(subs[5].Email)
			bounce.UserVariables = vars
			temporary := mailguntest.PermanentFailure(subs[6].Email)
			temporary.UserVariables, temporary.Severity = vars, "temporary"
			complaint := mailguntest.Complaint(subs[7].Email)
			complaint.UserVariables = vars
			replayed := hook("delivered", subs[0].Email)
			replayed.Token = "replayed-delivery"
			for _, w := range []mailguntest.Webhook{bounce, temporary, complaint, replayed, hook("opened", subs[0].Email),
				hook("clicked", subs[1].Email), {Event: "delivered", Recipient: subs[1].Email}} {
				if code := e.postWebhook(w); code != 200 {
					t.Fatalf("%s: %d", w.Event, code)
				}
			}
			if code := e.postWebhook(replayed); code != http.StatusNotAcceptable {
				t.Fatalf("replay: %d", code)
			}
			want := store.CampaignFigures{ID: c.ID, Slug: "pierwszy", Title: "Poradnik", Kind: "guide", Date: c.CreatedAt,
				Recipients: 8, Accepted: 8, Delivered: 6, PermanentFailures: 1, TemporaryFailures: 1, Complaints: 1}
			if tracking {
				want.Opens, want.Clicks = 1, 1
			}
			if got := e.campaignRow(c.ID); got != want {
				t.Errorf("campaign row\n%+v, want\n%+v", got, want)
			}
			// The temporary failure suppressed nobody.
			for i, st := range map[int]store.Status{5: store.StatusBounced, 6: store.StatusConfirmed, 7: store.StatusComplained} {
				if got := e.subscriber(subs[i].Email).Status; got != st {
					t.Errorf("%s: %s, want %s", subs[i].Email, got, st)
				}
			}
		})
	}
}

// TestUnsubscribeAttribution: the unsubscribe link's campaign counts the
// unsubscribe when the reader got that campaign; any other value is
// ignored and the reader is unsubscribed all the same.
func TestUnsubscribeAttribution(t *testing.T) {
	e := newEnv(t)
	c, subs := figuresCampaign(t, e, "pierwszy", 4)
	ctx := context.Background()
	stranger, _, err := e.store.Subscribe(ctx, store.SignupRequest{Email: "stranger@example.pl"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(c.ID, 10)
	// The page's button posts the campaign back.
	page := e.get(relative(t, e.links.Unsubscribe(subs[0].ID, subs[0].LinkKey)) + "&c=" + id).Body.String()
	if !strings.Contains(page, "&amp;c="+id+`"`) {
		t.Errorf("the unsubscribe page's form does not carry the campaign:\n%s", page)
	}
	for i, tt := range []struct {
		sub store.Subscriber
		c   string
	}{
		{subs[0], id},
		{subs[0], id}, // again: counted once
		{subs[1], strconv.FormatInt(c.ID+1, 10)},
		{subs[2], "abc"},
		{subs[3], ""},
		{stranger, id}, // not a recipient
	} {
		target := relative(t, e.links.Unsubscribe(tt.sub.ID, tt.sub.LinkKey))
		if tt.c != "" {
			target += "&c=" + tt.c
		}
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader("List-Unsubscribe=One-Click"))
		r.Header.Set("Content-Type", mediaForm)
		if w := e.do(r); w.Code != 200 {
			t.Fatalf("unsubscribe %d: %d", i, w.Code)
		}
		if got := e.subscriber(tt.sub.Email).Status; got != store.StatusUnsubscribed {
			t.Errorf("unsubscribe %d: status %s", i, got)
		}
	}
	if got := e.campaignRow(c.ID).Unsubscribes; got != 1 {
		t.Errorf("campaign unsubscribes %d, want 1", got)
	}
}

// TestWhitepaperDownloadCounted: a gated download is an event, once an
// hour however many range requests fetch it.
func TestWhitepaperDownloadCounted(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.gated = true })
	ctx := context.Background()
	sub, _, err := e.store.Subscribe(ctx, store.SignupRequest{Email: "ewa@example.pl", WantsWhitepaper: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if sub, _, err = e.store.Confirm(ctx, sub.Link(), "", t0, t0); err != nil {
		t.Fatal(err)
	}
	download := relative(t, e.links.Whitepaper(sub.ID, sub.LinkKey, t0.Add(3*time.Hour)))
	for _, rng := range []string{"", "bytes=0-9", "bytes=10-"} {
		r := httptest.NewRequest(http.MethodGet, download, nil)
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		if w := e.do(r); w.Code != http.StatusOK && w.Code != http.StatusPartialContent {
			t.Fatalf("download %q: %d", rng, w.Code)
		}
	}
	e.clock.Advance(2 * time.Hour)
	if w := e.get(download); w.Code != http.StatusOK {
		t.Fatalf("download later: %d", w.Code)
	}
	if w := e.do(httptest.NewRequest(http.MethodHead, download, nil)); w.Code != http.StatusOK {
		t.Fatalf("HEAD: %d", w.Code)
	}
	_, requests, downloads, err := e.store.SourceFigures(ctx, t0.Add(-time.Hour))
	if err != nil || downloads != 2 || requests != 1 {
		t.Errorf("whitepaper requests %d, downloads %d, %v; want 1, 2", requests, downloads, err)
	}
}

func TestWebhookCampaign(t *testing.T) {
	for _, tt := range []struct {
		vars string
		want int64
	}{
		{`{"kb-campaign": "12", "kb-batch": "12-0"}`, 12},
		{`{"kb-campaign": 12}`, 12},
		{`{"kb-campaign": " 12 "}`, 0},
		{`{"kb-campaign": "-3"}`, 0},
		{`{"kb-campaign": "12abc"}`, 0},
		{`{"kb-campaign": null}`, 0},
		{`{}`, 0},
		{`"kb-campaign"`, 0}, // not an object: ignored, not a 400
		{``, 0},
	} {
		if got := webhookCampaign([]byte(tt.vars)); got != tt.want {
			t.Errorf("webhookCampaign(%s) = %d, want %d", tt.vars, got, tt.want)
		}
	}
	// A malformed user-variables does not fail the webhook.
	e := newEnv(t)
	w := mailguntest.Webhook{Event: "delivered", Recipient: "a@example.pl", Timestamp: e.clock.Now().Unix()}
	body := bytes.Replace(w.JSON(testWebhookKey), []byte(`"user-variables":{}`), []byte(`"user-variables":"x"`), 1)
	if !bytes.Contains(body, []byte(`"user-variables":"x"`)) {
		t.Fatalf("test body not changed: %s", body)
	}
	r := httptest.NewRequest(http.MethodPost, webhookPath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if code := e.do(r).Code; code != 200 {
		t.Errorf("malformed user-variables: %d", code)
	}
}

// TestSignupSourceStored: the page the form was on is kept with the
// consent (the growth sources), when it is a plain site path of bounded
// length; anything else is stored as unknown.
func TestSignupSourceStored(t *testing.T) {
	e := newEnv(t)
	for i, tt := range []struct{ source, want string }{
		{"/poradniki/rozmowa-o-fakturze/", "/poradniki/rozmowa-o-fakturze/"},
		{"/", "/"},
		{"https://evil.example/", ""},
		{"//evil.example/x", ""},
		{"poradniki/x/", ""},
		{"/" + strings.Repeat("a", maxSourceLen), ""},
		{`/a\b`, ""},
		{"", ""},
	} {
		vals := signupValues(fmt.Sprintf("zrodlo%d@example.pl", i))
		vals.Set("source", tt.source)
		if w := e.do(formRequest(vals)); w.Code >= 400 {
			t.Fatalf("signup %d: %d", i, w.Code)
		}
		if got := e.subscriber(fmt.Sprintf("zrodlo%d@example.pl", i)).Consent.Source; got != tt.want {
			t.Errorf("source %q stored as %q, want %q", tt.source, got, tt.want)
		}
	}
}
