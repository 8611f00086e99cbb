package cluster

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/pgtest"
)

// subscribers is how many confirmed people the sends go to: three batches
// per campaign.
const subscribers = 2500

// TestTwoSendsAtOnce starts two kb send processes together on one
// database. Exactly one may send: without --wait the other exits at once
// with an error naming the holder; with --wait it waits and then finds
// nothing left to send. Either way each subscriber gets each guide once.
// The holder's Mailgun calls are held at a gate until the other process
// has given up (or is waiting), so the two always overlap.
func TestTwoSendsAtOnce(t *testing.T) {
	s := buildSite(t)
	csvPath, addresses := kbproc.WriteCSV(t, subscribers, "send.example.pl")

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
				out := kbproc.MustRun(t, o, "subscribers", "import", csvPath, "--status", "confirmed")
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
				a := kbproc.StartProc(t, kbproc.Options{Env: sendEnv}, args...)
				b := kbproc.StartProc(t, kbproc.Options{Env: sendEnv}, args...)

				var sender, other *kbproc.Proc
				if wait {
					sender, other = waiterAndHolder(t, a, b)
				} else {
					sender, other = survivorAndQuitter(t, a, b)
				}
				mg.release()
				for _, p := range []*kbproc.Proc{sender, other} {
					if p == nil {
						continue // gave up already
					}
					p.Wait(t, time.Minute)
					if p.Err() != nil {
						t.Fatalf("%s", p.Describe())
					}
				}

				sent := summary(t, sender)
				if len(sent) != len(due) {
					t.Errorf("the sender sent %d campaigns, want %d (%v):\n%s", len(sent), len(due), due, sender.Describe())
				}
				if other != nil {
					if again := summary(t, other); len(again) != 0 {
						t.Errorf("the waiting kb send sent too: %+v", again)
					}
				}
				checkLedger(t, o, due, subscribers, false)
				kbproc.CheckDelivered(t, mg.Server, due, addresses, false)
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
func survivorAndQuitter(t *testing.T, a, b *kbproc.Proc) (survivor, quitter *kbproc.Proc) {
	t.Helper()
	select {
	case <-a.Done():
		survivor, quitter = b, a
	case <-b.Done():
		survivor, quitter = a, b
	case <-time.After(giveUp):
		t.Fatalf("neither kb send gave up within %s (both holding the lock?):\n%s\n%s", giveUp, a.Describe(), b.Describe())
	}
	errOut := quitter.Stderr.String()
	if quitter.Err() == nil || !strings.Contains(errOut, "another kb send is running") ||
		!strings.Contains(errOut, fmt.Sprintf(":%d since", survivor.Pid())) {
		t.Fatalf("want the second kb send to exit non-zero, naming pid %d as the holder; got %s",
			survivor.Pid(), quitter.Describe())
	}
	t.Logf("the other kb send: %s", strings.TrimSpace(errOut[strings.LastIndex(strings.TrimSpace(errOut), "\n")+1:]))
	if strings.Contains(quitter.Stdout.String(), `"slug"`) {
		t.Errorf("the kb send that gave up reports campaigns: %s", quitter.Stdout.String())
	}
	select {
	case <-survivor.Done():
		t.Fatalf("the lock holder exited while its Mailgun calls were held: %s", survivor.Describe())
	default:
	}
	return survivor, nil
}

// waiterAndHolder waits until one of two sends started with --wait says it
// is waiting for the lock, and returns the holder and the waiter.
func waiterAndHolder(t *testing.T, a, b *kbproc.Proc) (holder, waiter *kbproc.Proc) {
	t.Helper()
	const waiting = "waiting for the send lock"
	select {
	case <-a.Stderr.Seen(waiting):
		holder, waiter = b, a
	case <-b.Stderr.Seen(waiting):
		holder, waiter = a, b
	case <-a.Done():
		t.Fatalf("a kb send --wait exited before the other released the lock: %s", a.Describe())
	case <-b.Done():
		t.Fatalf("a kb send --wait exited before the other released the lock: %s", b.Describe())
	case <-time.After(giveUp):
		t.Fatalf("neither kb send --wait waited within %s (both holding the lock?):\n%s\n%s", giveUp, a.Describe(), b.Describe())
	}
	if !strings.Contains(waiter.Stderr.String(), fmt.Sprintf(":%d since", holder.Pid())) {
		t.Errorf("the waiting kb send does not name pid %d as the holder: %s", holder.Pid(), waiter.Stderr.String())
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
	out := kbproc.MustRun(t, o, "send", "--dry-run", "--json", "--out", s.public, "--base-url", baseURL)
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

func summary(t *testing.T, p *kbproc.Proc) []kbproc.Campaign {
	t.Helper()
	var sum struct {
		Campaigns []kbproc.Campaign `json:"campaigns"`
	}
	if err := json.Unmarshal(p.Stdout.Bytes(), &sum); err != nil {
		t.Fatalf("kb send --json output: %v\n%s", err, p.Describe())
	}
	return sum.Campaigns
}

// checkLedger reads kb campaigns --json: every due guide, and nothing
// else, sent to all n; with resolved, recipients resolved through
// Mailgun's events (after a kill) count as sent.
func checkLedger(t *testing.T, o kbproc.Options, due []string, n int, resolved bool) {
	t.Helper()
	list := kbproc.Ledger(t, o)
	if len(list) != len(due) {
		t.Errorf("ledger has %d campaigns, want %d: %+v", len(list), len(due), list)
	}
	kbproc.CheckSent(t, list, n, resolved)
}
