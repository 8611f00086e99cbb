package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/pgtest"
)

// killPhase is where in a Mailgun call a kb send is killed.
type killPhase int

const (
	killBeforeMailgun killPhase = iota // the call has not reached Mailgun
	killUnanswered                     // Mailgun accepted it; kb never hears back
	killAnswered                       // kb has the answer, and may or may not have recorded it
)

func (p killPhase) String() string {
	return [...]string{"before Mailgun has it", "accepted, unanswered", "answered"}[p]
}

// killMoment is the call of a run (1 is its first) and the phase of it at
// which the run is killed.
type killMoment struct {
	call  int
	phase killPhase
}

// killingMailgun is the Mailgun-compatible server behind a proxy that
// tells the test when the armed moment of a run has come. A call is read
// whole before it is passed on, and then finishes even if its kb send
// died. (A call another goroutine of a killed process was still writing
// can reach Mailgun cut short; Mailgun refuses it, delivering nothing.)
type killingMailgun struct {
	*mailguntest.Server
	apiBase string
	proxy   *httputil.ReverseProxy

	mu     sync.Mutex
	moment killMoment
	calls  int           // in this run
	now    chan struct{} // closed at the moment; nil when disarmed
}

func newKillingMailgun(t *testing.T) *killingMailgun {
	t.Helper()
	mg, proxy := proxiedMailgun(t)
	k := &killingMailgun{Server: mg, proxy: proxy}
	srv := httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(srv.Close)
	k.apiBase = srv.URL + "/v3"
	return k
}

func (k *killingMailgun) env() map[string]string {
	return map[string]string{"MAILGUN_API_KEY": k.APIKey(), "MAILGUN_DOMAIN": k.Domain(), "MAILGUN_API_BASE": k.apiBase}
}

// arm sets the moment of the next run (nil: none) and returns the channel
// closed when it comes.
func (k *killingMailgun) arm(m *killMoment) <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls, k.now = 0, nil
	if m == nil {
		return nil
	}
	k.moment, k.now = *m, make(chan struct{})
	return k.now
}

func (k *killingMailgun) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the kb send died while sending the call
	}
	died := r.Context().Done()
	r = r.Clone(context.WithoutCancel(r.Context()))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages") {
		k.proxy.ServeHTTP(w, r)
		return
	}
	k.mu.Lock()
	k.calls++
	var now chan struct{}
	if k.now != nil && k.calls == k.moment.call {
		now = k.now
	}
	phase := k.moment.phase
	k.mu.Unlock()
	if now == nil {
		k.proxy.ServeHTTP(w, r)
		return
	}
	switch phase {
	case killBeforeMailgun:
		close(now)
	case killUnanswered:
		k.proxy.ServeHTTP(httptest.NewRecorder(), r)
		close(now)
	case killAnswered:
		k.proxy.ServeHTTP(w, r)
		http.NewResponseController(w).Flush()
		close(now)
		return
	}
	<-died // never answered: the process dies first
}

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
			csvPath, addresses := writeCSV(t, n, "kill.example.pl")
			mustRun(t, o, "subscribers", "import", csvPath, "--status", "confirmed")
			due := planned(t, o, s)

			mg := newKillingMailgun(t)
			o = kbproc.Options{Env: env(dsn, mg.env())}
			args := []string{"send", "--out", s.public, "--base-url", baseURL, "--concurrency", "2", "--settle=-1s"}
			start, kills := time.Now(), 0
			for kills < 10 {
				m := killMoment{call: 1 + rng.IntN(2), phase: killPhase(rng.IntN(3))}
				at := mg.arm(&m)
				p := startProc(t, o, args...)
				select {
				case <-at:
					p.cmd.Process.Signal(syscall.SIGKILL)
					<-p.done
					kills++
					t.Logf("kill %d: call %d, %s", kills, m.call, m.phase)
					continue
				case <-p.done:
				case <-time.After(time.Minute):
					t.Fatalf("run %d neither reached call %d nor ended: %s", kills+1, m.call, p.describe())
				}
				if strings.Contains(p.stderr.String(), "another kb send is running") {
					t.Fatalf("refused right after a kill: %s", p.describe())
				}
				t.Fatalf("the send ended after %d kills, before call %d (%v): %s", kills, m.call, p.err, p.describe())
			}
			mg.arm(nil)
			last := startProc(t, o, args...)
			last.wait(t, time.Minute)
			if last.err != nil {
				t.Fatalf("the run after the kills: %s", last.describe())
			}
			t.Logf("%d kills and the last run in %s; %d Mailgun calls", kills, time.Since(start).Round(time.Millisecond), len(mg.Calls()))
			checkLedger(t, o, due, n, true)
			checkDelivered(t, mg.Server, due, addresses, true)
		})
	}
}

// planned is the slugs kb send --dry-run would send.
func planned(t *testing.T, o kbproc.Options, s site) []string {
	t.Helper()
	var plan []struct {
		Slug string `json:"slug"`
	}
	out := mustRun(t, o, "send", "--dry-run", "--json", "--out", s.public, "--base-url", baseURL)
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
