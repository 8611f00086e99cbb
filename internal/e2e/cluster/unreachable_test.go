package cluster

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// TestUnreachablePostgres starts kb against a PostgreSQL that is not
// there: a closed port, and a server that accepts connections but never
// answers (bounded by connect_timeout). Each must stop at once with an
// error naming host:port, never the password, and a non-zero exit —
// not serve a site whose signups would all fail.
func TestUnreachablePostgres(t *testing.T) {
	s := buildSite(t)
	const password = "Tajne-Haslo-42"
	closed := closedPort(t)
	silent := silentServer(t)
	serve := append([]string{"serve", "--addr", "127.0.0.1:0"}, s.serveArgs("w")...)

	tests := []struct {
		name string
		addr string
		dsn  string // %s is addr
		args []string
	}{
		{"serve/closed port", closed, "postgres://kb:" + password + "@%s/kb?sslmode=disable", serve},
		{"serve/no answer", silent, "postgres://kb:" + password + "@%s/kb?sslmode=disable&connect_timeout=1", serve},
		{"send/closed port", closed, "postgres://kb:" + password + "@%s/kb", []string{"send", "--out", s.public}},
		{"migrate/closed port", closed, "postgres://kb:" + password + "@%s/kb", []string{"migrate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := kbproc.StartProc(t, kbproc.Options{Env: env(fmt.Sprintf(tt.dsn, tt.addr), nil)}, tt.args...)
			// A generous bound: it only tells "stopped" from "hangs".
			p.Wait(t, 30*time.Second)
			errOut := p.Stderr.String()
			if p.Err() == nil {
				t.Fatalf("exit 0, want a failure: %s", p.Describe())
			}
			if !strings.Contains(errOut, "cannot reach PostgreSQL at "+tt.addr) {
				t.Errorf("the error does not name PostgreSQL at %s: %s", tt.addr, errOut)
			}
			if strings.Contains(errOut+p.Stdout.String(), password) {
				t.Errorf("the password is in the output: %s", errOut)
			}
			if strings.Contains(errOut, "msg=serving") {
				t.Errorf("kb serve started serving without its database: %s", errOut)
			}
		})
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentServer accepts connections and never says a word, like a
// PostgreSQL host behind a firewall that drops replies.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
