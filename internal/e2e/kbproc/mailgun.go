package kbproc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/mailguntest"
)

// ProxiedMailgun is a Mailgun-compatible server and a reverse proxy to it,
// for a test to put its own handler in between. The proxy logs nothing:
// calls abandoned by a test's handler (or by a killed process) are expected.
func ProxiedMailgun(t testing.TB) (*mailguntest.Server, *httputil.ReverseProxy) {
	t.Helper()
	mg := mailguntest.New()
	t.Cleanup(mg.Close)
	target, err := url.Parse(strings.TrimSuffix(mg.URL(), "/v3"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	return mg, proxy
}

// MailgunEnv is the Mailgun part of a kb process's environment: mg's key
// and domain, and apiBase (mg.URL(), or a proxy's /v3 in front of it).
func MailgunEnv(mg *mailguntest.Server, apiBase string) map[string]string {
	return map[string]string{"MAILGUN_API_KEY": mg.APIKey(), "MAILGUN_DOMAIN": mg.Domain(), "MAILGUN_API_BASE": apiBase}
}

// KillPhase is where in a Mailgun call a kb send is killed.
type KillPhase int

const (
	KillBeforeMailgun KillPhase = iota // the call has not reached Mailgun
	KillUnanswered                     // Mailgun accepted it; kb never hears back
	KillAnswered                       // kb has the answer, and may or may not have recorded it
)

func (p KillPhase) String() string {
	return [...]string{"before Mailgun has it", "accepted, unanswered", "answered"}[p]
}

// KillMoment is the messages call of a run (1 is its first) and the phase
// of it at which the run is killed.
type KillMoment struct {
	Call  int
	Phase KillPhase
}

// KillingMailgun is the Mailgun-compatible server behind a proxy that
// tells the test when the armed moment of a run has come, and holds that
// call there until the process dies. A call is read whole before it is
// passed on, and then finishes even if its kb send died. (A call another
// goroutine of a killed process was still writing can reach Mailgun cut
// short; Mailgun refuses it, delivering nothing.)
type KillingMailgun struct {
	*mailguntest.Server
	apiBase string
	proxy   *httputil.ReverseProxy

	mu     sync.Mutex
	moment KillMoment
	calls  int           // in this run
	now    chan struct{} // closed at the moment; nil when disarmed
}

// NewKillingMailgun starts one, disarmed.
func NewKillingMailgun(t testing.TB) *KillingMailgun {
	t.Helper()
	mg, proxy := ProxiedMailgun(t)
	k := &KillingMailgun{Server: mg, proxy: proxy}
	srv := httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(srv.Close)
	k.apiBase = srv.URL + "/v3"
	return k
}

// Env is the Mailgun part of a kb send's environment.
func (k *KillingMailgun) Env() map[string]string { return MailgunEnv(k.Server, k.apiBase) }

// Arm sets the moment of the next run (nil: none) and returns the channel
// closed when it comes.
func (k *KillingMailgun) Arm(m *KillMoment) <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls, k.now = 0, nil
	if m == nil {
		return nil
	}
	k.moment, k.now = *m, make(chan struct{})
	return k.now
}

func (k *KillingMailgun) serve(w http.ResponseWriter, r *http.Request) {
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
	if k.now != nil && k.calls == k.moment.Call {
		now = k.now
	}
	phase := k.moment.Phase
	k.mu.Unlock()
	if now == nil {
		k.proxy.ServeHTTP(w, r)
		return
	}
	switch phase {
	case KillBeforeMailgun:
		close(now)
	case KillUnanswered:
		k.proxy.ServeHTTP(httptest.NewRecorder(), r)
		close(now)
	case KillAnswered:
		k.proxy.ServeHTTP(w, r)
		http.NewResponseController(w).Flush()
		close(now)
		return
	}
	<-died // never answered: the process dies first
}

// Campaign is a campaign as kb send --json and kb campaigns --json print it.
type Campaign struct {
	Slug       string `json:"slug"`
	State      string `json:"state"`
	Recipients int    `json:"recipients"`
	Sent       int    `json:"sent"`
	Resolved   int    `json:"resolved"`
	Skipped    int    `json:"skipped"`
	Failed     int    `json:"failed"`
	Error      string `json:"error"`
}

// Ledger is `kb campaigns --json`: every campaign in o's database.
func Ledger(t testing.TB, o Options) []Campaign {
	t.Helper()
	var list []Campaign
	if err := json.Unmarshal([]byte(MustRun(t, o, "campaigns", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	return list
}

// CheckSent checks that each campaign was sent to all n of its
// recipients; with resolved, recipients resolved through Mailgun's events
// (after a kill) count as sent.
func CheckSent(t testing.TB, campaigns []Campaign, n int, resolved bool) {
	t.Helper()
	for _, c := range campaigns {
		sent := c.Sent
		if resolved {
			sent += c.Resolved
		}
		if c.State != "sent" || c.Recipients != n || sent != n || c.Failed+c.Skipped != 0 || (!resolved && c.Resolved != 0) {
			t.Errorf("campaign %+v: want sent to all %d", c, n)
		}
	}
}

// CheckDelivered reads the Mailgun server: each due campaign (o:tag is its
// slug) reached every address exactly once, and nothing else was sent to
// them. With cutByKill, calls a killed process left half-written (which
// Mailgun refuses, delivering nothing) are allowed.
func CheckDelivered(t testing.TB, mg *mailguntest.Server, due, addresses []string, cutByKill bool) {
	t.Helper()
	perCampaign := map[string]map[string]int{}
	for _, c := range mg.Calls() {
		if !c.Accepted {
			if cutByKill && strings.HasPrefix(c.Error, "Malformed request body") {
				t.Logf("a call cut by a kill was refused: %d %s", c.Status, c.Error)
				continue
			}
			t.Errorf("call refused: %d %s", c.Status, c.Error)
			continue
		}
		if len(c.Tags) != 1 {
			t.Errorf("call with tags %v, want the campaign's slug", c.Tags)
			continue
		}
		if perCampaign[c.Tags[0]] == nil {
			perCampaign[c.Tags[0]] = map[string]int{}
		}
		for _, to := range c.To {
			perCampaign[c.Tags[0]][to]++
		}
	}
	if len(perCampaign) != len(due) {
		t.Errorf("Mailgun got calls for %d campaigns, want %d", len(perCampaign), len(due))
	}
	total := mg.Recipients()
	for _, slug := range due {
		got := perCampaign[slug]
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

// KillAt runs `kb ARGS…` (a kb send) armed at moment m and kills it with
// SIGKILL when m comes. It returns false, logging the run, if the run
// ended first; it fails the test if the run was refused as "another kb
// send is running" (a dead process holds no lock) or neither happened
// within a minute.
func (k *KillingMailgun) KillAt(t testing.TB, m KillMoment, o Options, args ...string) bool {
	t.Helper()
	at := k.Arm(&m)
	p := StartProc(t, o, args...)
	select {
	case <-at:
		p.Kill()
		return true
	case <-p.Done():
	case <-time.After(time.Minute):
		t.Fatalf("the run neither reached call %d nor ended: %s", m.Call, p.Describe())
	}
	if strings.Contains(p.Stderr.String(), "another kb send is running") {
		t.Fatalf("refused right after a kill: %s", p.Describe())
	}
	t.Logf("the run ended before call %d (%v): %s", m.Call, p.Err(), p.Describe())
	return false
}
