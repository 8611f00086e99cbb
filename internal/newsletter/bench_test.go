package newsletter

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver, for seeding
	_ "modernc.org/sqlite"             // the sqlite driver, for seeding

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/pgtest"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

var (
	bench1M = flag.Bool("newsletter.1m", false, "also run BenchmarkSend1M (a million subscribers; minutes)")
	// BENCHMARKS.md is at 20 ms; a real Mailgun call carrying 1,000
	// recipients takes longer, which hides more of the CPU behind it.
	benchLatency = flag.Duration("newsletter.latency", 20*time.Millisecond, "the fake Mailgun's time to answer a call")
)

const (
	envFakeLatency = "KB_NEWSLETTER_TEST_LATENCY"
	// envFakeProfile names a file for the fake Mailgun's CPU profile, to
	// see what the benchmark's other process costs the machine.
	envFakeProfile = "KB_NEWSLETTER_FAKE_CPUPROFILE"
	benchWorkers   = 4
)

// BenchmarkSend100k sends one guide to 100,000 confirmed subscribers
// through the real Mailgun client to a fake Mailgun in another process that
// answers each call after 20 ms (-newsletter.latency), four calls in flight.
//
//	go test -run '^$' -bench Send100k -benchtime 1x ./internal/newsletter
//	go test -run '^$' -bench Send1M -benchtime 1x -newsletter.1m ./internal/newsletter
//
// -cpuprofile profiles the sender; KB_NEWSLETTER_FAKE_CPUPROFILE=FILE the
// fake Mailgun, which shares the machine's cores with it.
func BenchmarkSend100k(b *testing.B) { benchSend(b, 100_000) }

// BenchmarkSend1M is BenchmarkSend100k with a million subscribers; memory
// must stay where it is at 100k.
func BenchmarkSend1M(b *testing.B) {
	if !*bench1M {
		b.Skip("a million subscribers take minutes: run with -newsletter.1m")
	}
	benchSend(b, 1_000_000)
}

func benchSend(b *testing.B, n int) {
	b.Run("sqlite", func(b *testing.B) {
		benchSendOn(b, n, backend{name: "sqlite", dsn: "sqlite:" + filepath.Join(b.TempDir(), "kb.db")})
	})
	b.Run("postgres", func(b *testing.B) {
		benchSendOn(b, n, backend{name: "postgres", dsn: pgtest.DSN(b)})
	})
}

// benchRig is what a send benchmark runs on: n seeded subscribers, the
// fake Mailgun in another process behind the real client, and counters.
type benchRig struct {
	ts        *timedStore
	ct        *countingTransport
	stats     func() fakeStats
	publish   string
	newSender func(edit func(*Options)) *Sender
}

func newBenchRig(b *testing.B, n int, be backend) *benchRig {
	st := be.open(b)
	seedFast(b, be, n)
	tpl, signer, err := testTemplates()
	if err != nil {
		b.Fatal(err)
	}
	api, stats := startFakeMailgun(b, *benchLatency)
	mg, err := mail.NewMailgun(mail.MailgunConfig{Domain: mailguntest.DefaultDomain, APIKey: mailguntest.DefaultAPIKey,
		APIBase: api, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	r := &benchRig{ts: &timedStore{Store: st}, ct: &countingTransport{Transport: mg}, stats: stats, publish: b.TempDir()}
	r.newSender = func(edit func(*Options)) *Sender {
		o := Options{From: testFrom, Concurrency: benchWorkers, Settle: -1,
			Logger: slog.New(slog.DiscardHandler), Holder: "bench"}
		if edit != nil {
			edit(&o)
		}
		return New(r.ts, r.ct, tpl, token.NewLinks(signer, testBaseURL), o)
	}
	return r
}

func benchSendOn(b *testing.B, n int, be backend) {
	rig := newBenchRig(b, n, be)
	ts, ct, stats, publish := rig.ts, rig.ct, rig.stats, rig.publish
	s := rig.newSender(nil)

	// Measure the process's peak RSS from here on (Linux), not the seeding
	// or an earlier sub-benchmark.
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := samplePeakHeap()

	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for i := range b.N {
		g := testGuide(fmt.Sprintf("bench-%d", i), 1)
		writePage(b, publish, g)
		sum, err := s.Run(context.Background(), []guide.Guide{g}, publish)
		if err != nil {
			b.Fatal(err)
		}
		if c := sum.Campaigns[0]; c.Sent != n {
			b.Fatalf("sent %d of %d", c.Sent, n)
		}
	}
	wall := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	peakHeap := peak()

	st2 := stats()
	if st2.Accepted != int(ct.calls.Load()) || st2.Recipients != n*b.N || st2.Distinct != n || st2.MaxPerAddress != b.N {
		b.Errorf("fake Mailgun: %+v; want %d calls, %d recipients, %d distinct, each %d times", st2, ct.calls.Load(), n*b.N, n, b.N)
	}
	calls := float64(ct.calls.Load()) / float64(b.N)
	perRun := wall.Seconds() / float64(b.N)
	floor := calls * benchLatency.Seconds() / benchWorkers
	b.ReportMetric(perRun, "wall-s/op")
	b.ReportMetric(ts.create.Seconds()/float64(b.N), "create-campaign-s/op")
	b.ReportMetric(perRun-ts.create.Seconds()/float64(b.N), "send-phase-s/op")
	// Calls in flight on average during the send phase (at most
	// benchWorkers): below it, the sender kept Mailgun waiting.
	b.ReportMetric(float64(ct.busy.Load())/float64(wall-ts.create), "in-flight")
	b.ReportMetric(cpu.Seconds()/float64(b.N)/float64(n)*1000*1000, "sender-cpu-ms/1k")
	b.ReportMetric(calls, "calls/op")
	b.ReportMetric(floor, "floor-s/op")
	b.ReportMetric(perRun/floor, "x-floor")
	b.ReportMetric(float64(n)/perRun, "recipients/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "sender-cpu-s/op")
	b.ReportMetric(st2.CPU.Seconds()/float64(b.N), "mailgun-cpu-s/op")
	b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-heap-MiB")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(vmHWM())/(1<<10), "VmHWM-MiB")
}

// benchClient is what the benchmarks that call Mailgun without a Sender
// share: the client against a fake Mailgun in another process, one guide's
// email and the links to fill in.
type benchClient struct {
	mg    *mail.Mailgun
	stats func() fakeStats
	guide guide.Guide
	email emails.Email
	links *token.Links
}

func newBenchClient(b *testing.B, slug string) benchClient {
	b.Helper()
	tpl, signer, err := testTemplates()
	if err != nil {
		b.Fatal(err)
	}
	api, stats := startFakeMailgun(b, *benchLatency)
	mg, err := mail.NewMailgun(mail.MailgunConfig{Domain: mailguntest.DefaultDomain, APIKey: mailguntest.DefaultAPIKey,
		APIBase: api, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	g := testGuide(slug, 1)
	e, err := tpl.Newsletter(g, emails.NewsletterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return benchClient{mg: mg, stats: stats, guide: g, email: e, links: token.NewLinks(signer, testBaseURL)}
}

// BenchmarkNaiveSend is the comparison for BenchmarkSend100k: the same
// fake Mailgun (20 ms a call, four calls in flight), but one call per
// recipient, as a sender without batches and recipient variables makes.
// It sends to 2,000 recipients and reports the time per recipient and what
// that comes to for 100,000 and 1,000,000.
//
//	go test -run '^$' -bench NaiveSend -benchtime 1x ./internal/newsletter
func BenchmarkNaiveSend(b *testing.B) {
	const n = 2000
	c := newBenchClient(b, "naive")
	mg, g, e, links := c.mg, c.guide, c.email, c.links
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		sem := make(chan struct{}, benchWorkers)
		var wg sync.WaitGroup
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				m := e.Fill(emails.RecipientVars(links.Unsubscribe(int64(i+1), "0123456789abcdef01234567"), links.Preferences(int64(i+1), "0123456789abcdef01234567")))
				_, err := mg.Send(context.Background(), &mail.Message{From: testFrom, To: fmt.Sprintf("naive%d@example.com", i),
					Subject: m.Subject, HTML: m.HTML, Text: m.Text, Headers: m.Headers, Tags: []string{g.Slug}})
				if err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	perRecipient := time.Since(start).Seconds() / float64(b.N*n)
	b.ReportMetric(perRecipient*1000, "ms/recipient")
	b.ReportMetric(perRecipient*100_000, "naive-100k-s")
	b.ReportMetric(perRecipient*1_000_000, "naive-1M-s")
}

// BenchmarkMailgunAlone is what this machine allows any sender built on
// mailgun-go: the 100 batches of BenchmarkSend100k, built before the clock
// starts (no database, no signing, no rendering), handed to mail.Mailgun
// four at a time against the same fake Mailgun. Its wall time is the
// floor plus the client's and the server's CPU on shared cores; kb's send
// is compared with it to see what kb itself adds.
//
//	go test -run '^$' -bench MailgunAlone -benchtime 1x ./internal/newsletter
func BenchmarkMailgunAlone(b *testing.B) {
	const n, size = 100_000, store.MaxBatchSize
	c := newBenchClient(b, "alone")
	mg, g, e, links, stats := c.mg, c.guide, c.email, c.links, c.stats
	batches := make([]*mail.Batch, n/size)
	for k := range batches {
		rs := make([]mail.Recipient, size)
		for i := range rs {
			id := int64(k*size + i + 1)
			key := "key" + strconv.FormatInt(id, 10)
			rs[i] = mail.Recipient{Address: fmt.Sprintf("user%d@example.com", id), Name: fmt.Sprintf("Czytelnik %d", id),
				Vars: emails.RecipientVars(links.Unsubscribe(id, key)+"&"+ParamCampaign+"=1", links.Preferences(id, key))}
		}
		batches[k] = &mail.Batch{From: testFrom, Subject: e.Subject, HTML: e.HTML, Text: e.Text, Headers: e.Headers,
			Tags: []string{tagFor(g.Slug)}, Variables: map[string]string{VarCampaign: "1", VarBatch: batchValue(1, k)}, Recipients: rs}
	}
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for range b.N {
		next := make(chan *mail.Batch)
		var wg sync.WaitGroup
		for range benchWorkers {
			wg.Go(func() {
				for bt := range next {
					if _, err := mg.SendBatch(context.Background(), bt); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, bt := range batches {
			next <- bt
		}
		close(next)
		wg.Wait()
	}
	wall := time.Since(start).Seconds() / float64(b.N)
	cpu := (processCPU() - cpu0).Seconds() / float64(b.N)
	b.StopTimer()
	st := stats()
	if st.Recipients != n*b.N || st.Distinct != n {
		b.Errorf("fake Mailgun: %+v; want %d recipients, %d distinct", st, n*b.N, n)
	}
	floor := float64(len(batches)) * benchLatency.Seconds() / benchWorkers
	b.ReportMetric(wall, "wall-s/op")
	b.ReportMetric(floor, "floor-s/op")
	b.ReportMetric(wall/floor, "x-floor")
	b.ReportMetric(cpu, "client-cpu-s/op")
	b.ReportMetric(st.CPU.Seconds()/float64(b.N), "mailgun-cpu-s/op")
}

// seedFast inserts n confirmed subscribers with one statement.
func seedFast(b *testing.B, be backend, n int) {
	b.Helper()
	driver, dsn := "pgx", be.dsn
	if be.name == "sqlite" {
		driver, dsn = "sqlite", strings.TrimPrefix(be.dsn, "sqlite:")+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := strconv.FormatInt(time.Now().UnixMicro(), 10)
	q := `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ` + strconv.Itoa(n) + `)
		INSERT INTO subscribers (email, email_key, name, status, created_at, updated_at, confirmed_at, link_key)
		SELECT 'user' || i || '@example.com', 'user' || i || '@example.com', 'Czytelnik ' || i, 'confirmed', ` +
		now + `, ` + now + `, ` + now + `, 'key' || i FROM seq`
	start := time.Now()
	if _, err := db.Exec(q); err != nil {
		b.Fatalf("seed %d subscribers: %v", n, err)
	}
	b.Logf("seeded %d subscribers in %s", n, time.Since(start).Round(time.Millisecond))
}

func writePage(b *testing.B, publish string, g guide.Guide) {
	path := filepath.Join(publish, filepath.FromSlash(g.OutputPath))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("<!doctype html>"), 0o644); err != nil {
		b.Fatal(err)
	}
}

type countingTransport struct {
	Transport
	calls atomic.Int64
	busy  atomic.Int64 // ns spent inside SendBatch, summed over calls
}

func (c *countingTransport) SendBatch(ctx context.Context, b *mail.Batch) (string, error) {
	c.calls.Add(1)
	start := time.Now()
	defer func() { c.busy.Add(int64(time.Since(start))) }()
	return c.Transport.SendBatch(ctx, b)
}

type timedStore struct {
	*store.Store
	create, createDigest time.Duration
}

func (t *timedStore) CreateCampaign(ctx context.Context, spec store.CampaignSpec, now time.Time) (store.Campaign, error) {
	start := time.Now()
	defer func() { t.create += time.Since(start) }()
	return t.Store.CreateCampaign(ctx, spec, now)
}

// samplePeakHeap samples HeapInuse every 10 ms until the returned function
// is called, which returns the peak.
func samplePeakHeap() func() uint64 {
	var (
		peak uint64
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		wg.Wait()
		return peak
	}
}

// vmHWM is the process's peak resident set in KiB (Linux), 0 elsewhere. It
// includes SQLite's page cache, which lives outside the Go heap.
func vmHWM() uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// fakeStats is what the fake Mailgun child reports when it ends.
type fakeStats struct {
	Requests      int `json:"requests"`
	Accepted      int `json:"accepted"`
	Recipients    int `json:"recipients"`
	Distinct      int `json:"distinct"`
	MaxPerAddress int `json:"max_per_address"`
	// CPU is the fake server's user+system CPU time (filled in by the
	// parent): on a small machine it competes with the sender for cores.
	CPU time.Duration `json:"-"`
}

// startFakeMailgun runs mailguntest in a child process, so that neither its
// CPU nor its bookkeeping of a million recipients counts against the
// sender. stats ends it and returns its counters.
func startFakeMailgun(b *testing.B, latency time.Duration) (api string, stats func() fakeStats) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=mailgun", envFakeLatency+"="+latency.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		b.Fatalf("fake Mailgun: %v", err)
	}
	var once sync.Once
	var st fakeStats
	stats = func() fakeStats {
		once.Do(func() {
			stdin.Close()
			if err := json.NewDecoder(r).Decode(&st); err != nil {
				b.Errorf("fake Mailgun stats: %v", err)
			}
			cmd.Wait()
			if ps := cmd.ProcessState; ps != nil {
				st.CPU = ps.UserTime() + ps.SystemTime()
			}
		})
		return st
	}
	b.Cleanup(func() { stats() })
	return strings.TrimSpace(line), stats
}

// runFakeMailgun serves until stdin closes, then prints its counters.
func runFakeMailgun() int {
	latency, _ := time.ParseDuration(os.Getenv(envFakeLatency))
	if path := os.Getenv(envFakeProfile); path != "" {
		f, err := os.Create(path)
		if err == nil {
			defer f.Close()
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake Mailgun profile:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	srv := mailguntest.New(mailguntest.WithLatency(latency), mailguntest.WithCountOnly(), mailguntest.WithEvents(false))
	fmt.Println(srv.URL())
	io.Copy(io.Discard, os.Stdin)
	st := srv.Stats()
	out := fakeStats{Requests: st.Requests, Accepted: st.Accepted, Recipients: st.Recipients}
	for _, n := range srv.Recipients() {
		out.Distinct++
		out.MaxPerAddress = max(out.MaxPerAddress, n)
	}
	srv.Close()
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
