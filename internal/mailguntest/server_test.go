package mailguntest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// field is one form field; order matters for repeated "to".
type field struct{ name, value string }

func multipartBody(t testing.TB, fields []field) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f.name, f.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &buf
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func post(t testing.TB, s *Server, key, domain, contentType string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/"+domain+"/messages", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.SetBasicAuth("api", key)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func baseFields(to ...string) []field {
	fs := []field{{"from", `"Biuro" <biuro@example.pl>`}, {"subject", "Nowy poradnik"}, {"text", "Treść"}}
	for _, a := range to {
		fs = append(fs, field{"to", a})
	}
	return fs
}

func TestMessagesAuthAndDomain(t *testing.T) {
	s := New()
	defer s.Close()
	tests := []struct {
		name   string
		key    string
		domain string
		want   int
	}{
		{"no credentials", "", DefaultDomain, http.StatusUnauthorized},
		{"wrong key", "key-wrong", DefaultDomain, http.StatusUnauthorized},
		{"unknown domain", DefaultAPIKey, "other.example.pl", http.StatusNotFound},
		{"good", DefaultAPIKey, DefaultDomain, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := multipartBody(t, baseFields("a@example.pl"))
			r := post(t, s, tt.key, tt.domain, ct, body)
			if r.status != tt.want {
				t.Fatalf("status %d (%s), want %d", r.status, r.raw, tt.want)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/"+DefaultDomain+"/messages", nil)
	req.SetBasicAuth("user", DefaultAPIKey)
	if r := do(t, req); r.status != http.StatusUnauthorized {
		t.Errorf("user other than api: status %d", r.status)
	}
	if got := s.Stats(); got.Requests != 1 || got.Accepted != 1 {
		t.Errorf("stats = %+v; refused credentials must not count as requests", got)
	}
}

func TestMessagesAcceptsAndRecords(t *testing.T) {
	s := New()
	defer s.Close()
	fields := append(baseFields("Jan Kowalski <jan@example.pl>", "ewa@example.pl, adam@example.pl"),
		field{"html", "<p>Treść</p>"},
		field{"h:List-Unsubscribe", "<https://example.pl/u?t=1>"},
		field{"h:list-unsubscribe-post", "List-Unsubscribe=One-Click"},
		field{"o:tag", "newsletter"}, field{"o:tag", "guide"},
		field{"o:testmode", "yes"},
		field{"o:deliverytime", "Tue, 3 Nov 2026 09:00:00 +0100"},
		field{"v:kb-campaign", "7"},
		field{"recipient-variables", `{"jan@example.pl":{"id":"1"},"ewa@example.pl":{"id":"2"},"adam@example.pl":{"id":"3"}}`},
	)
	ct, body := multipartBody(t, fields)
	r := post(t, s, DefaultAPIKey, DefaultDomain, ct, body)
	if r.status != http.StatusOK || r.body["message"] != "Queued. Thank you." {
		t.Fatalf("answer %d %s", r.status, r.raw)
	}
	id, _ := r.body["id"].(string)
	if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@"+DefaultDomain+">") {
		t.Errorf("id = %q, want <…@%s>", id, DefaultDomain)
	}
	calls := s.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"status", c.Status, 200},
		{"accepted", c.Accepted, true},
		{"id", c.ID, id},
		{"to", strings.Join(c.To, ","), "jan@example.pl,ewa@example.pl,adam@example.pl"},
		{"raw to", len(c.Form["to"]), 2},
		{"from", c.From, `"Biuro" <biuro@example.pl>`},
		{"subject", c.Subject, "Nowy poradnik"},
		{"html", c.HTML, "<p>Treść</p>"},
		{"text", c.Text, "Treść"},
		{"List-Unsubscribe", c.Headers["List-Unsubscribe"], "<https://example.pl/u?t=1>"},
		{"List-Unsubscribe-Post", c.Headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click"},
		{"tags", strings.Join(c.Tags, ","), "newsletter,guide"},
		{"testmode", c.TestMode, true},
		{"deliverytime", c.DeliveryTime.UTC().Format(time.RFC3339), "2026-11-03T08:00:00Z"},
		{"variable", c.Variables["kb-campaign"], "7"},
		{"recipient variable", c.RecipientVariables["ewa@example.pl"]["id"], "2"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if got := s.Recipients(); len(got) != 3 || got["jan@example.pl"] != 1 {
		t.Errorf("Recipients() = %v", got)
	}
	if got := s.Stats(); got != (Stats{Requests: 1, Accepted: 1, Recipients: 3}) {
		t.Errorf("Stats() = %+v", got)
	}
}

func TestMessagesURLEncoded(t *testing.T) {
	s := New()
	defer s.Close()
	form := url.Values{"from": {"biuro@example.pl"}, "to": {"a@example.pl", "b@example.pl"}, "subject": {"S"}, "html": {"<p>x</p>"}}
	r := post(t, s, DefaultAPIKey, DefaultDomain, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if r.status != http.StatusOK {
		t.Fatalf("status %d %s", r.status, r.raw)
	}
	if got := s.Recipients(); got["a@example.pl"] != 1 || got["b@example.pl"] != 1 {
		t.Errorf("Recipients() = %v", got)
	}
}

func TestMessagesManyRecipients(t *testing.T) {
	s := New()
	defer s.Close()
	addrs := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("r%04d@example.pl", i)
		}
		return out
	}
	// 1,000 "to" parts plus the other fields exceed ParseMultipartForm's
	// part limit; the streaming reader must take them.
	ct, body := multipartBody(t, baseFields(addrs(1000)...))
	if r := post(t, s, DefaultAPIKey, DefaultDomain, ct, body); r.status != http.StatusOK {
		t.Fatalf("1000 recipients: status %d %s", r.status, r.raw)
	}
	ct, body = multipartBody(t, baseFields(addrs(1001)...))
	r := post(t, s, DefaultAPIKey, DefaultDomain, ct, body)
	if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "Too many recipients") {
		t.Fatalf("1001 recipients: status %d %s", r.status, r.raw)
	}
	// cc and bcc count too
	ct, body = multipartBody(t, append(baseFields(addrs(999)...), field{"cc", "x@example.pl"}, field{"bcc", "y@example.pl"}))
	if r := post(t, s, DefaultAPIKey, DefaultDomain, ct, body); r.status != http.StatusBadRequest {
		t.Fatalf("999+cc+bcc: status %d", r.status)
	}
	if got := s.Stats(); got.Accepted != 1 || got.Recipients != 1000 || got.Requests != 3 {
		t.Errorf("Stats() = %+v", got)
	}
}

func TestMessagesValidation(t *testing.T) {
	without := func(name string) []field {
		var out []field
		for _, f := range baseFields("a@example.pl") {
			if f.name != name {
				out = append(out, f)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		fields []field
		want   string
	}{
		{"no from", without("from"), "'from' parameter is missing"},
		{"bad from", append(without("from"), field{"from", "not an address"}), "'from' parameter is not a valid address"},
		{"no to", without("to"), "'to' parameter is missing"},
		{"bad to", append(without("to"), field{"to", "jan@"}), "'to' parameter is not a valid address"},
		{"no subject", without("subject"), "'subject' parameter is missing"},
		{"no body", without("text"), "Need at least one of 'text', 'html'"},
		{"empty body", append(without("text"), field{"text", ""}, field{"html", ""}), "Need at least one of 'text', 'html'"},
		{"bad recipient-variables", append(baseFields("a@example.pl"), field{"recipient-variables", `{"a@example.pl":`}), "'recipient-variables' parameter is not a valid JSON"},
		{"bad deliverytime", append(baseFields("a@example.pl"), field{"o:deliverytime", "tomorrow"}), "'o:deliverytime'"},
		{"bad testmode", append(baseFields("a@example.pl"), field{"o:testmode", "maybe"}), "'o:testmode'"},
	}
	// The lean server (count-only, no events) checks recipient variables
	// without parsing them; it must refuse the same calls.
	lean := New(WithCountOnly(), WithEvents(false))
	defer lean.Close()
	s := New()
	defer s.Close()
	for _, tt := range tests {
		for _, srv := range []struct {
			name string
			s    *Server
		}{{"full", s}, {"lean", lean}} {
			t.Run(tt.name+"/"+srv.name, func(t *testing.T) {
				ct, body := multipartBody(t, tt.fields)
				r := post(t, srv.s, DefaultAPIKey, DefaultDomain, ct, body)
				msg, _ := r.body["message"].(string)
				if r.status != http.StatusBadRequest || !strings.Contains(msg, tt.want) {
					t.Fatalf("answer %d %s, want 400 with %q", r.status, r.raw, tt.want)
				}
			})
		}
	}
	if got := lean.Stats(); got.Accepted != 0 {
		t.Errorf("lean server accepted refused calls: %+v", got)
	}
	t.Run("unsupported content type", func(t *testing.T) {
		r := post(t, s, DefaultAPIKey, DefaultDomain, "application/json", strings.NewReader(`{}`))
		if r.status != http.StatusBadRequest {
			t.Fatalf("status %d", r.status)
		}
	})
	t.Run("truncated multipart", func(t *testing.T) {
		ct, body := multipartBody(t, baseFields("a@example.pl"))
		r := post(t, s, DefaultAPIKey, DefaultDomain, ct, bytes.NewReader(body.Bytes()[:body.Len()-10]))
		if r.status != http.StatusBadRequest {
			t.Fatalf("status %d %s", r.status, r.raw)
		}
	})
	if got := s.Stats(); got.Accepted != 0 || len(s.Recipients()) != 0 {
		t.Errorf("refused calls were accepted: %+v", got)
	}
	for _, c := range s.Calls() {
		if c.Accepted || c.Status != http.StatusBadRequest || c.Error == "" {
			t.Errorf("recorded call %+v", c)
		}
	}
}

func TestMessagesTooLarge(t *testing.T) {
	s := New(func(s *Server) { s.maxBytes = 64 << 10 })
	defer s.Close()
	ct, body := multipartBody(t, append(baseFields("a@example.pl"), field{"html", strings.Repeat("x", 64<<10)}))
	r := post(t, s, DefaultAPIKey, DefaultDomain, ct, body)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %s", r.status, r.raw)
	}
}

func TestCountOnly(t *testing.T) {
	s := New(WithCountOnly(), WithEvents(false))
	defer s.Close()
	for range 3 {
		ct, body := multipartBody(t, append(baseFields("a@example.pl", "b@example.pl"), field{"html", "<p>big</p>"}))
		if r := post(t, s, DefaultAPIKey, DefaultDomain, ct, body); r.status != http.StatusOK {
			t.Fatalf("status %d %s", r.status, r.raw)
		}
	}
	if len(s.Calls()) != 0 {
		t.Error("CountOnly kept call bodies")
	}
	if got := s.Recipients(); got["a@example.pl"] != 3 || got["b@example.pl"] != 3 {
		t.Errorf("Recipients() = %v", got)
	}
	if got := s.Stats(); got != (Stats{Requests: 3, Accepted: 3, Recipients: 6}) {
		t.Errorf("Stats() = %+v", got)
	}
	if items, _ := listEvents(t, s, url.Values{}); len(items) != 0 {
		t.Errorf("events off but %d events", len(items))
	}
}

func TestFaults(t *testing.T) {
	s := New()
	defer s.Close()
	s.Script(
		Status(http.StatusTooManyRequests, "7"),
		Status(http.StatusBadRequest, "").WithMessage("'to' parameter is not a valid address. please check documentation"),
		Status(http.StatusServiceUnavailable, ""),
		Reset(),
		ResetAfterRead(),
		AcceptThenReset(),
		Hang(),
	)
	client := &http.Client{Timeout: 5 * time.Second}
	send := func(ctx context.Context, to string) (*http.Response, error) {
		ct, body := multipartBody(t, baseFields(to))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/"+DefaultDomain+"/messages", body)
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth("api", DefaultAPIKey)
		resp, err := client.Do(req)
		if err == nil {
			defer resp.Body.Close()
			io.ReadAll(resp.Body)
		}
		return resp, err
	}

	statuses := []struct {
		to, retryAfter, message string
		status                  int
	}{
		{"r1@example.pl", "7", "Too Many Requests", 429},
		{"r2@example.pl", "", "'to' parameter is not a valid address. please check documentation", 400},
		{"r3@example.pl", "", "Service Unavailable", 503},
	}
	for _, st := range statuses {
		resp, err := send(context.Background(), st.to)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != st.status || resp.Header.Get("Retry-After") != st.retryAfter {
			t.Errorf("%s: %d Retry-After %q", st.to, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	for _, to := range []string{"r4@example.pl", "r5@example.pl", "r6@example.pl"} {
		if _, err := send(context.Background(), to); err == nil {
			t.Errorf("%s: reset fault answered", to)
		}
	}
	// Hang: the server accepts, then answers nothing until the client
	// gives up.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := send(ctx, "r7@example.pl"); errc <- err }()
	waitCalls(t, s, 7)
	if s.Recipients()["r7@example.pl"] != 1 {
		t.Fatal("hang: message not accepted before hanging")
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("hang: err = %v", err)
	}
	// Script used up: normal behaviour again.
	if resp, err := send(context.Background(), "r8@example.pl"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after script: %v %v", resp, err)
	}
	if s.PendingFaults() != 0 {
		t.Errorf("%d faults pending", s.PendingFaults())
	}

	want := map[string]int{"r6@example.pl": 1, "r7@example.pl": 1, "r8@example.pl": 1}
	got := s.Recipients()
	if len(got) != len(want) {
		t.Errorf("Recipients() = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Recipients()[%s] = %d, want %d", k, got[k], v)
		}
	}
	calls := s.Calls()
	if len(calls) != 8 {
		t.Fatalf("%d calls recorded, want 8", len(calls))
	}
	wantCalls := []struct {
		status   int
		accepted bool
		to       int
	}{{429, false, 1}, {400, false, 1}, {503, false, 1}, {0, false, 0}, {0, false, 1}, {0, true, 1}, {0, true, 1}, {200, true, 1}}
	for i, w := range wantCalls {
		if c := calls[i]; c.Status != w.status || c.Accepted != w.accepted || len(c.To) != w.to {
			t.Errorf("call %d: status %d accepted %v to %v; want %+v", i, c.Status, c.Accepted, c.To, w)
		}
	}
	if calls[1].Error == "" {
		t.Error("400 fault: Error not recorded")
	}
}

func TestCloseReleasesHang(t *testing.T) {
	s := New()
	s.Script(Hang())
	errc := make(chan error, 1)
	go func() {
		ct, body := multipartBody(t, baseFields("a@example.pl"))
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/"+DefaultDomain+"/messages", body)
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth("api", DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitCalls(t, s, 1)
	s.Close()
	if err := <-errc; err == nil {
		t.Fatal("hanging call answered after Close")
	}
}

func TestLatencyAnswers(t *testing.T) {
	s := New(WithLatency(time.Millisecond))
	defer s.Close()
	ct, body := multipartBody(t, baseFields("a@example.pl"))
	if r := post(t, s, DefaultAPIKey, DefaultDomain, ct, body); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
}

func waitCalls(t *testing.T, s *Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitCalls(ctx, n); err != nil {
		t.Fatal(err)
	}
}
