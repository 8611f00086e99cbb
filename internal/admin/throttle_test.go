package admin_test

import (
	"context"
	"encoding/csv"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/store"
)

func retryAfter(t *testing.T, res *http.Response) time.Duration {
	t.Helper()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", res.StatusCode)
	}
	s, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || s <= 0 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	return time.Duration(s) * time.Second
}

func TestBruteForceAccount(t *testing.T) {
	for _, account := range []string{adminEmail, "unknown@example.com"} {
		t.Run(account, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			for i := 1; i <= 5; i++ {
				// From different clients: the account's own limit.
				hdr := map[string]string{"X-Client": "198.51.100." + strconv.Itoa(i)}
				if res := e.password(account, "wrong password!", hdr); res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("failure %d: %d, want 401", i, res.StatusCode)
				}
			}
			first := retryAfter(t, e.password(account, adminPassword, nil))
			e.clock.add(first + time.Second)
			if res := e.password(account, "wrong again!!", nil); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after the wait: %d, want 401", res.StatusCode)
			}
			second := retryAfter(t, e.password(account, adminPassword, nil))
			if second <= first {
				t.Errorf("wait did not grow: %v then %v", first, second)
			}
			e.clock.add(second + time.Second)
			if account == adminEmail {
				wantRedirect(t, e.password(account, adminPassword, nil), "/admin/code")
			}
		})
	}
}

func TestBruteForceCodes(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.login()
	pending := e.sessionCookie(e.password(adminEmail, adminPassword, nil)).Value
	for i := 1; i <= 5; i++ {
		if res := e.code(pending, "000000"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i, res.StatusCode)
		}
	}
	e.clock.add(30 * time.Second)
	retryAfter(t, e.code(pending, e.validCode()))
	// The password form is blocked for the account too.
	retryAfter(t, e.password(adminEmail, adminPassword, map[string]string{"X-Client": "203.0.113.9"}))
}

func TestBruteForceClient(t *testing.T) {
	e := newEnv(t, envOpts{})
	hdr := map[string]string{"X-Client": "203.0.113.7"}
	for i := 1; i <= 20; i++ {
		if res := e.password("guess"+strconv.Itoa(i)+"@example.com", "wrong password!", hdr); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i, res.StatusCode)
		}
	}
	retryAfter(t, e.password(adminEmail, adminPassword, hdr))
	// Another client is not blocked.
	wantRedirect(t, e.password(adminEmail, adminPassword, map[string]string{"X-Client": "203.0.113.8"}), "/admin/code")
}

// TestUnknownAccountAnswersAlike: the same status and page for an unknown
// address as for a wrong password, and about the same time (the dummy
// hash: without it the unknown account answers in microseconds).
func TestUnknownAccountAnswersAlike(t *testing.T) {
	e := newEnv(t, envOpts{})
	strip := func(s, email string) string { return strings.ReplaceAll(s, email, "EMAIL") }
	var known, unknown time.Duration
	for i := range 3 {
		hdr := map[string]string{"X-Client": "198.51.100." + strconv.Itoa(i+1)}
		start := time.Now()
		a := e.password(adminEmail, "wrong password!", hdr)
		known += time.Since(start)
		start = time.Now()
		other := "nobody" + strconv.Itoa(i) + "@example.com"
		b := e.password(other, "wrong password!", hdr)
		unknown += time.Since(start)
		if a.StatusCode != b.StatusCode || strip(body(t, a), adminEmail) != strip(body(t, b), other) {
			t.Fatalf("answers differ: %d vs %d", a.StatusCode, b.StatusCode)
		}
		if a.Header.Get("Set-Cookie") != "" || b.Header.Get("Set-Cookie") != "" {
			t.Error("a failed login sets a cookie")
		}
	}
	if unknown < known/3 {
		t.Errorf("unknown accounts answer in %v, known in %v: the timing tells them apart", unknown/3, known/3)
	}
}

func TestExportCSV(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	rows := []store.ImportRow{
		{Email: "anna@example.com", Name: "Anna"},
		{Email: "evil@example.com", Name: `=HYPERLINK("http://evil.example","x")`, Source: "+1+1"},
	}
	var seq iter.Seq[store.ImportRow] = slices.Values(rows)
	if _, err := e.st.Import(ctx, seq, store.StatusConfirmed, t0); err != nil {
		t.Fatal(err)
	}
	full := e.login()
	res := e.do(req{path: "/admin/subscribers/export", cookie: full, form: url.Values{}})
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(res.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0][1] != "email" {
		t.Fatalf("records %q", recs)
	}
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
		}
	}
	if recs[2][2] != `'=HYPERLINK("http://evil.example","x")` {
		t.Errorf("name cell %q", recs[2][2])
	}
	log, err := e.st.AdminLog(ctx, 1)
	if err != nil || len(log) != 1 || log[0].Event != "export" || log[0].Email != adminEmail {
		t.Errorf("export not logged: %+v %v", log, err)
	}
}

func TestSubscriberLookup(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	if _, err := e.st.Import(ctx, slices.Values([]store.ImportRow{{Email: "anna@example.com", Name: "Anna", Source: "/poradniki/x/"}}),
		store.StatusConfirmed, t0); err != nil {
		t.Fatal(err)
	}
	full := e.login()
	for _, tc := range []struct{ q, want string }{
		{"anna@example.com", "potwierdzony"},
		{"anna@example.com", "/poradniki/x/"},
		{"ola@example.com", "Nie ma subskrybenta"},
		{"not an address", "poprawny adres"},
	} {
		page := body(t, e.do(req{path: "/admin/subscribers?email=" + url.QueryEscape(tc.q), cookie: full}))
		if !strings.Contains(page, tc.want) {
			t.Errorf("%s: page lacks %q", tc.q, tc.want)
		}
	}
}
