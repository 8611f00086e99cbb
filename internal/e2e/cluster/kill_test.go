package cluster

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/pgtest"
)

// TestSendKilledAnywhereResumesAtOnce kills kb send with SIGKILL at ten
// random moments of a send and starts the next one at once: no run may be
// refused as "another kb send is running" (a dead process holds no lock),
// and across all runs each subscriber gets each guide exactly once.
func TestSendKilledAnywhereResumesAtOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KB_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (KB_TEST_SEED=%d repeats this run)", seed, seed)
	s := buildSite(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "kb.db")
			if db == "postgres" {
				dsn = pgtest.DSN(t)
			}
			o := kbproc.Options{Env: env(dsn, nil)}
			// Enough batches that ten kills, each letting at most three
			// batches through, leave work for the last run.
			guides := len(planned(t, o, s))
			n := ((32+guides-1)/guides)*1000 - 500
			csvPath, addresses := kbproc.WriteCSV(t, n, "kill.example.pl")
			kbproc.MustRun(t, o, "subscribers", "import", csvPath, "--status", "confirmed")
			due := planned(t, o, s)

			mg := kbproc.NewKillingMailgun(t)
			o = kbproc.Options{Env: env(dsn, mg.Env())}
			args := []string{"send", "--out", s.public, "--base-url", baseURL, "--concurrency", "2", "--settle=-1s"}
			start, kills := time.Now(), 0
			for kills < 10 {
				m := kbproc.KillMoment{Call: 1 + rng.IntN(2), Phase: kbproc.KillPhase(rng.IntN(3))}
				if !mg.KillAt(t, m, o, args...) {
					t.Fatalf("the send ended after %d kills, before call %d", kills, m.Call)
				}
				kills++
				t.Logf("kill %d: call %d, %s", kills, m.Call, m.Phase)
			}
			mg.Arm(nil)
			last := kbproc.StartProc(t, o, args...)
			last.Wait(t, time.Minute)
			if last.Err() != nil {
				t.Fatalf("the run after the kills: %s", last.Describe())
			}
			t.Logf("%d kills and the last run in %s; %d Mailgun calls", kills, time.Since(start).Round(time.Millisecond), len(mg.Calls()))
			checkLedger(t, o, due, n, true)
			kbproc.CheckDelivered(t, mg.Server, due, addresses, true)
		})
	}
}

// planned is the slugs kb send --dry-run would send.
func planned(t *testing.T, o kbproc.Options, s site) []string {
	t.Helper()
	var plan []struct {
		Slug string `json:"slug"`
	}
	out := kbproc.MustRun(t, o, "send", "--dry-run", "--json", "--out", s.public, "--base-url", baseURL)
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("kb send --dry-run --json: %v\n%s", err, out)
	}
	if len(plan) == 0 {
		t.Fatal("the site has no guide due for the newsletter; the test needs at least one")
	}
	slugs := make([]string, len(plan))
	for i, p := range plan {
		slugs[i] = p.Slug
	}
	return slugs
}
