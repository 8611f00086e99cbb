// Package mailguntest is a Mailgun-compatible HTTP server for tests and
// benchmarks. It serves the two endpoints kb uses — POST /v3/{domain}/messages
// and GET /v3/{domain}/events — closely enough for the real mailgun-go client,
// records every call, and injects scripted faults (error statuses, hangs,
// connection resets) to exercise callers' retry and reconciliation logic.
package mailguntest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"
)

// Defaults for New.
const (
	DefaultDomain = "mg.example.test"
	DefaultAPIKey = "key-test"
)

// MaxRecipients is Mailgun's limit on to+cc+bcc per call.
const MaxRecipients = 1000

// maxRequestBytes bounds a messages call (Mailgun's limit is 25 MB of
// message; the form encoding adds some).
const maxRequestBytes = 32 << 20

// Server is a running fake Mailgun. It is safe for concurrent use.
type Server struct {
	domain    string
	apiKey    string
	latency   time.Duration
	events    bool
	countOnly bool
	now       func() time.Time
	listener  net.Listener
	maxBytes  int64

	srv       *httptest.Server
	done      chan struct{} // closed by Close: releases hanging handlers
	closeOnce sync.Once

	mu         sync.Mutex
	faults     []Fault
	calls      []Call
	recipients map[string]int
	stats      Stats
	log        eventLog
	msgSeq     int64
	committed  int           // calls recorded (finished or hanging)
	changed    chan struct{} // closed and replaced when a call is recorded
	// suppressed holds the suppression lists by name (bounces,
	// complaints, unsubscribes), in the order added.
	suppressed map[string][]Suppressed
}

// Option configures a Server.
type Option func(*Server)

// WithDomain sets the sending domain the server answers for.
func WithDomain(domain string) Option { return func(s *Server) { s.domain = domain } }

// WithAPIKey sets the key expected in basic auth (user "api").
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithLatency delays every accepted messages call, as a benchmark stand-in
// for Mailgun's response time.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// WithEvents turns recording of accepted events on (the default) or off.
func WithEvents(on bool) Option { return func(s *Server) { s.events = on } }

// WithCountOnly keeps counters (Recipients, Stats) and events but not call
// bodies, for benchmarks with a million recipients.
func WithCountOnly() Option { return func(s *Server) { s.countOnly = true } }

// WithClock sets the clock for event timestamps.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithListener serves on l instead of a fresh loopback port.
func WithListener(l net.Listener) Option { return func(s *Server) { s.listener = l } }

// New starts a server. Close it when done.
func New(opts ...Option) *Server {
	s := &Server{
		domain:     DefaultDomain,
		apiKey:     DefaultAPIKey,
		events:     true,
		now:        time.Now,
		done:       make(chan struct{}),
		recipients: map[string]int{},
		changed:    make(chan struct{}),
		maxBytes:   maxRequestBytes,
	}
	for _, opt := range opts {
		opt(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/{domain}/messages", s.handleMessages)
	mux.HandleFunc("GET /v3/{domain}/events", s.handleEvents)
	mux.HandleFunc("GET /v3/{domain}/events/{page}", s.handleEvents)
	mux.HandleFunc("GET /v3/{domain}/{list}", s.handleSuppressions)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	})
	s.srv = httptest.NewUnstartedServer(mux)
	// Faults close connections on purpose; do not log them.
	s.srv.Config.ErrorLog = log.New(discard{}, "", 0)
	if s.listener != nil {
		s.srv.Listener.Close()
		s.srv.Listener = s.listener
	}
	s.srv.Start()
	return s
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// URL is the API base for mailgun-go's SetAPIBase, ending in /v3.
func (s *Server) URL() string { return s.srv.URL + "/v3" }

// Domain is the sending domain the server answers for.
func (s *Server) Domain() string { return s.domain }

// APIKey is the key the server expects.
func (s *Server) APIKey() string { return s.apiKey }

// Close releases hanging handlers and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// Call is one POST to the messages endpoint, as received.
type Call struct {
	Time time.Time
	// Status is the HTTP status answered; 0 when the connection was closed
	// without an answer.
	Status int
	// Accepted reports whether the message was queued (counted, with events).
	Accepted bool
	// ID is the message id returned (or that would have been), with brackets.
	ID string
	// Error is the message of a 4xx answer.
	Error string
	// Form holds every non-file field as received; "to" keeps its raw values.
	Form url.Values
	// Attachments counts file parts.
	Attachments int

	From    string
	Subject string
	Text    string
	HTML    string
	// To lists the bare recipient addresses (to, cc and bcc; comma lists split).
	To []string
	// Headers holds the h: fields, keyed by canonical header name.
	Headers map[string]string
	// Options holds the o: fields without the prefix (o:tag → "tag").
	Options map[string][]string
	// Variables holds the v: fields without the prefix.
	Variables map[string]string
	// Tags is Options["tag"].
	Tags []string
	// RecipientVariables is the parsed recipient-variables JSON, or nil.
	RecipientVariables map[string]map[string]any
	DeliveryTime       time.Time
	TestMode           bool
}

// Stats are the server's counters.
type Stats struct {
	Requests   int // messages calls received, including refused ones
	Accepted   int // messages calls accepted
	Recipients int // recipients accepted, summed over accepted calls
}

// Calls returns every messages call so far, oldest first (none with
// WithCountOnly).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Recipients returns how many times each address was accepted.
func (s *Server) Recipients() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.recipients)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// WaitCalls blocks until n messages calls have been recorded — answered,
// refused, or (with Hang) accepted and left hanging — or ctx is done.
func (s *Server) WaitCalls(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		committed, changed := s.committed, s.changed
		s.mu.Unlock()
		if committed >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("mailguntest: %d of %d calls: %w", committed, n, ctx.Err())
		}
	}
}

// authorized checks basic auth and the domain, answering like Mailgun when
// they are wrong.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "api" || subtle.ConstantTimeCompare([]byte(pass), []byte(s.apiKey)) != 1 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "Forbidden")
		return false
	}
	if d := r.PathValue("domain"); d != s.domain {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Domain not found: " + d})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // Mailgun writes ids as <…@domain>, not \u003c…
	enc.Encode(v)
}
