package cluster

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/pgtest"
)

// subscribers is how many confirmed people the sends go to: three batches
// per campaign.
const subscribers = 2500

// campaign is a campaign as kb send --json and kb campaigns --json print it.
type campaign struct {
	Slug       string `json:"slug"`
	State      string `json:"state"`
	Recipients int    `json:"recipients"`
	Sent       int    `json:"sent"`
	Resolved   int    `json:"resolved"`
	Skipped    int    `json:"skipped"`
	Failed     int    `json:"failed"`
	Error      string `json:"error"`
}

// TestTwoSendsAtOnce starts two kb send processes together on one
// database. Exactly one may send: without --wait the other exits at once
// with an error naming the holder; with --wait it waits and then finds
// nothing left to send. Either way each subscriber gets each guide once.
// The holder's Mailgun calls are held at a gate until the other process
// has given up (or is waiting), so the two always overlap.
func TestTwoSendsAtOnce(t *testing.T) {
	s := buildSite(t)
	csvPath, addresses := writeCSV(t, subscribers, "send.example.pl")

	for _, db := range []string{"postgres", "sqlite"} {
		for _, wait := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/wait=%v", db, wait), func(t *testing.T) {
				var dsn string
				if db == "postgres" {
					dsn = pgtest.DSN(t)
				} else {
					// Two processes on one file; each keeps its own KB_DATA.
					dsn = "sqlite:" + filepath.Join(t.TempDir(), "kb.db")
				}
				o := kbproc.Options{Env: env(dsn, nil)}
				out := mustRun(t, o, "subscribers", "import", csvPath, "--status", "confirmed")
				if !strings.Contains(out, fmt.Sprintf("imported %d", subscribers)) {
					t.Fatalf("import: %s", out)
				}
				due := dueGuides(t, o, s)

				mg := newGatedMailgun(t)
				sendEnv := env(dsn, mg.env())
				args := []string{"send", "--out", s.public, "--base-url", baseURL, "--json"}
				if wait {
					args = append(args, "--wait", "2m")
				}
				a := startProc(t, kbproc.Options{Env: sendEnv}, args...)
				b := startProc(t, kbproc.Options{Env: sendEnv}, args...)

				var sender, other *proc
				if wait {
					sender, other = waiterAndHolder(t, a, b)
				} else {
					sender, other = survivorAndQuitter(t, a, b)
				}
				mg.release()
				for _, p := range []*proc{sender, other} {
					if p == nil {
						continue // gave up already
					}
					p.wait(t, time.Minute)
					if p.err != nil {
						t.Fatalf("%s", p.describe())
					}
				}

				sent := summary(t, sender)
				if len(sent) != len(due) {
					t.Errorf("the sender sent %d campaigns, want %d (%v):\n%s", len(sent), len(due), due, sender.describe())
				}
				if other != nil {
					if again := summary(t, other); len(again) != 0 {
						t.Errorf("the waiting kb send sent too: %+v", again)
					}
				}
				checkLedger(t, o, due, subscribers, false)
				checkDelivered(t, mg.Server, due, addresses, false)
			})
		}
	}
}

// giveUp bounds how long the test waits for the second kb send to give up
// or to start waiting: well under the Mailgun client's 30-second timeout,
// so that a lock that lets both through fails here, while both are held at
// the gate, and not later in a reconciliation.
const giveUp = 20 * time.Second

// survivorAndQuitter waits for one of two sends to give up on the lock and
// returns the other; the quitter must have named it as the holder.
func survivorAndQuitter(t *testing.T, a, b *proc) (survivor, quitter *proc) {
	t.Helper()
	select {
	case <-a.done:
		survivor, quitter = b, a
	case <-b.done:
		survivor, quitter = a, b
	case <-time.After(giveUp):
		t.Fatalf("neither kb send gave up within %s (both holding the lock?):\n%s\n%s", giveUp, a.describe(), b.describe())
	}
	errOut := quitter.stderr.String()
	if quitter.err == nil || !strings.Contains(errOut, "another kb send is running") ||
		!strings.Contains(errOut, fmt.Sprintf(":%d since", survivor.pid())) {
		t.Fatalf("want the second kb send to exit non-zero, naming pid %d as the holder; got %s",
			survivor.pid(), quitter.describe())
	}
	t.Logf("the other kb send: %s", strings.TrimSpace(errOut[strings.LastIndex(strings.TrimSpace(errOut), "\n")+1:]))
	if strings.Contains(quitter.stdout.String(), `"slug"`) {
		t.Errorf("the kb send that gave up reports campaigns: %s", quitter.stdout.String())
	}
	select {
	case <-survivor.done:
		t.Fatalf("the lock holder exited while its Mailgun calls were held: %s", survivor.describe())
	default:
	}
	return survivor, nil
}

// waiterAndHolder waits until one of two sends started with --wait says it
// is waiting for the lock, and returns the holder and the waiter.
func waiterAndHolder(t *testing.T, a, b *proc) (holder, waiter *proc) {
	t.Helper()
	const waiting = "waiting for the send lock"
	select {
	case <-a.stderr.seen(waiting):
		holder, waiter = b, a
	case <-b.stderr.seen(waiting):
		holder, waiter = a, b
	case <-a.done:
		t.Fatalf("a kb send --wait exited before the other released the lock: %s", a.describe())
	case <-b.done:
		t.Fatalf("a kb send --wait exited before the other released the lock: %s", b.describe())
	case <-time.After(giveUp):
		t.Fatalf("neither kb send --wait waited within %s (both holding the lock?):\n%s\n%s", giveUp, a.describe(), b.describe())
	}
	if !strings.Contains(waiter.stderr.String(), fmt.Sprintf(":%d since", holder.pid())) {
		t.Errorf("the waiting kb send does not name pid %d as the holder: %s", holder.pid(), waiter.stderr.String())
	}
	return holder, waiter
}

// dueGuides asks kb send --dry-run which guides a send will email.
func dueGuides(t *testing.T, o kbproc.Options, s site) []string {
	t.Helper()
	var plan []struct {
		Slug       string `json:"slug"`
		Recipients int    `json:"recipients"`
	}
	out := mustRun(t, o, "send", "--dry-run", "--json", "--out", s.public, "--base-url", baseURL)
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("kb send --dry-run --json: %v\n%s", err, out)
	}
	var slugs []string
	for _, p := range plan {
		if p.Recipients != subscribers {
			t.Fatalf("dry run: %s would go to %d, want %d", p.Slug, p.Recipients, subscribers)
		}
		slugs = append(slugs, p.Slug)
	}
	if len(slugs) == 0 {
		t.Fatal("the site has no guide due for the newsletter; the test needs at least one")
	}
	return slugs
}

func summary(t *testing.T, p *proc) []campaign {
	t.Helper()
	var sum struct {
		Campaigns []campaign `json:"campaigns"`
	}
	if err := json.Unmarshal(p.stdout.Bytes(), &sum); err != nil {
		t.Fatalf("kb send --json output: %v\n%s", err, p.describe())
	}
	return sum.Campaigns
}

// checkLedger reads kb campaigns --json: every due guide sent to all n;
// with resolved, recipients resolved through Mailgun's events (after a
// kill) count as sent.
func checkLedger(t *testing.T, o kbproc.Options, due []string, n int, resolved bool) {
	t.Helper()
	var list []campaign
	if err := json.Unmarshal([]byte(mustRun(t, o, "campaigns", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != len(due) {
		t.Errorf("ledger has %d campaigns, want %d: %+v", len(list), len(due), list)
	}
	for _, c := range list {
		sent := c.Sent
		if resolved {
			sent += c.Resolved
		}
		if c.State != "sent" || c.Recipients != n || sent != n || c.Failed+c.Skipped != 0 || (!resolved && c.Resolved != 0) {
			t.Errorf("campaign %+v: want sent to all %d", c, n)
		}
	}
}

// checkDelivered reads the Mailgun server: each due guide (o:tag is its
// slug) reached every address exactly once.
func checkDelivered(t *testing.T, mg *mailguntest.Server, due, addresses []string, cutByKill bool) {
	t.Helper()
	perGuide := map[string]map[string]int{}
	for _, c := range mg.Calls() {
		if !c.Accepted {
			if cutByKill && strings.HasPrefix(c.Error, "Malformed request body") {
				// A process killed while it wrote a call: Mailgun refuses
				// what arrived, and delivers none of it.
				t.Logf("a call cut by a kill was refused: %d %s", c.Status, c.Error)
				continue
			}
			t.Errorf("call refused: %d %s", c.Status, c.Error)
			continue
		}
		if len(c.Tags) != 1 {
			t.Errorf("call with tags %v, want the guide's slug", c.Tags)
			continue
		}
		if perGuide[c.Tags[0]] == nil {
			perGuide[c.Tags[0]] = map[string]int{}
		}
		for _, to := range c.To {
			perGuide[c.Tags[0]][to]++
		}
	}
	if len(perGuide) != len(due) {
		t.Errorf("Mailgun got calls for %d guides, want %d", len(perGuide), len(due))
	}
	total := mg.Recipients()
	for _, slug := range due {
		got := perGuide[slug]
		if len(got) != len(addresses) {
			t.Errorf("%s went to %d addresses, want %d", slug, len(got), len(addresses))
		}
		for _, addr := range addresses {
			if got[addr] != 1 {
				t.Errorf("%s reached %s %d times, want once", slug, addr, got[addr])
			}
		}
	}
	for _, addr := range addresses {
		if total[addr] != len(due) {
			t.Errorf("%s accepted %d times in all, want %d", addr, total[addr], len(due))
		}
	}
}
