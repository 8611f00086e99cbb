package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/store"
)

// TestMailgunSync: the suppression lists mark the subscribers on them, and
// only them; a second run changes nothing.
func TestMailgunSync(t *testing.T) {
	srv := mailguntest.New()
	t.Cleanup(srv.Close)
	e := newEnv(t)
	e["MAILGUN_API_KEY"], e["MAILGUN_DOMAIN"], e["MAILGUN_API_BASE"] = srv.APIKey(), srv.Domain(), srv.URL()
	csv := filepath.Join(t.TempDir(), "list.csv")
	if err := os.WriteFile(csv, []byte("email\nodbity@example.pl\nskarga@example.pl\nwypisany@example.pl\nzostaje@example.pl\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustKB(t, e, "subscribers", "import", "--status", "confirmed", csv)

	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	srv.Suppress(mailguntest.ListBounces, mailguntest.Suppressed{Address: "odbity@example.pl", At: at, Code: "550", Error: "no such user"},
		mailguntest.Suppressed{Address: "obcy@example.pl", At: at})
	srv.Suppress(mailguntest.ListComplaints, mailguntest.Suppressed{Address: "SKARGA@example.pl", At: at})
	srv.Suppress(mailguntest.ListUnsubscribes, mailguntest.Suppressed{Address: "wypisany@example.pl", At: at})

	out := mustKB(t, e, "mailgun", "sync")
	for _, want := range []string{"bounce       2       1        0        1", "complaint    1       1", "unsubscribe  1       1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	want := map[string]store.Status{"odbity@example.pl": store.StatusBounced, "skarga@example.pl": store.StatusComplained,
		"wypisany@example.pl": store.StatusUnsubscribed, "zostaje@example.pl": store.StatusConfirmed}
	for addr, status := range want {
		var p store.PersonData
		if err := json.Unmarshal([]byte(mustKB(t, e, "subscribers", "show", addr)), &p); err != nil || p.Subscriber == nil {
			t.Fatalf("show %s: %v", addr, err)
		}
		if p.Subscriber.Status != status {
			t.Errorf("%s is %s, want %s", addr, p.Subscriber.Status, status)
		}
	}
	if again := mustKB(t, e, "mailgun", "sync"); !strings.Contains(again, "bounce       2       0        1        1") {
		t.Errorf("second sync:\n%s", again)
	}

	noKey := newEnv(t)
	if code, _, errOut := kb(t, noKey, "", "mailgun", "sync"); code == 0 || !strings.Contains(errOut, "MAILGUN_API_KEY") {
		t.Errorf("without a key: exit %d, %s", code, errOut)
	}
}
