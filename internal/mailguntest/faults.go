package mailguntest

import (
	"net"
	"net/http"
	"time"
)

type faultKind int

const (
	faultNone faultKind = iota
	faultStatus
	faultHang
	faultReset
	faultResetAfterRead
	faultAcceptThenReset
)

// Fault is what the server does to one messages call instead of answering
// normally. Build one with Status, Hang, Reset, ResetAfterRead or
// AcceptThenReset.
type Fault struct {
	kind       faultKind
	status     int
	retryAfter string
	message    string
}

// Status answers with code (e.g. 429, 500, 503, 400) and, when retryAfter is
// not empty, a Retry-After header with that value ("7" or an HTTP date). The
// message is not accepted.
func Status(code int, retryAfter string) Fault {
	return Fault{kind: faultStatus, status: code, retryAfter: retryAfter, message: http.StatusText(code)}
}

// WithMessage sets the {"message": …} text of a Status fault.
func (f Fault) WithMessage(msg string) Fault {
	f.message = msg
	return f
}

// Hang accepts the message (it is counted and its events recorded) and then
// never answers, until the client gives up or the server closes: the
// "timed out after the request went out" case.
func Hang() Fault { return Fault{kind: faultHang} }

// Reset closes the connection as soon as the request headers arrive, without
// reading the body or answering; nothing is accepted. A client sending a body
// larger than the socket buffers sees its write fail; a small body may
// already be completely written.
func Reset() Fault { return Fault{kind: faultReset} }

// ResetAfterRead reads the whole request, accepts nothing, and closes the
// connection without answering: the client cannot tell it from
// AcceptThenReset.
func ResetAfterRead() Fault { return Fault{kind: faultResetAfterRead} }

// AcceptThenReset accepts the message and closes the connection without
// answering.
func AcceptThenReset() Fault { return Fault{kind: faultAcceptThenReset} }

// Script queues faults for the next messages calls, one per call, in order
// (after any already queued). Calls with bad credentials or an unknown domain
// do not consume faults. Once the queue is empty the server behaves normally.
func (s *Server) Script(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// PendingFaults is the number of scripted faults not yet used.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

func (s *Server) nextFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f
}

// hangUp closes the connection without an answer, with a TCP reset (linger
// 0) so the client sees it at once.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// wait blocks for d, or until the client or the server gives up; it reports
// whether the full delay passed.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}
