package mail

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Outbox is the development transport: every email becomes an .eml file in a
// directory instead of leaving the machine.
type Outbox struct {
	dir  string
	now  func() time.Time
	sync *groupSync
}

// Option configures an Outbox.
type Option func(*Outbox)

// WithClock sets the clock used for Date headers and file names.
func WithClock(now func() time.Time) Option {
	return func(o *Outbox) { o.now = now }
}

// NewOutbox returns an outbox writing to dir, creating it if needed.
func NewOutbox(dir string, opts ...Option) (*Outbox, error) {
	if dir == "" {
		return nil, errors.New("outbox: directory is required")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := &Outbox{dir: dir, now: time.Now}
	o.sync = newGroupSync(func() error { return flushDir(dir) })
	for _, opt := range opts {
		opt(o)
	}
	return o, nil
}

// Describe names the transport for the start-up log line.
func (o *Outbox) Describe() string { return "outbox " + o.dir }

// Dir is the directory the outbox writes to.
func (o *Outbox) Dir() string { return o.dir }

// Send writes m as one .eml file and returns its Message-ID.
func (o *Outbox) Send(ctx context.Context, m *Message) (string, error) {
	from, replyTo, to, err := m.validate()
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", &SendError{Temporary: true, Message: "not written", Err: err}
	}
	now := o.now()
	e := &eml{
		date:      now,
		messageID: newMessageID(now, from.Address),
		from:      from,
		replyTo:   replyTo,
		to:        to,
		subject:   m.Subject,
		headers:   m.Headers,
		tags:      m.Tags,
		variables: m.Variables,
		text:      m.Text,
		html:      m.HTML,
	}
	name := fmt.Sprintf("%s-%s-%s.eml", now.UTC().Format("20060102T150405.000000000Z"), fileSafe(m.To), randomHex(4))
	if err := o.writeFile(name, e); err != nil {
		return "", err
	}
	if err := o.sync.Wait(); err != nil {
		return "", outboxErr(err)
	}
	return e.messageID, nil
}

// SendBatch writes one .eml per recipient with the placeholders filled in.
// File names derive from the batch's Variables and the recipient address, so
// sending the same batch again (after a crash) overwrites rather than
// duplicates. It returns the Message-ID shared by the batch's files.
func (o *Outbox) SendBatch(ctx context.Context, b *Batch) (string, error) {
	if err := b.validate(); err != nil {
		return "", err
	}
	now := o.now()
	var id string
	batchKey := hashOf(asciiJSON(b.Variables))
	for _, r := range b.Recipients {
		if err := ctx.Err(); err != nil {
			return "", &SendError{Temporary: true, Message: "batch partly written; sending it again overwrites", Err: err}
		}
		h, err := b.headersFor(r)
		if err != nil {
			return "", err
		}
		if id == "" {
			id = newMessageID(now, h.from.Address)
		}
		text, err := expand(b.Text, r.Vars)
		if err != nil {
			return "", recipientErr(r, "Text", err)
		}
		html, err := expand(b.HTML, r.Vars)
		if err != nil {
			return "", recipientErr(r, "HTML", err)
		}
		e := &eml{
			date:      now,
			messageID: id,
			from:      h.from,
			replyTo:   h.replyTo,
			to:        mail.Address{Name: r.Name, Address: r.Address},
			subject:   h.subject,
			headers:   h.headers,
			tags:      b.Tags,
			variables: b.Variables,
			text:      text,
			html:      html,
			deliverBy: b.DeliveryTime,
			testMode:  b.TestMode,
		}
		if err := o.writeFile(batchFileName(batchKey, r.Address), e); err != nil {
			return "", err
		}
	}
	if err := o.sync.Wait(); err != nil {
		return "", outboxErr(err)
	}
	return id, nil
}

// Accepted lists the recipients of the outbox's messages that match q — the
// outbox's equivalent of Mailgun's accepted events. The result is sorted and
// holds each address once.
func (o *Outbox) Accepted(ctx context.Context, q AcceptedQuery) ([]string, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, outboxErr(err)
	}
	found := map[string]string{}
	for _, entry := range entries {
		name := entry.Name()
		if entry.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".eml") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, &SendError{Temporary: true, Err: err}
		}
		rcpt, ok, err := matchFile(filepath.Join(o.dir, name), q)
		if err != nil {
			return nil, err
		}
		if ok {
			found[strings.ToLower(rcpt)] = rcpt
		}
	}
	return slices.Sorted(maps.Values(found)), nil
}

// matchFile reads the header of one .eml and reports its recipient if it
// matches q.
func matchFile(path string, q AcceptedQuery) (string, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil // replaced or removed since the directory was read
	}
	if err != nil {
		return "", false, outboxErr(err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(bufio.NewReader(f))
	if err != nil {
		return "", false, &SendError{Message: "unreadable outbox file " + path, Err: err}
	}
	if q.Tag != "" && !slices.Contains(msg.Header[headerTag], q.Tag) {
		return "", false, nil
	}
	if !q.Begin.IsZero() || !q.End.IsZero() {
		date, err := msg.Header.Date()
		if err != nil {
			return "", false, &SendError{Message: "outbox file " + path + " has no valid Date", Err: err}
		}
		if !q.Begin.IsZero() && date.Before(q.Begin.Truncate(time.Second)) || !q.End.IsZero() && date.After(q.End) {
			return "", false, nil
		}
	}
	if q.Variable != "" {
		var vars map[string]string
		if raw := msg.Header.Get(headerVariables); raw != "" {
			if err := json.Unmarshal([]byte(raw), &vars); err != nil {
				return "", false, &SendError{Message: "outbox file " + path + " has malformed " + headerVariables, Err: err}
			}
		}
		if v, ok := vars[q.Variable]; !ok || v != q.Value {
			return "", false, nil
		}
	}
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	if err != nil {
		return "", false, &SendError{Message: "outbox file " + path + " has no valid To", Err: err}
	}
	return to.Address, true, nil
}

// writeFile writes e to name atomically: a temporary file in the same
// directory, then a rename, so readers never see half a message. It is
// durable only after o.sync.Wait, which callers make before reporting
// success.
func (o *Outbox) writeFile(name string, e *eml) (err error) {
	tmp, err := os.CreateTemp(o.dir, ".outbox-*.tmp")
	if err != nil {
		return outboxErr(err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriter(tmp)
	if err := e.write(w); err != nil {
		return outboxErr(err)
	}
	if err := w.Flush(); err != nil {
		return outboxErr(err)
	}
	if perFileSync {
		if err := tmp.Sync(); err != nil {
			return outboxErr(err)
		}
	}
	if err := tmp.Close(); err != nil {
		return outboxErr(err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(o.dir, name)); err != nil {
		return outboxErr(err)
	}
	return nil
}

// syncDir makes renames durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// outboxErr reports a file-system failure: nothing (or, for a batch, part of
// it) was written, and writing again is safe.
func outboxErr(err error) error {
	return &SendError{Temporary: true, Message: "outbox write failed", Err: err}
}

func batchFileName(batchKey, address string) string {
	return fmt.Sprintf("batch-%s-%s-%s.eml", batchKey[:12], fileSafe(address), hashOf(strings.ToLower(address))[:8])
}

// fileSafe keeps an address readable in a file name without letting it
// choose the path.
func fileSafe(address string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(address) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '@', c == '-', c == '_', c == '+':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return strings.TrimLeft(b.String(), ".")
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newMessageID(now time.Time, fromAddress string) string {
	domain := "localhost"
	if at := strings.LastIndexByte(fromAddress, '@'); at >= 0 {
		domain = fromAddress[at+1:]
	}
	return fmt.Sprintf("<%s.%s@%s>", now.UTC().Format("20060102150405.000000"), randomHex(8), domain)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}

// Forget deletes every message to address (in any letter case) from the
// outbox, for the erasure of a person (RODO art. 17), and says how many
// it deleted. File names carry the address folded (fileSafe), so only
// those files are opened; the To header decides.
func (o *Outbox) Forget(ctx context.Context, address string) (int, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, outboxErr(err)
	}
	marker := "-" + fileSafe(address) + "-"
	n := 0
	for _, entry := range entries {
		name := entry.Name()
		if entry.IsDir() || !strings.HasSuffix(name, ".eml") || !strings.Contains(name, marker) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		path := filepath.Join(o.dir, name)
		to, _, err := matchFile(path, AcceptedQuery{})
		if err != nil {
			return n, err
		}
		if !strings.EqualFold(to, address) {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, outboxErr(err)
		}
		n++
	}
	return n, nil
}
