package mail

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrInvalidMessage is wrapped by every SendError about a message or batch
// that no transport would accept: fix the input, do not retry.
var ErrInvalidMessage = errors.New("invalid message")

// SendError is the only error type the transports return. Exactly one of
// three outcomes applies:
//
//   - Temporary: nothing was accepted; the same message may be sent again
//     later (after RetryAfter, if set). 429, 5xx, and network errors that
//     happened before the request was completely written.
//   - Unknown: the request was completely written but no complete answer
//     arrived (timeout, reset). The message may or may not have been
//     accepted; callers must reconcile (Accepted) and never blindly resend.
//   - Permanent (neither): the provider refused the message (4xx other than
//     429) or it is invalid; Message says why.
type SendError struct {
	// Status is the HTTP status from Mailgun, 0 if none arrived.
	Status int
	// Message is Mailgun's explanation, or ours.
	Message string
	// RetryAfter is the provider's Retry-After, 0 if it sent none.
	RetryAfter time.Duration
	Temporary  bool
	Unknown    bool
	// Err is the underlying cause, if any.
	Err error
}

func (e *SendError) Error() string {
	var b strings.Builder
	switch {
	case e.Unknown:
		b.WriteString("outcome unknown")
	case e.Temporary:
		b.WriteString("temporary failure")
	default:
		b.WriteString("permanent failure")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil && e.Err != ErrInvalidMessage {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// IsTemporary reports whether err says nothing was accepted and the same
// message may be sent again later.
func IsTemporary(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Temporary && !se.Unknown
}

// IsUnknown reports whether err says the message may or may not have been
// accepted, so the caller must reconcile before sending it again.
func IsUnknown(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Unknown
}

// IsPermanent reports whether err is a refusal that retrying will not fix.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && !se.Temporary && !se.Unknown
}

// RetryAfter returns the delay the provider asked for, or 0.
func RetryAfter(err error) time.Duration {
	var se *SendError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

func invalid(msg string) error {
	return &SendError{Message: msg, Err: ErrInvalidMessage}
}

// messageOf returns a SendError's Message, or err's text.
func messageOf(err error) string {
	var se *SendError
	if errors.As(err, &se) && se.Message != "" {
		return se.Message
	}
	return err.Error()
}
