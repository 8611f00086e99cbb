package cluster

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/pgtest"
)

// TestTwoServersShareOnePostgres runs two kb serve processes on one
// PostgreSQL database, each with its own outbox, and signs 500 people up
// across both at once — some twice, with differently cased addresses,
// on both servers at the same moment — then imports 2,000 pending
// addresses and wakes both workers at once on that backlog. Every address
// must be stored once and confirmed by exactly one email, although both
// workers race on the one queue; and a link mailed by one instance must
// work on the other.
func TestTwoServersShareOnePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := buildSite(t)
	migrateTogether(t, dsn)

	var servers [2]*kbproc.Server
	for i, name := range []string{"a", "b"} {
		servers[i] = kbproc.Start(t, kbproc.Options{Env: env(dsn, nil)}, s.serveArgs("worker-"+name)...)
	}
	if servers[0].Outbox == servers[1].Outbox {
		t.Fatal("both servers write to one outbox: the test could not tell their workers apart")
	}

	// 440 people; 60 of them sign up a second time on the other server at
	// the same moment: the same address, all upper case, or another case
	// of the local part and domain.
	const people, twice, concurrency, backlogSize = 440, 60, 16, 2000
	type request struct {
		server  int
		address string
	}
	var jobs [][]request
	want := map[string]bool{}
	for i := range people {
		addr := fmt.Sprintf("czytelnik%03d@cluster.example.pl", i)
		want[addr] = true
		job := []request{{i % 2, addr}}
		if i < twice {
			again := [...]string{addr, strings.ToUpper(addr), fmt.Sprintf("Czytelnik%03d@Cluster.Example.PL", i)}[i%3]
			job = append(job, request{1 - i%2, again})
		}
		jobs = append(jobs, job)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	queue := make(chan []request)
	errs := make(chan error, people+twice)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for job := range queue {
				// Both requests of a pair are in flight together.
				var pair sync.WaitGroup
				for n, r := range job {
					pair.Go(func() {
						errs <- kbproc.Signup(ctx, servers[r.server].URL, r.address, kbproc.PersonName(n), false)
					})
				}
				pair.Wait()
			}
		})
	}
	for _, job := range jobs {
		queue <- job
	}
	close(queue)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	o := kbproc.Options{Env: env(dsn, nil)}
	kbproc.WaitDrained(t, o, func(s kbproc.Stats) bool { return s.Subscribers["pending"] == people })

	// A backlog both workers drain at the same moment: a pending list
	// imported while both run, then a signup on each server wakes both.
	csvPath, backlog := kbproc.WriteCSV(t, backlogSize, "backlog.example.pl")
	kbproc.MustRun(t, o, "subscribers", "import", csvPath, "--status", "pending")
	for _, addr := range backlog {
		want[addr] = true
	}
	var wake sync.WaitGroup
	wakeErrs := make([]error, 2)
	for i, srv := range servers {
		addr := fmt.Sprintf("pobudka%d@cluster.example.pl", i)
		want[addr] = true
		wake.Go(func() { wakeErrs[i] = kbproc.Signup(ctx, srv.URL, addr, "", false) })
	}
	wake.Wait()
	if err := errors.Join(wakeErrs...); err != nil {
		t.Fatal(err)
	}
	kbproc.WaitDrained(t, o, func(s kbproc.Stats) bool { return s.Subscribers["pending"] == len(want) })

	// Every address once in the database, whichever server took it.
	var subs []struct {
		Email  string `json:"email"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(kbproc.MustRun(t, o, "subscribers", "export", "--format", "json")), &subs); err != nil {
		t.Fatalf("kb subscribers export --format json: %v", err)
	}
	stored := map[string]int{}
	for _, sub := range subs {
		stored[strings.ToLower(sub.Email)]++
		if sub.Status != "pending" {
			t.Errorf("%s is %s, want pending", sub.Email, sub.Status)
		}
	}
	for addr, n := range stored {
		if n != 1 || !want[addr] {
			t.Errorf("%s stored %d times (expected address: %v)", addr, n, want[addr])
		}
	}
	if len(stored) != len(want) {
		t.Errorf("%d addresses stored, want %d", len(stored), len(want))
	}

	// Every confirmation exactly once across both outboxes.
	sent := map[string]int{}
	var byServer [2][]kbproc.Email
	for i, srv := range servers {
		for _, e := range kbproc.ReadOutbox(t, srv.Outbox) {
			if e.Tag != "kb-confirm" {
				t.Errorf("%s: unexpected email %q (%s)", e.File, e.Subject, e.Tag)
				continue
			}
			sent[strings.ToLower(e.To)]++
			byServer[i] = append(byServer[i], e)
		}
	}
	for addr := range want {
		if sent[addr] != 1 {
			t.Errorf("%s got %d confirmation emails, want 1", addr, sent[addr])
		}
	}
	if len(sent) != len(want) {
		t.Errorf("confirmations went to %d addresses, want %d", len(sent), len(want))
	}
	t.Logf("confirmations sent by worker a: %d, by worker b: %d", len(byServer[0]), len(byServer[1]))
	if len(byServer[0]) == 0 || len(byServer[1]) == 0 {
		t.Errorf("one worker sent every email (a: %d, b: %d): the two did not share the queue",
			len(byServer[0]), len(byServer[1]))
	}
	checkQueue(t, dsn, len(want))

	// No sticky sessions: a link mailed by one instance confirms on the other.
	clicked := 0
	for i := range 2 {
		for _, e := range byServer[i][:min(10, len(byServer[i]))] {
			kbproc.Confirm(t, ctx, servers[1-i].URL+e.TokenPath(t, "/api/confirm"))
			clicked++
		}
	}
	if st := kbproc.ReadStats(t, o); st.Subscribers["confirmed"] != clicked {
		t.Errorf("confirmed through the other instance: %d, want %d", st.Subscribers["confirmed"], clicked)
	}
}

// checkQueue reads the mail queue directly: each person's confirmation was
// queued once and is recorded as sent.
func checkQueue(t *testing.T, dsn string, people int) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, sent, distinct int
	err = db.QueryRowContext(t.Context(), `SELECT count(*), count(*) FILTER (WHERE status = 'sent'),
		count(DISTINCT subscriber_id) FROM mail_queue WHERE kind = 'confirm'`).Scan(&rows, &sent, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if rows != people || sent != people || distinct != people {
		t.Errorf("mail_queue: %d confirmations for %d subscribers, %d sent; want %d of each", rows, distinct, sent, people)
	}
}

var schemaVersion = regexp.MustCompile(`schema version (\d+)`)

// migrateTogether runs two kb migrate at once on an empty database: the
// migration lock must let one apply the schema while the other waits.
func migrateTogether(t *testing.T, dsn string) {
	t.Helper()
	o := kbproc.Options{Env: env(dsn, nil)}
	procs := []*kbproc.Proc{kbproc.StartProc(t, o, "migrate"), kbproc.StartProc(t, o, "migrate")}
	var versions []string
	for _, p := range procs {
		p.Wait(t, time.Minute)
		m := schemaVersion.FindStringSubmatch(p.Stdout.String())
		if p.Err() != nil || m == nil {
			t.Fatalf("concurrent migrate failed: %s", p.Describe())
		}
		versions = append(versions, m[1])
	}
	if versions[0] != versions[1] {
		t.Fatalf("concurrent migrations ended at schema versions %v", versions)
	}
}
