package mailguntest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailgun/mailgun-go/v4"
	"github.com/mailgun/mailgun-go/v4/events"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type item struct {
	Event         string            `json:"event"`
	Recipient     string            `json:"recipient"`
	Timestamp     float64           `json:"timestamp"`
	Tags          []string          `json:"tags"`
	UserVariables map[string]string `json:"user-variables"`
	Message       struct {
		Headers map[string]string `json:"headers"`
	} `json:"message"`
}

type paging struct {
	First, Last, Next, Previous string
}

func getEvents(t *testing.T, s *Server, rawURL string) ([]item, paging, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	req.SetBasicAuth("api", DefaultAPIKey)
	r := do(t, req)
	if r.status != http.StatusOK {
		return nil, paging{}, r.status
	}
	var body struct {
		Items  []item `json:"items"`
		Paging paging `json:"paging"`
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		t.Fatalf("events body: %v\n%s", err, r.raw)
	}
	return body.Items, body.Paging, r.status
}

func listEvents(t *testing.T, s *Server, q url.Values) ([]item, paging) {
	t.Helper()
	items, p, status := getEvents(t, s, s.URL()+"/"+DefaultDomain+"/events?"+q.Encode())
	if status != http.StatusOK {
		t.Fatalf("events %v: status %d", q, status)
	}
	return items, p
}

func recipients(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Recipient
	}
	return out
}

var t0 = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

// fixture: 5 messages one minute apart, 3 recipients each; even messages are
// tagged newsletter, odd ones welcome. Recipient names are m<i>r<j>.
func fixture(t *testing.T) (*Server, *clock) {
	t.Helper()
	clk := &clock{now: t0}
	s := New(WithClock(clk.Now))
	t.Cleanup(s.Close)
	for i := range 5 {
		clk.Set(t0.Add(time.Duration(i) * time.Minute))
		tag := "newsletter"
		if i%2 == 1 {
			tag = "welcome"
		}
		var fs []field
		rv := map[string]map[string]string{}
		for j := range 3 {
			addr := fmt.Sprintf("m%dr%d@example.pl", i, j)
			fs = append(fs, field{"to", addr})
			rv[addr] = map[string]string{"id": fmt.Sprintf("%d-%d", i, j)}
		}
		raw, _ := json.Marshal(rv)
		fs = append(fs, baseFields()...)
		fs = append(fs, field{"o:tag", tag}, field{"v:kb-batch", strconv.Itoa(i)},
			field{"v:uid", "%recipient.id%"}, field{"recipient-variables", string(raw)})
		ct, body := multipartBody(t, fs)
		if r := post(t, s, DefaultAPIKey, DefaultDomain, ct, body); r.status != http.StatusOK {
			t.Fatalf("send %d: %d %s", i, r.status, r.raw)
		}
	}
	return s, clk
}

func TestEventsFilters(t *testing.T) {
	s, _ := fixture(t)
	rfc := func(t time.Time) string { return t.Format("Mon, 2 Jan 2006 15:04:05 -0700") }
	tests := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"default is newest first", url.Values{"limit": {"4"}}, []string{"m4r2@example.pl", "m4r1@example.pl", "m4r0@example.pl", "m3r2@example.pl"}},
		{"ascending", url.Values{"ascending": {"yes"}, "limit": {"2"}}, []string{"m0r0@example.pl", "m0r1@example.pl"}},
		{"tags", url.Values{"ascending": {"yes"}, "tags": {"welcome"}}, []string{"m1r0@example.pl", "m1r1@example.pl", "m1r2@example.pl", "m3r0@example.pl", "m3r1@example.pl", "m3r2@example.pl"}},
		{"tag alias", url.Values{"ascending": {"yes"}, "tag": {"welcome"}, "limit": {"1"}}, []string{"m1r0@example.pl"}},
		{"recipient", url.Values{"recipient": {"M2R1@example.pl"}}, []string{"m2r1@example.pl"}},
		{"event accepted", url.Values{"event": {"accepted"}, "recipient": {"m2r1@example.pl"}}, []string{"m2r1@example.pl"}},
		{"event delivered", url.Values{"event": {"delivered"}}, []string{}},
		{"event OR", url.Values{"event": {"delivered OR accepted"}, "recipient": {"m0r0@example.pl"}}, []string{"m0r0@example.pl"}},
		{"begin and end RFC 2822", url.Values{"begin": {rfc(t0.Add(time.Minute))}, "end": {rfc(t0.Add(2 * time.Minute))}, "tags": {"newsletter"}}, []string{"m2r0@example.pl", "m2r1@example.pl", "m2r2@example.pl"}},
		{"begin after end is descending", url.Values{"begin": {rfc(t0.Add(2 * time.Minute))}, "end": {rfc(t0.Add(time.Minute))}, "limit": {"2"}}, []string{"m2r2@example.pl", "m2r1@example.pl"}},
		{"begin epoch", url.Values{"begin": {strconv.FormatInt(t0.Add(4*time.Minute).Unix(), 10)}}, []string{"m4r0@example.pl", "m4r1@example.pl", "m4r2@example.pl"}},
		{"end only, descending", url.Values{"end": {rfc(t0)}}, []string{"m0r2@example.pl", "m0r1@example.pl", "m0r0@example.pl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, _ := listEvents(t, s, tt.query)
			if got := recipients(items); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("message-id", func(t *testing.T) {
		id := strings.Trim(s.Calls()[3].ID, "<>")
		items, _ := listEvents(t, s, url.Values{"message-id": {id}})
		if len(items) != 3 || items[0].Message.Headers["message-id"] != id {
			t.Fatalf("got %v", items)
		}
	})
	t.Run("user variables per recipient", func(t *testing.T) {
		items, _ := listEvents(t, s, url.Values{"recipient": {"m3r2@example.pl"}})
		if len(items) != 1 {
			t.Fatalf("%d items", len(items))
		}
		it := items[0]
		if it.UserVariables["kb-batch"] != "3" || it.UserVariables["uid"] != "3-2" || it.Event != "accepted" ||
			!slices.Equal(it.Tags, []string{"welcome"}) || it.Timestamp != float64(t0.Add(3*time.Minute).Unix()) {
			t.Fatalf("item = %+v", it)
		}
	})
}

func TestEventsBadRequests(t *testing.T) {
	s, _ := fixture(t)
	for _, q := range []string{"limit=0", "limit=301", "limit=x", "begin=yesterday", "end=soon", "ascending=maybe"} {
		if _, _, status := getEvents(t, s, s.URL()+"/"+DefaultDomain+"/events?"+q); status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, status)
		}
	}
	for _, page := range []string{"garbage", pageToken{Mode: "next", Query: eventQuery{Limit: 5}}.encode(), pageToken{Mode: "first", Query: eventQuery{Limit: 500}}.encode()} {
		if _, _, status := getEvents(t, s, s.URL()+"/"+DefaultDomain+"/events/"+page); status != http.StatusBadRequest {
			t.Errorf("page %s: status %d, want 400", page, status)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/"+DefaultDomain+"/events", nil)
	req.SetBasicAuth("api", "wrong")
	if r := do(t, req); r.status != http.StatusUnauthorized {
		t.Errorf("wrong key: status %d", r.status)
	}
}

func TestEventsPaging(t *testing.T) {
	s, clk := fixture(t)
	for _, asc := range []bool{true, false} {
		t.Run(fmt.Sprintf("ascending=%v", asc), func(t *testing.T) {
			q := url.Values{"limit": {"4"}, "ascending": {"no"}}
			if asc {
				q.Set("ascending", "yes")
			}
			items, p := listEvents(t, s, q)
			var all []string
			var pages [][]string
			for len(items) > 0 {
				pages = append(pages, recipients(items))
				all = append(all, recipients(items)...)
				items, p, _ = getEvents(t, s, p.Next)
			}
			if len(all) != 15 || len(pages) != 4 || len(pages[3]) != 3 {
				t.Fatalf("pages %v", pages)
			}
			sorted := slices.Clone(all)
			slices.Sort(sorted)
			if !asc {
				slices.Reverse(sorted)
			}
			if !slices.Equal(all, sorted) {
				t.Fatalf("order %v", all)
			}
			// previous of page 2 is page 1
			_, p1 := listEvents(t, s, q)
			page2, p2, _ := getEvents(t, s, p1.Next)
			if !slices.Equal(recipients(page2), pages[1]) {
				t.Fatalf("page 2 = %v", recipients(page2))
			}
			back, _, _ := getEvents(t, s, p2.Previous)
			if !slices.Equal(recipients(back), pages[0]) {
				t.Fatalf("previous of page 2 = %v, want %v", recipients(back), pages[0])
			}
			last, _, _ := getEvents(t, s, p2.Last)
			if want := all[len(all)-4:]; !slices.Equal(recipients(last), want) {
				t.Fatalf("last = %v, want %v", recipients(last), want)
			}
			first, _, _ := getEvents(t, s, p2.First)
			if !slices.Equal(recipients(first), pages[0]) {
				t.Fatalf("first = %v", recipients(first))
			}
		})
	}

	t.Run("polling sees new events", func(t *testing.T) {
		items, p := listEvents(t, s, url.Values{"ascending": {"yes"}, "limit": {"300"}})
		if len(items) != 15 {
			t.Fatalf("%d items", len(items))
		}
		items, p2, _ := getEvents(t, s, p.Next)
		if len(items) != 0 || p2.Next != p.Next {
			t.Fatalf("end of stream: %d items, next %q vs %q", len(items), p2.Next, p.Next)
		}
		clk.Set(t0.Add(time.Hour))
		ct, body := multipartBody(t, baseFields("late@example.pl"))
		post(t, s, DefaultAPIKey, DefaultDomain, ct, body)
		items, _, _ = getEvents(t, s, p2.Next)
		if !slices.Equal(recipients(items), []string{"late@example.pl"}) {
			t.Fatalf("after new event: %v", recipients(items))
		}
	})
}

func TestEventsOutOfOrderClock(t *testing.T) {
	clk := &clock{now: t0.Add(time.Minute)}
	s := New(WithClock(clk.Now))
	defer s.Close()
	for _, step := range []struct {
		at time.Duration
		to string
	}{{time.Minute, "b@example.pl"}, {0, "a@example.pl"}, {2 * time.Minute, "c@example.pl"}} {
		clk.Set(t0.Add(step.at))
		ct, body := multipartBody(t, baseFields(step.to))
		post(t, s, DefaultAPIKey, DefaultDomain, ct, body)
	}
	items, _ := listEvents(t, s, url.Values{"ascending": {"yes"}})
	if got := recipients(items); !slices.Equal(got, []string{"a@example.pl", "b@example.pl", "c@example.pl"}) {
		t.Fatalf("order %v", got)
	}
}

// The real mailgun-go iterator must walk the server's pages.
func TestEventsWithMailgunGo(t *testing.T) {
	s, _ := fixture(t)
	mg := mailgun.NewMailgun(DefaultDomain, DefaultAPIKey)
	mg.SetAPIBase(s.URL())
	it := mg.ListEvents(&mailgun.ListEventOptions{
		Begin:          t0,
		ForceAscending: true,
		Limit:          2,
		Filter:         map[string]string{"event": "accepted", "tags": "newsletter"},
	})
	ctx := context.Background()
	var got []string
	var page []mailgun.Event
	pages := 0
	for it.Next(ctx, &page) {
		pages++
		for _, e := range page {
			a, ok := e.(*events.Accepted)
			if !ok {
				t.Fatalf("event %T", e)
			}
			if a.UserVariables.(map[string]any)["kb-batch"] == nil {
				t.Fatalf("no user variables in %+v", a)
			}
			got = append(got, a.Recipient)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"m0r0@example.pl", "m0r1@example.pl", "m0r2@example.pl", "m2r0@example.pl", "m2r1@example.pl", "m2r2@example.pl", "m4r0@example.pl", "m4r1@example.pl", "m4r2@example.pl"}
	if !slices.Equal(got, want) || pages != 5 {
		t.Fatalf("%d pages: %v", pages, got)
	}
	if !it.First(ctx, &page) || len(page) != 2 || !it.Last(ctx, &page) || len(page) != 2 {
		t.Fatalf("First/Last: %v", it.Err())
	}
}
