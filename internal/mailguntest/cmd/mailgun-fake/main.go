// Command mailgun-fake runs the mailguntest server in its own process, for
// benchmarks that should not share a CPU budget with the fake. It prints the
// API base URL, serves until interrupted, then prints its counters.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/kbpress/kb/internal/mailguntest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	latency := flag.Duration("latency", 0, "delay per messages call, e.g. 20ms")
	key := flag.String("key", mailguntest.DefaultAPIKey, "API key expected in basic auth")
	domain := flag.String("domain", mailguntest.DefaultDomain, "sending domain")
	countOnly := flag.Bool("count-only", false, "keep counters and events only, not call bodies")
	flag.Parse()

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	opts := []mailguntest.Option{
		mailguntest.WithListener(l), mailguntest.WithLatency(*latency),
		mailguntest.WithAPIKey(*key), mailguntest.WithDomain(*domain),
	}
	if *countOnly {
		opts = append(opts, mailguntest.WithCountOnly())
	}
	s := mailguntest.New(opts...)
	fmt.Println(s.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	st := s.Stats()
	s.Close()
	fmt.Fprintf(os.Stderr, "requests %d, accepted %d messages to %d recipients\n", st.Requests, st.Accepted, st.Recipients)
}
