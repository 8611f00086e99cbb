package prefs

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/pgtest"
)

// TestDigestKilledSentOnce, on SQLite and on PostgreSQL: kb send --digest
// is killed with SIGKILL at the second Mailgun call of three runs in a row
// — before Mailgun has the call, after it accepted it unanswered, after it
// answered — and a fourth run finishes. Every digest reader gets exactly one digest, with the
// guides on their topics, and a fifth run sends nothing.
//
// 1,160 readers choose the digest on the preference page: 1,100 with every
// topic (two batches of one digest body) and ten with each other
// combination of topics (a batch each), eight batches in all, more than
// the three killed runs can send.
func TestDigestKilledSentOnce(t *testing.T) {
	first, second := builds(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := ""
			if db == "postgres" {
				dsn = pgtest.DSN(t)
			}
			digestKilled(t, startOn(t, first, dsn), first, second)
		})
	}
}

func digestKilled(t *testing.T, k *kb, first, second stage) {
	const everyTopic, others = 1100, 10
	combos := [][]string{ // every other non-empty set of the three topics
		{"rozmowy"}, {"pieniadze"}, {"prawo"}, {"rozmowy", "pieniadze"}, {"rozmowy", "prawo"}, {"pieniadze", "prawo"}}
	csvPath, addresses := kbproc.WriteCSV(t, everyTopic+others*len(combos), "przeglad.example.pl")
	kbproc.MustRun(t, k.on(first), "subscribers", "import", csvPath, "--status", "confirmed")
	topics := map[string][]string{}
	for i, addr := range addresses {
		topics[addr] = []string{"rozmowy", "pieniadze", "prawo"}
		if i >= everyTopic {
			topics[addr] = combos[(i-everyTopic)%len(combos)]
		}
	}

	// The first build's guides go to everyone, one by one; their
	// preference links come with them.
	plain := mailguntest.New()
	t.Cleanup(plain.Close)
	kbproc.MustRun(t, k.on(first, kbproc.MailgunEnv(plain, plain.URL())), "send", "--out", first.public, "--base-url", baseURL)
	links := map[string]string{}
	for _, c := range plain.Calls() {
		for addr, vars := range c.RecipientVariables {
			if u, ok := vars["preferences_url"].(string); ok {
				links[addr] = kbproc.OnServer(u, "") // its path and query
			}
		}
	}
	if len(links) != len(addresses) {
		t.Fatalf("the newsletters carried preference links for %d readers, want %d", len(links), len(addresses))
	}

	// Everyone switches to the digest; the second build's guides wait for
	// it.
	var (
		wg   sync.WaitGroup
		work = make(chan string)
	)
	for range 8 {
		wg.Go(func() {
			for addr := range work {
				if _, err := k.save(t.Context(), links[addr], "digest", topics[addr]...); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for _, addr := range addresses {
		work <- addr
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	k.send(t, second)
	if n := len(kbproc.ReadOutbox(t, k.srv.Outbox)); n != 0 {
		t.Fatalf("the second build's guides went out one by one to %d digest readers", n)
	}

	mg := kbproc.NewKillingMailgun(t)
	o := k.on(second, mg.Env())
	// One call at a time: with two in flight, the other worker could send
	// every remaining batch before the kill lands, leaving the next killed
	// run nothing to send.
	args := []string{"send", "--out", second.public, "--base-url", baseURL, "--digest", "--concurrency", "1", "--settle=-1s"}
	for _, phase := range []kbproc.KillPhase{kbproc.KillBeforeMailgun, kbproc.KillUnanswered, kbproc.KillAnswered} {
		if !mg.KillAt(t, kbproc.KillMoment{Call: 2, Phase: phase}, o, args...) {
			t.Fatalf("the digest was sent before the kill at call 2, %s", phase)
		}
		t.Logf("killed at call 2, %s; %d Mailgun calls so far", phase, len(mg.Calls()))
	}
	mg.Arm(nil)
	kbproc.MustRun(t, o, args...)
	calls := len(mg.Calls())
	again := kbproc.MustRun(t, o, append(args, "--json")...)
	var sum struct {
		Campaigns []kbproc.Campaign `json:"campaigns"`
	}
	if err := json.Unmarshal([]byte(again), &sum); err != nil || len(sum.Campaigns) != 0 || len(mg.Calls()) != calls {
		t.Errorf("a kb send --digest after the digest went out sent again (%v): %s", err, again)
	}

	var digests []kbproc.Campaign
	for _, c := range kbproc.Ledger(t, o) {
		if strings.HasPrefix(c.Slug, "digest-") {
			digests = append(digests, c)
		}
	}
	if len(digests) != 1 {
		t.Fatalf("the ledger has %d digests, want one: %+v", len(digests), digests)
	}
	kbproc.CheckSent(t, digests, len(addresses), true)
	kbproc.CheckDelivered(t, mg.Server, []string{digests[0].Slug}, addresses, true)

	// Each batch's body lists the guides of its readers' topics.
	for _, c := range mg.Calls() {
		if !c.Accepted {
			continue
		}
		var listed []string
		for _, g := range secondGuides {
			if strings.Contains(c.Text, second.guide(t, g.slug).Permalink) {
				listed = append(listed, g.slug)
			}
		}
		for _, addr := range c.To {
			if want := onTopics(secondGuides, topics[addr]); !slices.Equal(listed, want) {
				t.Errorf("%s (topics %v) got a digest listing %v, want %v", addr, topics[addr], listed, want)
				break
			}
		}
	}
}

// onTopics are the slugs of the guides a reader of topics gets, in the
// order of guides: those without topics and those sharing one.
func onTopics(guides []testGuide, topics []string) []string {
	var out []string
	for _, g := range guides {
		if len(g.topics) == 0 || slices.ContainsFunc(g.topics, func(id string) bool { return slices.Contains(topics, id) }) {
			out = append(out, g.slug)
		}
	}
	return out
}
