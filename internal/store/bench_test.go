package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSubscribe measures signups of new addresses from many concurrent
// requests (as the HTTP handler makes them) while a mail worker claims and
// marks the queued confirmations, as `kb serve` does.
//
//	go test -run '^$' -bench Subscribe -benchtime 20000x ./internal/store
func BenchmarkSubscribe(b *testing.B) {
	for _, be := range backendOpeners {
		b.Run(be.name, func(b *testing.B) {
			benchSubscribe(b, be.open(b))
		})
	}
}

func benchSubscribe(b *testing.B, s *Store) {
	ctx := context.Background()
	var sent atomic.Int64
	stop := make(chan struct{})
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mails, err := s.ClaimMail(ctx, "bench-worker", 50, time.Minute, time.Now())
			if err != nil {
				b.Error(err)
				return
			}
			for _, m := range mails {
				if err := s.MarkMailSent(ctx, m.Claim, m.ID, "<bench>", time.Now()); err != nil {
					b.Error(err)
					return
				}
				sent.Add(1)
			}
			if len(mails) == 0 {
				time.Sleep(5 * time.Millisecond) // an idle worker waits for NextMailDue
			}
		}
	}()

	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
	)
	b.SetParallelism(16) // 16 × GOMAXPROCS requests in flight
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			n := next.Add(1)
			req := SignupRequest{Email: fmt.Sprintf("bench%d@example.com", n), Name: "Jan Kowalski",
				WantsWhitepaper: n%3 == 0, Consent: Consent{Version: "1", Source: "/poradniki/vat", IP: "203.0.113.5"}}
			t := time.Now()
			if _, out, err := s.Subscribe(ctx, req, t); err != nil || out != SignupCreated {
				b.Errorf("subscribe: %s %v", out, err)
				return
			}
			local = append(local, time.Since(t))
		}
		mu.Lock()
		latencies = append(latencies, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	<-workerDone

	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "signups/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.90), "p90-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(sent.Load())/float64(max(1, len(latencies))), "mailed/signup")
}

// BenchmarkCreateCampaign fixes the recipients of a campaign. Allocations
// per operation must not grow with the number of subscribers: the list is
// built inside the database.
//
//	go test -run '^$' -bench CreateCampaign -benchtime 3x ./internal/store
func BenchmarkCreateCampaign(b *testing.B) {
	for _, be := range backendOpeners {
		for _, n := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/%d", be.name, n), func(b *testing.B) {
				s := be.open(b)
				seedConfirmed(b, s, 1, n)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					c, err := s.CreateCampaign(ctx, CampaignSpec{Slug: fmt.Sprint("bench-", i), Subject: "S"}, t0)
					if err != nil {
						b.Fatal(err)
					}
					if c.Recipients != n {
						b.Fatalf("%d recipients, want %d", c.Recipients, n)
					}
				}
			})
		}
	}
}
