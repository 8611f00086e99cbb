package mailguntest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// mailgunError is a 4xx answer with Mailgun's {"message": …} text.
type mailgunError struct {
	status  int
	message string
}

func (e *mailgunError) Error() string { return e.message }

func badRequest(format string, args ...any) *mailgunError {
	return &mailgunError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...)}
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	now := s.now()
	s.mu.Lock()
	s.stats.Requests++
	s.mu.Unlock()

	fault := s.nextFault()
	if fault.kind == faultReset {
		s.commit(&Call{Time: now})
		hangUp(w)
		return
	}
	form, attachments, ferr := s.readForm(w, r)
	if ferr != nil {
		s.commit(&Call{Time: now, Status: ferr.status, Error: ferr.message})
		writeJSON(w, ferr.status, map[string]string{"message": ferr.message})
		return
	}
	call, verr := parseCall(form, s.countOnly && !s.events)
	call.Time = now
	call.Attachments = attachments
	call.ID = s.newID(now)

	switch {
	case fault.kind == faultStatus:
		call.Status = fault.status
		if fault.status < 500 {
			call.Error = fault.message
		}
		s.commit(call)
		if fault.retryAfter != "" {
			w.Header().Set("Retry-After", fault.retryAfter)
		}
		writeJSON(w, fault.status, map[string]string{"message": fault.message})
		return
	case verr != nil:
		call.Status, call.Error = verr.status, verr.message
		s.commit(call)
		writeJSON(w, verr.status, map[string]string{"message": verr.message})
		return
	case fault.kind == faultResetAfterRead:
		s.commit(call)
		hangUp(w)
		return
	}
	if s.latency > 0 && !s.wait(r, s.latency) {
		s.commit(call) // the client left before the answer: not accepted
		hangUp(w)
		return
	}

	call.Accepted = true
	switch fault.kind {
	case faultHang:
		s.commit(call)
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		hangUp(w)
	case faultAcceptThenReset:
		s.commit(call)
		hangUp(w)
	default:
		call.Status = http.StatusOK
		s.commit(call)
		writeJSON(w, http.StatusOK, map[string]string{"id": call.ID, "message": "Queued. Thank you."})
	}
}

// readForm reads the request body as multipart/form-data (streamed part by
// part, so there is no limit on the number of "to" parts) or as
// application/x-www-form-urlencoded.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request) (url.Values, int, *mailgunError) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBytes)
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, 0, badRequest("Content-Type must be multipart/form-data or application/x-www-form-urlencoded")
	}
	values := url.Values{}
	attachments := 0
	switch mediaType {
	case "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, 0, bodyError(err)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, 0, bodyError(err)
			}
			name := part.FormName()
			switch {
			case name == "":
				_, err = io.Copy(io.Discard, part)
			case part.FileName() != "":
				attachments++
				_, err = io.Copy(io.Discard, part)
			case s.countOnly && (name == "html" || name == "text" || name == "amp-html"):
				// Benchmarks send large bodies to many recipients: note
				// only whether the body is there.
				var n int64
				if n, err = io.Copy(io.Discard, part); n > 0 {
					values.Add(name, fmt.Sprintf("(%d bytes)", n))
				}
			default:
				var b []byte
				if b, err = io.ReadAll(part); err == nil {
					values.Add(name, string(b))
				}
			}
			part.Close()
			if err != nil {
				return nil, 0, bodyError(err)
			}
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, 0, bodyError(err)
		}
		values = r.PostForm
	default:
		return nil, 0, badRequest("Content-Type must be multipart/form-data or application/x-www-form-urlencoded")
	}
	return values, attachments, nil
}

func bodyError(err error) *mailgunError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &mailgunError{status: http.StatusRequestEntityTooLarge, message: fmt.Sprintf("Request size exceeds the %d bytes limit", tooBig.Limit)}
	}
	return badRequest("Malformed request body: %v", err)
}

// parseCall reads the form into a Call and validates it as Mailgun does; the
// Call is returned either way so that refused calls are recorded too.
//
// With lean set (count-only, no event log) nothing reads the recipient
// variables afterwards, so they are only checked to be valid JSON: a
// benchmark's fake Mailgun shares the machine with the sender it measures.
func parseCall(form url.Values, lean bool) (*Call, *mailgunError) {
	c := &Call{
		Form:      form,
		From:      form.Get("from"),
		Subject:   form.Get("subject"),
		Text:      form.Get("text"),
		HTML:      form.Get("html"),
		Headers:   map[string]string{},
		Options:   map[string][]string{},
		Variables: map[string]string{},
	}
	for k, vs := range form {
		switch {
		case strings.HasPrefix(k, "h:"):
			c.Headers[textproto.CanonicalMIMEHeaderKey(k[2:])] = vs[len(vs)-1]
		case strings.HasPrefix(k, "o:"):
			c.Options[k[2:]] = append(c.Options[k[2:]], vs...)
		case strings.HasPrefix(k, "v:"):
			c.Variables[k[2:]] = vs[len(vs)-1]
		}
	}
	c.Tags = c.Options["tag"]

	if c.From == "" {
		return c, badRequest("'from' parameter is missing")
	}
	if !strings.Contains(c.From, "%recipient.") {
		if _, err := mail.ParseAddress(c.From); err != nil {
			return c, badRequest("'from' parameter is not a valid address. please check documentation")
		}
	}
	if len(form["to"]) == 0 {
		return c, badRequest("'to' parameter is missing")
	}
	for _, field := range []string{"to", "cc", "bcc"} {
		for _, v := range form[field] {
			list, err := mail.ParseAddressList(v)
			if err != nil {
				return c, badRequest("'%s' parameter is not a valid address. please check documentation", field)
			}
			for _, a := range list {
				c.To = append(c.To, a.Address)
			}
		}
	}
	if len(c.To) > MaxRecipients {
		return c, badRequest("Too many recipients: %d, the maximum is %d", len(c.To), MaxRecipients)
	}
	if c.Subject == "" {
		return c, badRequest("'subject' parameter is missing")
	}
	if c.Text == "" && c.HTML == "" && form.Get("template") == "" {
		return c, badRequest("Need at least one of 'text', 'html' or 'template' parameters specified")
	}
	if rv := form.Get("recipient-variables"); rv != "" {
		if lean {
			if !json.Valid([]byte(rv)) {
				return c, badRequest("'recipient-variables' parameter is not a valid JSON")
			}
		} else if err := json.Unmarshal([]byte(rv), &c.RecipientVariables); err != nil {
			return c, badRequest("'recipient-variables' parameter is not a valid JSON")
		}
	}
	if dt := form.Get("o:deliverytime"); dt != "" {
		t, err := mail.ParseDate(dt)
		if err != nil {
			return c, badRequest("'o:deliverytime' parameter is not a valid RFC 2822 date")
		}
		c.DeliveryTime = t
	}
	switch strings.ToLower(form.Get("o:testmode")) {
	case "", "no", "false":
	case "yes", "true":
		c.TestMode = true
	default:
		return c, badRequest("'o:testmode' must be yes or no")
	}
	return c, nil
}

// commit records a finished call; an accepted one also updates the counters
// and the event log.
func (s *Server) commit(c *Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed++
	close(s.changed)
	s.changed = make(chan struct{})
	if !s.countOnly {
		s.calls = append(s.calls, *c)
	}
	if !c.Accepted {
		return
	}
	s.stats.Accepted++
	s.stats.Recipients += len(c.To)
	for _, addr := range c.To {
		s.recipients[addr]++
	}
	if !s.events {
		return
	}
	msg := &acceptedMessage{
		id:       strings.Trim(c.ID, "<>"),
		from:     c.From,
		subject:  c.Subject,
		tags:     c.Tags,
		vars:     c.Variables,
		testMode: c.TestMode,
	}
	for _, addr := range c.To {
		s.log.add(c.Time, msg, addr, userVariablesFor(c, addr))
	}
}

// userVariablesFor fills %recipient.NAME% in the v: values for one recipient,
// as Mailgun does; nil means the message's values apply unchanged.
func userVariablesFor(c *Call, addr string) map[string]string {
	rv, ok := c.RecipientVariables[addr]
	if !ok {
		return nil
	}
	var out map[string]string
	for k, v := range c.Variables {
		if !strings.Contains(v, "%recipient.") {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(c.Variables))
			for k, v := range c.Variables {
				out[k] = v
			}
		}
		for name, val := range rv {
			s, isString := val.(string)
			if !isString {
				raw, _ := json.Marshal(val)
				s = string(raw)
			}
			v = strings.ReplaceAll(v, "%recipient."+name+"%", s)
		}
		out[k] = v
	}
	return out
}

func (s *Server) newID(now time.Time) string {
	s.mu.Lock()
	s.msgSeq++
	seq := s.msgSeq
	s.mu.Unlock()
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("<%s.%d.%s@%s>", now.UTC().Format("20060102150405"), seq, hex.EncodeToString(b), s.domain)
}
