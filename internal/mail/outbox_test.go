package mail

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)

func newTestOutbox(t *testing.T) *Outbox {
	t.Helper()
	o, err := NewOutbox(filepath.Join(t.TempDir(), "outbox"), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// files lists the directory, failing on leftovers that are not .eml files.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("unexpected file %s (temporary file left behind?)", e.Name())
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out
}

// parsed is an .eml read back with the standard library only.
type parsed struct {
	header mail.Header
	text   string
	html   string
	raw    string
}

func parseEML(t *testing.T, path string) parsed {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i+1, len(line))
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: msg.Header, raw: string(raw)}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		t.Fatalf("Content-Type %s, want multipart/alternative", mediaType)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(body), "\r\n", "\n")
		switch ct := part.Header.Get("Content-Type"); ct {
		case "text/plain; charset=utf-8":
			p.text = text
		case "text/html; charset=utf-8":
			p.html = text
		default:
			t.Fatalf("part Content-Type %q", ct)
		}
	}
	return p
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("decode %q: %v", v, err)
	}
	return s
}

func polishMessage() *Message {
	return &Message{
		From:    `"Biuro Rachunkowe Łódź" <poradniki@example.pl>`,
		ReplyTo: "biuro@example.pl",
		To:      "jan@example.pl",
		ToName:  "Jan Łukasz Żółć",
		Subject: "Zażółć gęślą jaźń — nowy poradnik o VAT",
		Text:    "Dzień dobry,\nnowy poradnik: https://example.pl/vat\n",
		HTML:    "<p>Dzień dobry,</p>\n<p><a href=\"https://example.pl/vat\">Nowy poradnik</a> — ąęśćżźńół</p>\n",
		Headers: map[string]string{
			"List-Unsubscribe":      "<https://example.pl/api/unsubscribe?t=abc>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
		Tags:      []string{"confirm"},
		Variables: map[string]string{"kb-email": "42", "kb-note": "zażółć"},
	}
}

func TestOutboxSend(t *testing.T) {
	o := newTestOutbox(t)
	m := polishMessage()
	id, err := o.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	paths := files(t, o.Dir())
	if len(paths) != 1 {
		t.Fatalf("%d files", len(paths))
	}
	p := parseEML(t, paths[0])
	h := p.header

	from, err := mail.ParseAddress(h.Get("From"))
	if err != nil || from.Name != "Biuro Rachunkowe Łódź" || from.Address != "poradniki@example.pl" {
		t.Errorf("From %q → %v, %v", h.Get("From"), from, err)
	}
	to, err := mail.ParseAddress(h.Get("To"))
	if err != nil || to.Name != "Jan Łukasz Żółć" || to.Address != "jan@example.pl" {
		t.Errorf("To %q → %v, %v", h.Get("To"), to, err)
	}
	if replyTo, err := mail.ParseAddress(h.Get("Reply-To")); err != nil || replyTo.Address != "biuro@example.pl" {
		t.Errorf("Reply-To %q", h.Get("Reply-To"))
	}
	if !isASCII(h.Get("Subject")) {
		t.Errorf("Subject not encoded: %q", h.Get("Subject"))
	}
	if got := decodeHeader(t, h.Get("Subject")); got != m.Subject {
		t.Errorf("Subject round trip %q", got)
	}
	if date, err := h.Date(); err != nil || !date.Equal(now) {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if h.Get("Message-ID") != id || !strings.HasSuffix(id, "@example.pl>") {
		t.Errorf("Message-ID %q, id %q", h.Get("Message-ID"), id)
	}
	checks := map[string]string{
		"MIME-Version":          "1.0",
		"List-Unsubscribe":      "<https://example.pl/api/unsubscribe?t=abc>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"X-Mailgun-Tag":         "confirm",
	}
	for k, want := range checks {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var vars map[string]string
	if err := json.Unmarshal([]byte(h.Get("X-Mailgun-Variables")), &vars); err != nil || vars["kb-email"] != "42" || vars["kb-note"] != "zażółć" {
		t.Errorf("X-Mailgun-Variables %q: %v", h.Get("X-Mailgun-Variables"), err)
	}
	if p.text != m.Text || p.html != m.HTML {
		t.Errorf("parts differ:\ntext %q\nhtml %q", p.text, p.html)
	}
	if !isASCII(p.raw) {
		t.Error("file is not 7-bit clean")
	}
}

func TestOutboxLongSubjectFolds(t *testing.T) {
	o := newTestOutbox(t)
	m := polishMessage()
	m.Subject = strings.Repeat("Źdźbło łąki — ", 60)
	if _, err := o.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p := parseEML(t, files(t, o.Dir())[0]) // checks line lengths
	if got := decodeHeader(t, p.header.Get("Subject")); got != m.Subject {
		t.Errorf("Subject round trip %q", got)
	}
}

func TestOutboxSinglePart(t *testing.T) {
	for _, tt := range []struct{ name, text, html, ct string }{
		{"text only", "Tylko tekst ąę", "", "text/plain; charset=utf-8"},
		{"html only", "", "<p>Tylko HTML ąę</p>", "text/html; charset=utf-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestOutbox(t)
			m := polishMessage()
			m.Text, m.HTML = tt.text, tt.html
			if _, err := o.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			f, _ := os.Open(files(t, o.Dir())[0])
			defer f.Close()
			msg, err := mail.ReadMessage(bufio.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			if msg.Header.Get("Content-Type") != tt.ct || msg.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
				t.Fatalf("headers %v", msg.Header)
			}
		})
	}
}

func TestOutboxRefusesBadMessages(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Message)
	}{
		{"CRLF in subject", func(m *Message) { m.Subject = "Hi\r\nBcc: victim@example.com" }},
		{"LF in subject", func(m *Message) { m.Subject = "Hi\nBcc: victim@example.com" }},
		{"CR in header value", func(m *Message) { m.Headers["List-Unsubscribe"] = "<https://x>\rBcc: v@example.com" }},
		{"colon in header name", func(m *Message) { m.Headers["X-Bad: injected"] = "x" }},
		{"newline in header name", func(m *Message) { m.Headers["X-Bad\r\nBcc"] = "x" }},
		{"reserved header", func(m *Message) { m.Headers["bcc"] = "v@example.com" }},
		{"From overridden by header", func(m *Message) { m.Headers["From"] = "ceo@example.com" }},
		{"CRLF in To", func(m *Message) { m.To = "jan@example.pl\r\nBcc: v@example.com" }},
		{"name in To", func(m *Message) { m.To = "Jan <jan@example.pl>" }},
		{"CRLF in To name", func(m *Message) { m.ToName = "Jan\r\nBcc: v@example.com" }},
		{"CRLF in From", func(m *Message) { m.From = "a@example.pl\r\nBcc: v@example.com" }},
		{"CRLF in Reply-To", func(m *Message) { m.ReplyTo = "a@example.pl\nBcc: v@example.com" }},
		{"NUL in subject", func(m *Message) { m.Subject = "a\x00b" }},
		{"invalid UTF-8 subject", func(m *Message) { m.Subject = "a\xffb" }},
		{"bad From", func(m *Message) { m.From = "not an address" }},
		{"no From", func(m *Message) { m.From = "" }},
		{"no To", func(m *Message) { m.To = "" }},
		{"no subject", func(m *Message) { m.Subject = "" }},
		{"no body", func(m *Message) { m.Text, m.HTML = "", "" }},
		{"bad tag", func(m *Message) { m.Tags = []string{"a\nb"} }},
		{"too many tags", func(m *Message) { m.Tags = []string{"a", "b", "c", "d"} }},
		{"bad variable name", func(m *Message) { m.Variables["a b"] = "x" }},
		{"huge variables", func(m *Message) { m.Variables["big"] = strings.Repeat("x", 5000) }},
		{"huge header", func(m *Message) { m.Headers["X-Long"] = strings.Repeat("x", 1000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestOutbox(t)
			m := polishMessage()
			tt.mutate(m)
			_, err := o.Send(context.Background(), m)
			if !errors.Is(err, ErrInvalidMessage) || !IsPermanent(err) || IsTemporary(err) {
				t.Fatalf("err = %v, want a permanent invalid-message error", err)
			}
			if got := files(t, o.Dir()); len(got) != 0 {
				t.Fatalf("wrote %v", got)
			}
		})
	}
	if _, err := newTestOutbox(t).Send(context.Background(), nil); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("nil message: %v", err)
	}
}

func TestOutboxContextAndDiskErrors(t *testing.T) {
	o := newTestOutbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Send(ctx, polishMessage()); !IsTemporary(err) {
		t.Errorf("canceled: %v", err)
	}
	if _, err := o.SendBatch(ctx, testBatch(3)); !IsTemporary(err) {
		t.Errorf("canceled batch: %v", err)
	}
	if got := files(t, o.Dir()); len(got) != 0 {
		t.Errorf("wrote %v", got)
	}
	if err := os.RemoveAll(o.Dir()); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Send(context.Background(), polishMessage()); !IsTemporary(err) {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := NewOutbox(""); err == nil {
		t.Error("empty dir accepted")
	}
	if got := o.Describe(); got != "outbox "+o.Dir() {
		t.Errorf("Describe() = %q", got)
	}
}

func testBatch(n int) *Batch {
	b := &Batch{
		From:    `"Poradniki %recipient.firm%" <poradniki@example.pl>`,
		ReplyTo: "biuro@example.pl",
		Subject: "%recipient.name%, nowy poradnik: Ulga na złe długi",
		Text:    "Dzień dobry %recipient.name%,\nwypisz się: %recipient.unsub%\n",
		HTML:    "<p>Dzień dobry %recipient.name%,</p><p><a href=\"%recipient.unsub%\">wypisz</a></p>",
		Headers: map[string]string{
			"List-Unsubscribe":      "<%recipient.unsub%>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
		Tags:      []string{"newsletter"},
		Variables: map[string]string{"kb-campaign": "7", "kb-batch": "1"},
	}
	for i := range n {
		b.Recipients = append(b.Recipients, Recipient{
			Address: fmt.Sprintf("osoba%d@example.pl", i),
			Name:    fmt.Sprintf("Osoba Żółta %d", i),
			Vars: map[string]string{
				"name":  fmt.Sprintf("Pani %d", i),
				"firm":  "Łódź",
				"unsub": fmt.Sprintf("https://example.pl/api/unsubscribe?t=%d", i),
			},
		})
	}
	return b
}

func TestOutboxSendBatch(t *testing.T) {
	o := newTestOutbox(t)
	b := testBatch(3)
	id, err := o.SendBatch(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	paths := files(t, o.Dir())
	if len(paths) != 3 {
		t.Fatalf("%d files", len(paths))
	}
	byTo := map[string]parsed{}
	for _, path := range paths {
		p := parseEML(t, path)
		to, err := mail.ParseAddress(p.header.Get("To"))
		if err != nil {
			t.Fatal(err)
		}
		byTo[to.Address] = p
		if strings.Contains(p.raw, "%recipient.") {
			t.Errorf("%s: placeholder left", path)
		}
		if p.header.Get("Message-ID") != id {
			t.Errorf("Message-ID %q, want batch id %q", p.header.Get("Message-ID"), id)
		}
	}
	for i, r := range b.Recipients {
		p, ok := byTo[r.Address]
		if !ok {
			t.Fatalf("no file for %s", r.Address)
		}
		unsub := fmt.Sprintf("https://example.pl/api/unsubscribe?t=%d", i)
		from, _ := mail.ParseAddress(p.header.Get("From"))
		to, _ := mail.ParseAddress(p.header.Get("To"))
		checks := []struct{ name, got, want string }{
			{"subject", decodeHeader(t, p.header.Get("Subject")), fmt.Sprintf("Pani %d, nowy poradnik: Ulga na złe długi", i)},
			{"from name", from.Name, "Poradniki Łódź"},
			{"to name", to.Name, r.Name},
			{"List-Unsubscribe", p.header.Get("List-Unsubscribe"), "<" + unsub + ">"},
			{"text", p.text, fmt.Sprintf("Dzień dobry Pani %d,\nwypisz się: %s\n", i, unsub)},
			{"html", p.html, fmt.Sprintf("<p>Dzień dobry Pani %d,</p><p><a href=\"%s\">wypisz</a></p>", i, unsub)},
			{"tag", p.header.Get("X-Mailgun-Tag"), "newsletter"},
			{"variables", p.header.Get("X-Mailgun-Variables"), `{"kb-batch":"1","kb-campaign":"7"}`},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s %s = %q, want %q", r.Address, c.name, c.got, c.want)
			}
		}
	}

	// Sending the same batch again (a crash after writing) overwrites.
	b.HTML += "<p>v2</p>"
	if _, err := o.SendBatch(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	again := files(t, o.Dir())
	if !slices.Equal(again, paths) {
		t.Fatalf("re-send changed the file set:\n%v\n%v", paths, again)
	}
	if p := parseEML(t, again[0]); !strings.HasSuffix(p.html, "<p>v2</p>") {
		t.Errorf("re-send did not overwrite: %q", p.html)
	}
	// The same address in the next batch is a new file.
	b.Variables["kb-batch"] = "2"
	b.Recipients = b.Recipients[:1]
	b.Recipients[0].Address = strings.ToUpper(b.Recipients[0].Address[:1]) + b.Recipients[0].Address[1:]
	if _, err := o.SendBatch(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got := files(t, o.Dir()); len(got) != 4 {
		t.Fatalf("%d files after second batch", len(got))
	}
}

func TestOutboxSendBatchTestModeAndSchedule(t *testing.T) {
	o := newTestOutbox(t)
	b := testBatch(1)
	b.TestMode = true
	b.DeliveryTime = now.Add(time.Hour)
	if _, err := o.SendBatch(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	p := parseEML(t, files(t, o.Dir())[0])
	if p.header.Get("X-Mailgun-Drop-Message") != "yes" {
		t.Error("test mode not recorded")
	}
	if d, err := mail.ParseDate(p.header.Get("X-Mailgun-Deliver-By")); err != nil || !d.Equal(b.DeliveryTime) {
		t.Errorf("X-Mailgun-Deliver-By %q", p.header.Get("X-Mailgun-Deliver-By"))
	}
}

func TestBatchValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Batch)
		want   string
	}{
		{"no recipients", func(b *Batch) { b.Recipients = nil }, "no recipients"},
		{"too many recipients", func(b *Batch) {
			for i := range 1001 {
				b.Recipients = append(b.Recipients, Recipient{Address: fmt.Sprintf("x%d@example.pl", i), Vars: b.Recipients[0].Vars})
			}
		}, "at most 1000"},
		{"duplicate recipient", func(b *Batch) { b.Recipients[1].Address = "OSOBA0@example.pl" }, "twice"},
		{"missing body variable", func(b *Batch) { delete(b.Recipients[1].Vars, "unsub") }, "%recipient.unsub%"},
		{"missing subject variable", func(b *Batch) { b.Subject = "%recipient.nope%" }, "%recipient.nope%"},
		{"variable injects a header", func(b *Batch) { b.Recipients[2].Vars["unsub"] = "https://x>\r\nBcc: v@example.com" }, "control character"},
		{"variable injects the subject", func(b *Batch) { b.Recipients[0].Vars["name"] = "Jan\nBcc: v@example.com" }, "control character"},
		{"variable breaks From", func(b *Batch) { b.Recipients[0].Vars["firm"] = `"<>` }, "not a valid mailbox"},
		{"bad recipient address", func(b *Batch) { b.Recipients[0].Address = "jan@" }, "not a bare email address"},
		{"bad recipient var name", func(b *Batch) { b.Recipients[0].Vars["a b"] = "x" }, "variable name"},
		{"CRLF in recipient name", func(b *Batch) { b.Recipients[0].Name = "A\r\nB" }, "control character"},
		{"no From", func(b *Batch) { b.From = "" }, "From is required"},
		{"CRLF in header template", func(b *Batch) { b.Headers["X-A"] = "a\r\nb" }, "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newTestOutbox(t)
			b := testBatch(3)
			tt.mutate(b)
			_, err := o.SendBatch(context.Background(), b)
			if !errors.Is(err, ErrInvalidMessage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want invalid message mentioning %q", err, tt.want)
			}
			if got := files(t, o.Dir()); len(got) != 0 {
				t.Fatalf("wrote %d files", len(got))
			}
		})
	}
	if _, err := newTestOutbox(t).SendBatch(context.Background(), nil); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("nil batch: %v", err)
	}
}

func TestOutboxAccepted(t *testing.T) {
	clock := now
	o, err := NewOutbox(t.TempDir(), WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b1 := testBatch(3)
	if _, err := o.SendBatch(ctx, b1); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(time.Hour)
	b2 := testBatch(5)
	b2.Variables = map[string]string{"kb-campaign": "7", "kb-batch": "2"}
	b2.Recipients = b2.Recipients[3:]
	if _, err := o.SendBatch(ctx, b2); err != nil {
		t.Fatal(err)
	}
	single := polishMessage()
	single.Variables = map[string]string{"kb-batch": "2"}
	if _, err := o.Send(ctx, single); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    AcceptedQuery
		want []string
	}{
		{"batch 1", AcceptedQuery{Tag: "newsletter", Variable: "kb-batch", Value: "1"}, []string{"osoba0@example.pl", "osoba1@example.pl", "osoba2@example.pl"}},
		{"batch 2 and its tag", AcceptedQuery{Tag: "newsletter", Variable: "kb-batch", Value: "2"}, []string{"osoba3@example.pl", "osoba4@example.pl"}},
		{"batch 2 any tag", AcceptedQuery{Variable: "kb-batch", Value: "2"}, []string{"jan@example.pl", "osoba3@example.pl", "osoba4@example.pl"}},
		{"other tag", AcceptedQuery{Tag: "confirm"}, []string{"jan@example.pl"}},
		{"campaign", AcceptedQuery{Variable: "kb-campaign", Value: "7"}, []string{"osoba0@example.pl", "osoba1@example.pl", "osoba2@example.pl", "osoba3@example.pl", "osoba4@example.pl"}},
		{"time window", AcceptedQuery{Tag: "newsletter", Begin: now.Add(30 * time.Minute), End: now.Add(2 * time.Hour)}, []string{"osoba3@example.pl", "osoba4@example.pl"}},
		{"before everything", AcceptedQuery{End: now.Add(-time.Minute)}, nil},
		{"no such batch", AcceptedQuery{Variable: "kb-batch", Value: "3"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := o.Accepted(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	// A stray temporary file (a crash mid-write) is not a message.
	if err := os.WriteFile(filepath.Join(o.Dir(), ".outbox-123.tmp"), []byte("To: x@example.pl\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := o.Accepted(ctx, AcceptedQuery{Variable: "kb-batch", Value: "1"}); err != nil || len(got) != 3 {
		t.Fatalf("with temp file: %v %v", got, err)
	}
	// A malformed .eml is reported, not skipped silently.
	if err := os.WriteFile(filepath.Join(o.Dir(), "broken.eml"), []byte("To: x@example.pl\r\nX-Mailgun-Variables: {\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Accepted(ctx, AcceptedQuery{Variable: "kb-batch", Value: "1"}); err == nil || !strings.Contains(err.Error(), "broken.eml") {
		t.Fatalf("malformed file: err = %v", err)
	}
}

func TestFileSafe(t *testing.T) {
	for in, want := range map[string]string{
		"Jan.Kowalski@Example.PL": "jan.kowalski@example.pl",
		"../../etc/passwd@x.pl":   "_.._etc_passwd@x.pl",
		"a/b\\c@x.pl":             "a_b_c@x.pl",
	} {
		if got := fileSafe(in); got != want {
			t.Errorf("fileSafe(%q) = %q, want %q", in, got, want)
		}
	}
	if got := fileSafe(strings.Repeat("a", 300) + "@x.pl"); len(got) > 64 {
		t.Errorf("fileSafe kept %d bytes", len(got))
	}
}

// TestOutboxForget: erasure deletes a person's emails, single and batch,
// in any letter case, and nobody else's, even with a similar address.
func TestOutboxForget(t *testing.T) {
	o := newTestOutbox(t)
	ctx := context.Background()
	if _, err := o.SendBatch(ctx, testBatch(3)); err != nil { // osoba0…osoba2@example.pl
		t.Fatal(err)
	}
	for _, to := range []string{"Osoba1@Example.pl", "osoba10@example.pl", "xosoba1@example.pl"} {
		m := polishMessage()
		m.To = to
		if _, err := o.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	n, err := o.Forget(ctx, "OSOBA1@example.pl")
	if err != nil || n != 2 {
		t.Fatalf("Forget = %d, %v; want 2 (the batch copy and the single email)", n, err)
	}
	var left []string
	for _, f := range files(t, o.Dir()) {
		left = append(left, strings.ToLower(parseEML(t, f).header.Get("To")))
	}
	if len(left) != 4 || slices.ContainsFunc(left, func(to string) bool { return strings.Contains(to, "<osoba1@") || to == "osoba1@example.pl" }) {
		t.Fatalf("left: %v", left)
	}
	if n, err := o.Forget(ctx, "nikt@example.pl"); err != nil || n != 0 {
		t.Fatalf("Forget of nobody = %d, %v", n, err)
	}
}
