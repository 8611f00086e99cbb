package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptrace"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailgun/mailgun-go/v4"
	"github.com/mailgun/mailgun-go/v4/events"
)

// DefaultMailgunTimeout bounds one API call when MailgunConfig.Timeout is 0.
// mailgun-go has no timeout of its own.
const DefaultMailgunTimeout = 30 * time.Second

// eventsPageSize is the largest page the events API serves.
const eventsPageSize = 300

// timestampSlack absorbs float rounding of event timestamps.
const timestampSlack = time.Millisecond

// MailgunConfig configures the Mailgun transport.
type MailgunConfig struct {
	Domain string
	APIKey string
	// APIBase ends in /v3, e.g. https://api.eu.mailgun.net/v3 (the default is
	// Mailgun's US endpoint).
	APIBase string
	// Timeout bounds each API call; 0 means DefaultMailgunTimeout.
	Timeout time.Duration
	// HTTPClient supplies the transport (proxies, TLS); it is copied, not
	// modified. Nil means a client built on http.DefaultTransport.
	HTTPClient *http.Client
}

// Mailgun sends through Mailgun's HTTP API with mailgun-go.
type Mailgun struct {
	mg      *mailgun.MailgunImpl
	domain  string
	apiBase string
}

// NewMailgun returns the Mailgun transport for cfg.
func NewMailgun(cfg MailgunConfig) (*Mailgun, error) {
	if cfg.Domain == "" || cfg.APIKey == "" {
		return nil, errors.New("mailgun: domain and API key are required")
	}
	base := strings.TrimSuffix(cfg.APIBase, "/")
	if base == "" {
		base = mailgun.APIBaseUS
	}
	if !strings.HasSuffix(base, "/v3") {
		return nil, fmt.Errorf("mailgun: API base %q must end in /v3, e.g. %s", cfg.APIBase, mailgun.APIBaseEU)
	}
	client := &http.Client{}
	if cfg.HTTPClient != nil {
		*client = *cfg.HTTPClient
	}
	next := client.Transport
	if next == nil {
		next = defaultTransport()
	}
	client.Transport = &observer{next: next}
	client.Timeout = cfg.Timeout
	if client.Timeout <= 0 {
		client.Timeout = DefaultMailgunTimeout
	}
	mg := mailgun.NewMailgun(cfg.Domain, cfg.APIKey)
	mg.SetAPIBase(base)
	mg.SetClient(client)
	return &Mailgun{mg: mg, domain: cfg.Domain, apiBase: base}, nil
}

// idleConnsPerHost is how many connections to Mailgun are kept open
// between calls: as many as the mail worker sends at once (the newsletter
// sender needs fewer). http.DefaultTransport keeps 2, so every call beyond
// the second in a burst opened a new connection, a TLS handshake each.
const idleConnsPerHost = 32

func defaultTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = idleConnsPerHost
	t.MaxIdleConns = max(t.MaxIdleConns, idleConnsPerHost)
	return t
}

// Describe names the transport for the start-up log line (never the key).
func (m *Mailgun) Describe() string {
	return fmt.Sprintf("mailgun %s via %s", m.domain, m.apiBase)
}

// Send submits msg and returns Mailgun's message id.
func (m *Mailgun) Send(ctx context.Context, msg *Message) (string, error) {
	from, replyTo, to, err := msg.validate()
	if err != nil {
		return "", err
	}
	// A fresh mailgun.Message per call: Send mutates it.
	mm := mailgun.NewMessage(formatMailbox(from), msg.Subject, msg.Text, formatMailbox(&to))
	if msg.HTML != "" {
		mm.SetHTML(msg.HTML)
	}
	if replyTo != nil {
		mm.SetReplyTo(formatMailbox(replyTo))
	}
	if err := setCommon(mm, msg.Headers, msg.Tags, msg.Variables); err != nil {
		return "", err
	}
	return m.send(ctx, mm)
}

// SendBatch submits b as one API call with recipient variables; Mailgun fills
// the %recipient.NAME% placeholders. It returns Mailgun's message id.
func (m *Mailgun) SendBatch(ctx context.Context, b *Batch) (string, error) {
	if err := b.validate(); err != nil {
		return "", err
	}
	mm := mailgun.NewMessage(mailbox(b.From), b.Subject, b.Text)
	if b.HTML != "" {
		mm.SetHTML(b.HTML)
	}
	if b.ReplyTo != "" {
		mm.SetReplyTo(mailbox(b.ReplyTo))
	}
	for _, r := range b.Recipients {
		// Every recipient gets a (possibly empty) map: without
		// recipient-variables Mailgun sends ONE message listing every
		// recipient in To.
		vars := make(map[string]any, len(r.Vars))
		for k, v := range r.Vars {
			vars[k] = v
		}
		if err := mm.AddRecipientAndVariables(r.Address, vars); err != nil {
			return "", invalid(err.Error())
		}
	}
	if err := setCommon(mm, b.Headers, b.Tags, b.Variables); err != nil {
		return "", err
	}
	if !b.DeliveryTime.IsZero() {
		mm.SetDeliveryTime(b.DeliveryTime)
	}
	if b.TestMode {
		mm.EnableTestMode()
	}
	return m.send(ctx, mm)
}

// mailbox normalises a mailbox (RFC 2047-encoding a Polish display name)
// unless it holds placeholders Mailgun must fill first.
func mailbox(s string) string {
	if strings.Contains(s, "%recipient.") {
		return s
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return formatMailbox(a)
	}
	return s
}

func setCommon(mm *mailgun.Message, headers map[string]string, tags []string, vars map[string]string) error {
	// No tracking, ever: the firm promises it, and Mailgun's click
	// tracking would route the signed links through its redirect. Set
	// per message, so that a domain whose tracking is switched on in
	// Mailgun's dashboard changes nothing.
	mm.SetTracking(false)
	mm.SetTrackingClicks(false)
	mm.SetTrackingOpens(false)
	for k, v := range headers {
		mm.AddHeader(k, v)
	}
	if len(tags) > 0 {
		if err := mm.AddTag(tags...); err != nil {
			return invalid(err.Error())
		}
	}
	for k, v := range vars {
		if err := mm.AddVariable(k, v); err != nil {
			return invalid(err.Error())
		}
	}
	return nil
}

func (m *Mailgun) send(ctx context.Context, mm *mailgun.Message) (string, error) {
	ctx, att := observe(ctx)
	_, id, err := m.mg.Send(ctx, mm)
	if err != nil {
		return "", classify(err, att, true)
	}
	if id == "" {
		// A 2xx without an id: accepted, most likely, but we cannot tell.
		return "", &SendError{Status: att.statusCode(), Unknown: true, Message: "Mailgun answered without a message id"}
	}
	return id, nil
}

// Accepted pages through Mailgun's accepted events and returns the
// recipients whose user-variables[q.Variable] equals q.Value, sorted, each
// once. Every filter is applied again here: the server's filtering is not
// trusted.
func (m *Mailgun) Accepted(ctx context.Context, q AcceptedQuery) ([]string, error) {
	filter := map[string]string{"event": "accepted"}
	if q.Tag != "" {
		filter["tags"] = q.Tag
	}
	// mailgun-go sends whole seconds: widen End so the server keeps the
	// last fraction of a second; the exact bound is applied below.
	end := q.End
	if !end.IsZero() && !end.Equal(end.Truncate(time.Second)) {
		end = end.Truncate(time.Second).Add(time.Second)
	}
	it := m.mg.ListEvents(&mailgun.ListEventOptions{
		Begin:          q.Begin,
		End:            end,
		ForceAscending: true,
		Limit:          eventsPageSize,
		Filter:         filter,
	})
	found := map[string]string{}
	var page []mailgun.Event
	for {
		url := it.Paging.Next
		octx, att := observe(ctx)
		if !it.Next(octx, &page) {
			if err := it.Err(); err != nil {
				return nil, classify(err, att, false)
			}
			break
		}
		if it.Paging.Next == url {
			return nil, &SendError{Temporary: true, Message: "Mailgun events paging does not advance: " + url}
		}
		for _, ev := range page {
			a, ok := ev.(*events.Accepted)
			if !ok || a.GetName() != events.EventAccepted || !acceptedMatches(a, q) {
				continue
			}
			found[strings.ToLower(a.Recipient)] = a.Recipient
		}
	}
	return slices.Sorted(maps.Values(found)), nil
}

func acceptedMatches(a *events.Accepted, q AcceptedQuery) bool {
	if q.Tag != "" && !slices.Contains(a.Tags, q.Tag) {
		return false
	}
	// Event timestamps travel as float seconds; allow for the rounding.
	at := a.GetTimestamp()
	if !q.Begin.IsZero() && at.Before(q.Begin.Add(-timestampSlack)) || !q.End.IsZero() && at.After(q.End.Add(timestampSlack)) {
		return false
	}
	if q.Variable != "" {
		v, ok := userVariable(a.UserVariables, q.Variable)
		if !ok || v != q.Value {
			return false
		}
	}
	return a.Recipient != ""
}

// userVariable reads one user variable; Mailgun returns them as a JSON
// object whose values are usually strings but may be numbers or objects.
func userVariable(uv any, key string) (string, bool) {
	vars, ok := uv.(map[string]any)
	if !ok {
		return "", false
	}
	switch v := vars[key].(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	default:
		raw, err := json.Marshal(v)
		return string(raw), err == nil
	}
}

// classify turns a mailgun-go error into a SendError using what the observer
// saw: whether the request was completely written, and the response status
// and Retry-After. Only a POST can be Unknown; a GET changes nothing.
func classify(err error, att *attempt, post bool) *SendError {
	status, retryAfter, gotResponse, wrote := att.snapshot()
	var ure *mailgun.UnexpectedResponseError
	if errors.As(err, &ure) {
		se := &SendError{Status: ure.Actual, Message: responseMessage(ure.Data), Err: err}
		if ure.Actual == http.StatusTooManyRequests || ure.Actual >= 500 {
			se.Temporary = true
			se.RetryAfter = retryAfter
		}
		return se
	}
	if errors.Is(err, mailgun.ErrInvalidMessage) {
		return &SendError{Message: "mailgun-go refused the message", Err: errors.Join(ErrInvalidMessage, err)}
	}
	se := &SendError{Status: status, Err: err}
	switch {
	case post && gotResponse && status >= 200 && status < 300:
		// Headers said yes but the body was lost or garbled: accepted,
		// probably, under an id we do not know.
		se.Unknown = true
		se.Message = "Mailgun accepted the request but the response was unreadable"
	case post && wrote:
		se.Unknown = true
		se.Message = "request written but no response: reconcile before resending"
	default:
		se.Temporary = true
		se.Message = "request not completely written"
		if !post {
			se.Message = "request failed"
		}
	}
	return se
}

// responseMessage extracts Mailgun's {"message": "..."} or the raw text.
func responseMessage(data []byte) string {
	var body struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil && body.Message != "" {
		return body.Message
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// attempt is what the observer learns about one API call. mailgun-go drops
// response headers and transport details, so they are captured underneath
// it.
type attempt struct {
	mu          sync.Mutex
	wrote       bool
	gotResponse bool
	status      int
	retryAfter  time.Duration
}

func (a *attempt) snapshot() (status int, retryAfter time.Duration, gotResponse, wrote bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status, a.retryAfter, a.gotResponse, a.wrote
}

func (a *attempt) statusCode() int {
	s, _, _, _ := a.snapshot()
	return s
}

type attemptKey struct{}

// observe returns a context that records into a new attempt whether the
// request was completely written. net/http reports WroteRequest before the
// last buffered bytes are flushed, so a failure in that final flush is seen
// as written — the safe direction: Unknown, never a duplicate.
func observe(ctx context.Context) (context.Context, *attempt) {
	att := &attempt{}
	ctx = context.WithValue(ctx, attemptKey{}, att)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			att.mu.Lock()
			att.wrote = info.Err == nil
			att.mu.Unlock()
		},
	})
	return ctx, att
}

// observer is the http.RoundTripper under mailgun-go that records the
// response status and Retry-After of each call.
type observer struct {
	next http.RoundTripper
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	if att, ok := req.Context().Value(attemptKey{}).(*attempt); ok && resp != nil {
		att.mu.Lock()
		att.gotResponse = true
		att.status = resp.StatusCode
		att.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		att.mu.Unlock()
	}
	return resp, err
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(7*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}
