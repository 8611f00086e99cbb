package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSubscribe posts JSON signups of distinct addresses in parallel
// through the whole handler (middleware, CORS and cross-origin checks,
// parsing, the SQLite store) while the delivery worker runs in the
// background, woken by the handler, writing confirmations to the outbox.
// It reports the request rate and how long the queue took to drain after
// the last request.
//
//	go test -run '^$' -bench Subscribe -benchtime 3000x ./internal/web
func BenchmarkSubscribe(b *testing.B) {
	e := newEnv(b, func(c *envConfig) { c.quiet = true })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.worker.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	e.notifier.next = e.worker

	var seq atomic.Int64
	b.SetParallelism(8) // 8 goroutines per CPU: many clients at once
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := jsonRequest(fmt.Sprintf(`{"email":"reader%d@example.pl","name":"Jan","consent":true,"source":"/newsletter/"}`, seq.Add(1)))
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()

	drainStart := time.Now()
	for {
		st, err := e.store.Stats(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if st.MailQueued+st.MailSending == 0 {
			break
		}
		if n, err := e.worker.Drain(context.Background()); err != nil {
			b.Fatal(err)
		} else if n == 0 {
			time.Sleep(time.Millisecond) // the background worker holds the rest
		}
	}
	drain := time.Since(drainStart)
	if sent := len(e.mailsTagged("kb-confirm")); sent != b.N {
		b.Fatalf("%d confirmation emails for %d signups", sent, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(drain.Milliseconds()), "drain-ms")
	b.ReportMetric(float64(b.N)/(elapsed+drain).Seconds(), "emails/s")
}
