package newsletter

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/pgtest"
	"github.com/kbpress/kb/internal/store"
)

// BenchmarkDigest100k compares, in one run on one database, a guide sent
// to 100,000 readers of each guide with a digest to the same 100,000
// readers after they chose the digest, each with one of the 7 possible
// choices of the 3 topics, and 5 guides waiting on different topics. Same
// fake Mailgun (another process, 20 ms a call), 4 calls in flight.
//
//	go test -run '^$' -bench Digest100k -benchtime 1x ./internal/newsletter
func BenchmarkDigest100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchDigestOn(b, 100_000, backend{name: "sqlite", dsn: "sqlite:" + filepath.Join(b.TempDir(), "kb.db")})
	})
	b.Run("postgres", func(b *testing.B) {
		benchDigestOn(b, 100_000, backend{name: "postgres", dsn: pgtest.DSN(b)})
	})
}

// benchPhase measures one Run: wall time, calls and the Go heap's peak.
type benchPhase struct {
	wall, create time.Duration
	calls        int64
	peakHeap     uint64
}

func benchDigestOn(b *testing.B, n int, be backend) {
	rig := newBenchRig(b, n, be)
	ts, ct, stats, publish := rig.ts, rig.ct, rig.stats, rig.publish
	db := rawDB(b, be)
	sender := func(digestNow bool) *Sender {
		return rig.newSender(func(o *Options) { o.DigestNow = digestNow })
	}
	exec := func(q string) {
		b.Helper()
		if _, err := db.Exec(q); err != nil {
			b.Fatalf("%.60s: %v", q, err)
		}
	}
	run := func(s *Sender, guides []guide.Guide, wantSent int) benchPhase {
		b.Helper()
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		runtime.GC()
		calls0, create0 := ct.calls.Load(), ts.create+ts.createDigest
		peak := samplePeakHeap()
		start := time.Now()
		sum, err := s.Run(context.Background(), guides, publish)
		p := benchPhase{wall: time.Since(start), peakHeap: peak()}
		if err != nil {
			b.Fatal(err)
		}
		sent := 0
		for _, c := range sum.Campaigns {
			sent += c.Sent
		}
		if sent != wantSent {
			b.Fatalf("sent %d, want %d (%+v)", sent, wantSent, sum.Campaigns)
		}
		p.calls, p.create = ct.calls.Load()-calls0, ts.create+ts.createDigest-create0
		return p
	}

	var guideSend, queue, digest benchPhase
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		exec("UPDATE subscribers SET frequency = 'each', topics_off = ''")
		g := testGuide(fmt.Sprintf("bench-guide-%d", i), 1)
		writePage(b, publish, g)
		b.StartTimer()
		p := run(sender(false), []guide.Guide{g}, n)
		guideSend.add(p)

		b.StopTimer()
		// Every non-empty choice of the 3 topics, in turn.
		exec(`UPDATE subscribers SET frequency = 'digest', topics_off = CASE id % 7
			WHEN 0 THEN '' WHEN 1 THEN 'rozmowy' WHEN 2 THEN 'pieniadze' WHEN 3 THEN 'prawo'
			WHEN 4 THEN 'rozmowy,pieniadze' WHEN 5 THEN 'rozmowy,prawo' ELSE 'pieniadze,prawo' END`)
		var waiting []guide.Guide
		for j, topics := range [][]string{{"rozmowy"}, {"pieniadze"}, {"prawo"}, {"rozmowy", "prawo"}, nil} {
			w := testGuide(fmt.Sprintf("bench-digest-%d-%d", i, j), 2+j)
			w.Topics = topics
			writePage(b, publish, w)
			waiting = append(waiting, w)
		}
		b.StartTimer()
		// The guides' campaigns reach nobody directly: they queue the guides
		// for the digest readers on their topics.
		queue.add(run(sender(false), waiting, 0))
		digest.add(run(sender(true), waiting, n))
	}
	b.StopTimer()

	st2 := stats()
	if st2.Recipients != 2*n*b.N || st2.Distinct != n || st2.MaxPerAddress != 2*b.N {
		b.Errorf("fake Mailgun: %+v; want %d recipients, %d distinct, each %d times", st2, 2*n*b.N, n, 2*b.N)
	}
	var variants int
	if err := db.QueryRow(`SELECT COUNT(DISTINCT variant) FROM campaign_batches b JOIN campaigns c ON c.id = b.campaign_id
		WHERE c.kind = 'digest'`).Scan(&variants); err != nil {
		b.Fatal(err)
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(guideSend.wall), "guide-s/op")
	b.ReportMetric(float64(guideSend.calls)/float64(b.N), "guide-calls/op")
	b.ReportMetric(float64(guideSend.peakHeap)/(1<<20), "guide-peak-heap-MiB")
	b.ReportMetric(per(queue.wall), "queue-5-guides-s/op")
	b.ReportMetric(per(digest.wall), "digest-s/op")
	b.ReportMetric(per(digest.create), "digest-ledger-s/op")
	b.ReportMetric(float64(digest.calls)/float64(b.N), "digest-calls/op")
	b.ReportMetric(float64(digest.peakHeap)/(1<<20), "digest-peak-heap-MiB")
	b.ReportMetric(float64(variants), "variants")
	b.ReportMetric(digest.wall.Seconds()/guideSend.wall.Seconds(), "digest÷guide")
	b.ReportMetric(float64(vmHWM())/(1<<10), "VmHWM-MiB")
}

func (p *benchPhase) add(q benchPhase) {
	p.wall += q.wall
	p.create += q.create
	p.calls += q.calls
	p.peakHeap = max(p.peakHeap, q.peakHeap)
}

// rawDB opens the benchmark's database directly, for bulk updates.
func rawDB(b *testing.B, be backend) *sql.DB {
	b.Helper()
	driver, dsn := "pgx", be.dsn
	if be.name == "sqlite" {
		driver, dsn = "sqlite", strings.TrimPrefix(be.dsn, "sqlite:")+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func (t *timedStore) CreateDigest(ctx context.Context, spec store.CampaignSpec, now time.Time) (store.Campaign, error) {
	start := time.Now()
	defer func() { t.createDigest += time.Since(start) }()
	return t.Store.CreateDigest(ctx, spec, now)
}
