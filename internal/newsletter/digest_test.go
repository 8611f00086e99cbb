package newsletter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/store"
)

var testTopics = []string{"rozmowy", "pieniadze", "prawo"}

// mondayDigest is a weekly digest on Mondays at 7:00 (UTC in these tests).
var mondayDigest = config.Digest{Schedule: "weekly", Weekday: "monday", Hour: 7}

// setPrefs gives the fixture's subscribers user<from>…user<to> a frequency
// and topics.
func (f *fixture) setPrefs(from, to int, freq store.Frequency, topics ...string) {
	f.t.Helper()
	for i := from; i <= to; i++ {
		sub, err := f.st.GetByEmail(f.t.Context(), fmt.Sprintf("user%05d@example.com", i))
		if err != nil {
			f.t.Fatal(err)
		}
		if _, _, err := f.st.SetPreferences(f.t.Context(), sub.Link(),
			store.PreferencesUpdate{Topics: topics, Known: testTopics, Frequency: freq}, time.Now()); err != nil {
			f.t.Fatal(err)
		}
	}
}

func users(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("user%05d@example.com", i))
	}
	return out
}

// received maps each address to the subjects of the calls that reached it
// and, for digests, the guide slugs each listed (from the text part).
func received(srv *mailguntest.Server, slugs []string) map[string][]string {
	out := map[string][]string{}
	for _, c := range srv.Calls() {
		if !c.Accepted {
			continue
		}
		what := c.Subject
		if c.Tags[0] != "" && strings.HasPrefix(c.Tags[0], DigestSlugPrefix) {
			var listed []string
			for _, s := range slugs {
				if strings.Contains(c.Text, "/poradniki/"+s+"/") {
					listed = append(listed, s)
				}
			}
			what = "digest:" + strings.Join(listed, "+")
		}
		for _, to := range c.To {
			out[to] = append(out[to], what)
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

func topicGuide(f *fixture, slug string, day int, topics ...string) guide.Guide {
	g := f.guide(slug, day)
	g.Topics = topics
	return g
}

func TestDigestAndTopics(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 40)
		f.setPrefs(11, 20, store.FrequencyEach, "prawo")
		f.setPrefs(21, 30, store.FrequencyDigest, testTopics...)
		f.setPrefs(31, 40, store.FrequencyDigest, "rozmowy")
		a := topicGuide(f, "a-prawo", 1, "prawo")
		b := topicGuide(f, "b-rozmowy", 2, "rozmowy")
		c := topicGuide(f, "c-wszyscy", 3)
		guides := []guide.Guide{a, b, c}
		slugs := []string{a.Slug, b.Slug, c.Slug}
		monday := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
		opts := func(o *Options) {
			o.BatchSize = 4
			o.Digest, o.Location = mondayDigest, time.UTC
			o.Now = func() time.Time { return monday }
		}
		sum, err := f.sender(nil, f.mailgun(0), opts).Run(t.Context(), guides, f.publish)
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Campaigns) != 4 || sum.Campaigns[3].Slug != "digest-2026-12-07" {
			t.Fatalf("campaigns %+v", sum.Campaigns)
		}
		got := received(f.srv, slugs)
		want := map[string][]string{}
		for _, u := range users(1, 10) {
			want[u] = []string{a.Title, b.Title, c.Title}
		}
		for _, u := range users(11, 20) {
			want[u] = []string{a.Title, c.Title}
		}
		for _, u := range users(21, 30) {
			want[u] = []string{"digest:a-prawo+b-rozmowy+c-wszyscy"}
		}
		for _, u := range users(31, 40) {
			want[u] = []string{"digest:b-rozmowy+c-wszyscy"}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("received\n%v\nwant\n%v", got, want)
		}
		// Every digest call's recipients carry their own links.
		for _, call := range f.srv.Calls() {
			if strings.HasPrefix(call.Tags[0], DigestSlugPrefix) {
				for addr, vars := range call.RecipientVariables {
					f.checkVars(t, addr, vars)
				}
			}
		}
		f.wantLedgerComplete(t, "digest-2026-12-07", 20)

		// The same day again: nothing new, nothing sent; so is a digest by
		// hand.
		calls := len(f.srv.Calls())
		for _, now := range []bool{false, true} {
			sum, err := f.sender(nil, f.mailgun(0), func(o *Options) { opts(o); o.DigestNow = now }).Run(t.Context(), guides, f.publish)
			if err != nil || len(sum.Campaigns) != 0 {
				t.Errorf("rerun (digest now %v): %+v %v", now, sum.Campaigns, err)
			}
		}
		if n := len(f.srv.Calls()); n != calls {
			t.Errorf("%d calls after reruns, want %d", n, calls)
		}
	})
}

// TestFrequencySwitchMidPeriod: readers who switch between each guide and
// the digest between two guides get each guide once and miss none.
func TestFrequencySwitchMidPeriod(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 4)
	f.setPrefs(3, 4, store.FrequencyDigest, testTopics...)
	a := topicGuide(f, "a-pierwszy", 1)
	b := topicGuide(f, "b-drugi", 2)
	slugs := []string{a.Slug, b.Slug}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) // a Wednesday
	opts := func(o *Options) {
		o.Digest, o.Location = mondayDigest, time.UTC
		o.Now = func() time.Time { return now }
	}
	// Last Monday's digest is done (empty); a goes out on Wednesday.
	if _, err := f.sender(nil, f.mailgun(0), opts).Run(t.Context(), []guide.Guide{a}, f.publish); err != nil {
		t.Fatal(err)
	}
	// user1 moves to the digest, user3 to each guide; then b goes out.
	f.setPrefs(1, 1, store.FrequencyDigest, testTopics...)
	f.setPrefs(3, 3, store.FrequencyEach, testTopics...)
	now = now.Add(24 * time.Hour)
	if _, err := f.sender(nil, f.mailgun(0), opts).Run(t.Context(), []guide.Guide{a, b}, f.publish); err != nil {
		t.Fatal(err)
	}
	// Next Monday: the digest.
	now = time.Date(2026, 12, 7, 7, 30, 0, 0, time.UTC)
	if _, err := f.sender(nil, f.mailgun(0), opts).Run(t.Context(), []guide.Guide{a, b}, f.publish); err != nil {
		t.Fatal(err)
	}
	got := received(f.srv, slugs)
	want := map[string][]string{
		"user00001@example.com": {a.Title, "digest:b-drugi"},
		"user00002@example.com": {a.Title, b.Title},
		"user00003@example.com": {b.Title, "digest:a-pierwszy"}, // a waited for the digest
		"user00004@example.com": {"digest:a-pierwszy+b-drugi"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("received\n%v\nwant\n%v", got, want)
	}
}

// TestDigestCrashResumes kills a digest run at each step; the next run
// sends each reader's digest exactly once.
func TestDigestCrashResumes(t *testing.T) {
	for _, at := range []string{"CreateDigest#1", "StartBatch#2", "SendBatch#1", "FinishBatch#3"} {
		t.Run(strings.ReplaceAll(at, "#", "-"), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, be backend) {
				f := newFixture(t, be, 30)
				f.setPrefs(1, 15, store.FrequencyDigest, testTopics...)
				f.setPrefs(16, 30, store.FrequencyDigest, "prawo")
				g1 := topicGuide(f, "g1-prawo", 1, "prawo")
				g2 := topicGuide(f, "g2-rozmowy", 2, "rozmowy")
				guides := []guide.Guide{g1, g2}
				// The guides' campaigns have no recipients (everyone reads the
				// digest); they only queue the guides.
				if _, err := f.sender(nil, f.mailgun(0), nil).Run(t.Context(), guides, f.publish); err != nil {
					t.Fatal(err)
				}
				opts := func(o *Options) { o.BatchSize = 4; o.Concurrency = 2; o.DigestNow = true }
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				c := &crasher{at: at, cancel: cancel, counts: map[string]int{}}
				crashing := f.sender(&crashStore{Store: f.st, c: c}, &crashTransport{Transport: f.mailgun(0), c: c, srv: f.srv}, opts)
				if _, err := crashing.Run(ctx, guides, f.publish); err == nil {
					t.Fatal("the crashing run succeeded")
				}
				if !c.isDead() {
					t.Fatalf("the run ended without reaching %s (counts %v)", at, c.counts)
				}
				qctx, qcancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer qcancel()
				if err := f.quiesce(qctx); err != nil {
					t.Fatal(err)
				}
				// The next run resumes the digest; DigestNow finds nothing new.
				if _, err := f.sender(be.open(t), f.mailgun(0), opts).Run(t.Context(), guides, f.publish); err != nil {
					t.Fatalf("next Run: %v", err)
				}
				wantEachOnce(t, f.srv, f.addresses())
				got := received(f.srv, []string{g1.Slug, g2.Slug})
				for _, u := range users(1, 15) {
					if w := "[digest:g1-prawo+g2-rozmowy]"; fmt.Sprint(got[u]) != w {
						t.Errorf("%s got %v, want %s", u, got[u], w)
					}
				}
				for _, u := range users(16, 30) {
					if w := "[digest:g1-prawo]"; fmt.Sprint(got[u]) != w {
						t.Errorf("%s got %v, want %s", u, got[u], w)
					}
				}
			})
		})
	}
}
