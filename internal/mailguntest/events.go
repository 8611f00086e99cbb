package mailguntest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Events API limits, as Mailgun documents them.
const (
	DefaultEventsLimit = 100
	MaxEventsLimit     = 300
)

type acceptedMessage struct {
	id       string // without angle brackets, as events show it
	from     string
	subject  string
	tags     []string
	vars     map[string]string
	testMode bool
}

type event struct {
	seq       int64
	at        time.Time // microsecond precision, like Mailgun's float timestamps
	recipient string
	vars      map[string]string // nil: msg.vars
	msg       *acceptedMessage
}

// eventLog keeps events sorted by (at, seq) so that pages are found by
// binary search.
type eventLog struct {
	events []event
	seq    int64
}

func (l *eventLog) add(at time.Time, msg *acceptedMessage, recipient string, vars map[string]string) {
	l.seq++
	e := event{seq: l.seq, at: at.UTC().Truncate(time.Microsecond), recipient: recipient, vars: vars, msg: msg}
	n := len(l.events)
	if n == 0 || !e.at.Before(l.events[n-1].at) {
		l.events = append(l.events, e)
		return
	}
	i := sort.Search(n, func(i int) bool { return l.events[i].at.After(e.at) })
	l.events = slices.Insert(l.events, i, e)
}

// cursor is an event's position in the log.
type cursor struct {
	At  int64 `json:"at"` // Unix microseconds
	Seq int64 `json:"seq"`
}

func (e *event) cursor() cursor { return cursor{At: e.at.UnixMicro(), Seq: e.seq} }

func (c cursor) less(d cursor) bool { return c.At < d.At || c.At == d.At && c.Seq < d.Seq }

// eventQuery is a parsed events request; it travels inside paging URLs.
type eventQuery struct {
	Events     []string `json:"e,omitempty"`
	Tags       []string `json:"t,omitempty"`
	Recipients []string `json:"r,omitempty"`
	MessageIDs []string `json:"m,omitempty"`
	Lo         *int64   `json:"lo,omitempty"` // Unix microseconds, inclusive
	Hi         *int64   `json:"hi,omitempty"`
	Ascending  bool     `json:"asc,omitempty"`
	Limit      int      `json:"l"`
}

// pageToken is the opaque last path segment of a paging URL.
type pageToken struct {
	Query  eventQuery `json:"q"`
	Mode   string     `json:"p"` // first, next, previous, last
	Cursor *cursor    `json:"c,omitempty"`
}

func (t pageToken) encode() string {
	raw, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodePageToken(s string) (pageToken, error) {
	var t pageToken
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, err
	}
	switch t.Mode {
	case "first", "last":
	case "next", "previous":
		if t.Cursor == nil {
			return t, fmt.Errorf("page %q without a cursor", t.Mode)
		}
	default:
		return t, fmt.Errorf("unknown page %q", t.Mode)
	}
	if t.Query.Limit < 1 || t.Query.Limit > MaxEventsLimit {
		return t, fmt.Errorf("limit %d out of range", t.Query.Limit)
	}
	return t, nil
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	var tok pageToken
	if page := r.PathValue("page"); page != "" {
		var err error
		if tok, err = decodePageToken(page); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid page URL: " + err.Error()})
			return
		}
	} else {
		q, err := parseEventQuery(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		tok = pageToken{Query: q, Mode: "first"}
	}

	s.mu.Lock()
	page := s.log.page(tok)
	items := make([]eventJSON, len(page))
	for i := range page {
		items[i] = page[i].json()
	}
	s.mu.Unlock()

	base := "http://" + r.Host + "/v3/" + s.domain + "/events/"
	next, prev := tok, tok
	if len(page) > 0 {
		last, first := page[len(page)-1].cursor(), page[0].cursor()
		next = pageToken{Query: tok.Query, Mode: "next", Cursor: &last}
		prev = pageToken{Query: tok.Query, Mode: "previous", Cursor: &first}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"items": items,
		"paging": map[string]string{
			"first":    base + pageToken{Query: tok.Query, Mode: "first"}.encode(),
			"last":     base + pageToken{Query: tok.Query, Mode: "last"}.encode(),
			"next":     base + next.encode(),
			"previous": base + prev.encode(),
		},
	})
}

func parseEventQuery(r *http.Request) (eventQuery, error) {
	v := r.URL.Query()
	q := eventQuery{
		Events:     orList(v.Get("event")),
		Tags:       orList(v.Get("tags") + " OR " + v.Get("tag")),
		Recipients: orList(v.Get("recipient")),
		MessageIDs: orList(v.Get("message-id")),
		Limit:      DefaultEventsLimit,
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxEventsLimit {
			return q, fmt.Errorf("limit must be a number from 1 to %d", MaxEventsLimit)
		}
		q.Limit = n
	}
	begin, err := parseEventTime(v.Get("begin"))
	if err != nil {
		return q, fmt.Errorf("begin: %v", err)
	}
	end, err := parseEventTime(v.Get("end"))
	if err != nil {
		return q, fmt.Errorf("end: %v", err)
	}
	switch strings.ToLower(v.Get("ascending")) {
	case "yes", "true":
		q.Ascending = true
	case "no", "false":
	case "":
		// As Mailgun: the order of begin and end decides; begin alone
		// means forwards from it; nothing means newest first.
		q.Ascending = begin != nil && (end == nil || *begin <= *end)
	default:
		return q, fmt.Errorf("ascending must be yes or no")
	}
	q.Lo, q.Hi = begin, end
	if begin != nil && end != nil && *begin > *end {
		q.Lo, q.Hi = end, begin
	}
	return q, nil
}

// orList splits Mailgun's "a OR b" filter values.
func orList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, " OR ") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseEventTime reads an RFC 2822 date or a Unix timestamp (seconds, with
// a fraction), the two forms Mailgun accepts.
func parseEventTime(s string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	var t time.Time
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		t = time.UnixMicro(int64(f * 1e6))
	} else if t, err = mail.ParseDate(s); err != nil {
		return nil, fmt.Errorf("%q is neither an RFC 2822 date nor a Unix timestamp", s)
	}
	us := t.UnixMicro()
	return &us, nil
}

func (q *eventQuery) matches(e *event) bool {
	if len(q.Events) > 0 && !slices.ContainsFunc(q.Events, func(s string) bool { return strings.EqualFold(s, "accepted") }) {
		return false
	}
	if len(q.Recipients) > 0 && !slices.ContainsFunc(q.Recipients, func(s string) bool { return strings.EqualFold(s, e.recipient) }) {
		return false
	}
	if len(q.MessageIDs) > 0 && !slices.Contains(q.MessageIDs, strings.Trim(e.msg.id, "<>")) {
		return false
	}
	if len(q.Tags) > 0 && !slices.ContainsFunc(q.Tags, func(t string) bool {
		return slices.ContainsFunc(e.msg.tags, func(et string) bool { return strings.EqualFold(t, et) })
	}) {
		return false
	}
	return true
}

// page returns the events of one page in the query's order.
func (l *eventLog) page(t pageToken) []event {
	q := &t.Query
	// The time range as an index range [lo, hi).
	lo, hi := 0, len(l.events)
	if q.Lo != nil {
		lo = sort.Search(len(l.events), func(i int) bool { return l.events[i].at.UnixMicro() >= *q.Lo })
	}
	if q.Hi != nil {
		hi = sort.Search(len(l.events), func(i int) bool { return l.events[i].at.UnixMicro() > *q.Hi })
	}
	if hi < lo {
		hi = lo
	}
	// position of the first event after c (strictly) in ascending order
	after := func(c cursor) int {
		return lo + sort.Search(hi-lo, func(i int) bool { return c.less(l.events[lo+i].cursor()) })
	}
	// position of the first event not before c in ascending order
	notBefore := func(c cursor) int {
		return lo + sort.Search(hi-lo, func(i int) bool { return !l.events[lo+i].cursor().less(c) })
	}
	forward := func(from int) []event {
		var out []event
		for i := from; i < hi && len(out) < q.Limit; i++ {
			if q.matches(&l.events[i]) {
				out = append(out, l.events[i])
			}
		}
		return out
	}
	backward := func(from int) []event { // from is exclusive
		var out []event
		for i := from - 1; i >= lo && len(out) < q.Limit; i-- {
			if q.matches(&l.events[i]) {
				out = append(out, l.events[i])
			}
		}
		return out
	}
	reversed := func(es []event) []event { slices.Reverse(es); return es }

	switch {
	case q.Ascending && t.Mode == "first":
		return forward(lo)
	case q.Ascending && t.Mode == "next":
		return forward(after(*t.Cursor))
	case q.Ascending && t.Mode == "previous":
		return reversed(backward(notBefore(*t.Cursor)))
	case q.Ascending && t.Mode == "last":
		return reversed(backward(hi))
	case t.Mode == "first":
		return backward(hi)
	case t.Mode == "next":
		return backward(notBefore(*t.Cursor))
	case t.Mode == "previous":
		return reversed(forward(after(*t.Cursor)))
	default: // last, descending
		return reversed(forward(lo))
	}
}

// eventJSON is an accepted event as Mailgun's events API shows it.
type eventJSON struct {
	Event           string            `json:"event"`
	ID              string            `json:"id"`
	Timestamp       float64           `json:"timestamp"`
	LogLevel        string            `json:"log-level"`
	Method          string            `json:"method"`
	Recipient       string            `json:"recipient"`
	RecipientDomain string            `json:"recipient-domain"`
	Tags            []string          `json:"tags"`
	UserVariables   map[string]string `json:"user-variables"`
	Flags           map[string]bool   `json:"flags"`
	Envelope        map[string]string `json:"envelope"`
	Message         struct {
		Headers map[string]string `json:"headers"`
	} `json:"message"`
}

func (e *event) json() eventJSON {
	vars := e.vars
	if vars == nil {
		vars = e.msg.vars
	}
	tags := e.msg.tags
	if tags == nil {
		tags = []string{}
	}
	domain := ""
	if at := strings.LastIndexByte(e.recipient, '@'); at >= 0 {
		domain = e.recipient[at+1:]
	}
	j := eventJSON{
		Event:           "accepted",
		ID:              fmt.Sprintf("ev%016x", e.seq),
		Timestamp:       float64(e.at.UnixMicro()) / 1e6,
		LogLevel:        "info",
		Method:          "HTTP",
		Recipient:       e.recipient,
		RecipientDomain: domain,
		Tags:            tags,
		UserVariables:   vars,
		Flags:           map[string]bool{"is-authenticated": true, "is-test-mode": e.msg.testMode},
		Envelope:        map[string]string{"sender": e.msg.from, "targets": e.recipient, "transport": "smtp"},
	}
	if j.UserVariables == nil {
		j.UserVariables = map[string]string{}
	}
	j.Message.Headers = map[string]string{
		"message-id": e.msg.id,
		"from":       e.msg.from,
		"to":         e.recipient,
		"subject":    e.msg.subject,
	}
	return j
}
