package prefs

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// TestWelcomeEmail: confirming — the button pressed twice at once, as a
// double click does — brings exactly one welcome email and no separate
// whitepaper email. It carries the whitepaper's download link when the
// signup asked for it (and none otherwise), the start-here guides of
// params.newsletter.welcome in their order, and the reader's preference
// link, which opens their page.
func TestWelcomeEmail(t *testing.T) {
	first, _ := builds(t)
	k := start(t, first)
	pdfs, err := filepath.Glob(filepath.Join(first.public, "biala-ksiega", "*.pdf"))
	if err != nil || len(pdfs) != 1 {
		t.Fatalf("want the whitepaper's PDF in the build: %v %v", pdfs, err)
	}
	rel, _ := filepath.Rel(first.public, pdfs[0])
	whitepaper := baseURL + filepath.ToSlash(rel)

	tests := []struct {
		name, address string
		whitepaper    bool
	}{
		{"with the whitepaper", "z-ksiega@example.pl", true},
		{"without the whitepaper", "bez-ksiegi@example.pl", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if err := kbproc.Signup(ctx, k.srv.URL, tt.address, "", tt.whitepaper); err != nil {
				t.Fatal(err)
			}
			k.drained(t)
			confirmations := k.emails(t, tt.address, "kb-confirm")
			if len(confirmations) != 1 {
				t.Fatalf("%d confirmation emails, want 1", len(confirmations))
			}
			confirm := k.srv.URL + confirmations[0].TokenPath(t, "/api/confirm")
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					req, err := formRequest(ctx, confirm, nil)
					if err != nil {
						t.Error(err)
						return
					}
					if res, body, err := fetch(req); err != nil || res.StatusCode != http.StatusOK {
						t.Errorf("pressing the confirm button: %v %v\n%s", res, err, body)
					}
				})
			}
			wg.Wait()
			k.drained(t)

			if tags := tagsOf(k.emails(t, tt.address)); !slices.Equal(slices.Sorted(slices.Values(tags)), []string{"kb-confirm", "kb-welcome"}) {
				t.Fatalf("emails after confirming: %v, want the confirmation and one welcome email", tags)
			}
			w := k.emails(t, tt.address, "kb-welcome")[0]
			if w.Subject != "Witaj w newsletterze Saldo" {
				t.Errorf("subject %q", w.Subject)
			}
			if got := strings.Contains(w.Text, whitepaper); got != tt.whitepaper {
				t.Errorf("the whitepaper link %s in the welcome email: %v, want %v:\n%s", whitepaper, got, tt.whitepaper, w.Text)
			}
			if !tt.whitepaper && (strings.Contains(w.Text, ".pdf") || strings.Contains(w.Text, "/api/whitepaper")) {
				t.Errorf("a download link in the welcome email of a reader who did not ask for it:\n%s", w.Text)
			}
			at := -1
			for _, slug := range welcomeSlugs {
				g := first.guide(t, slug)
				i := strings.Index(w.Text, g.Permalink)
				if i < 0 || i < at || !strings.Contains(w.Text, g.Title) {
					t.Errorf("the start-here guide %s (%q) is not linked after the one before it:\n%s", slug, g.Title, w.Text)
				}
				at = i
			}
			if tt.whitepaper {
				if res, _ := get(t, ctx, kbproc.OnServer(whitepaper, k.srv.URL)); res.StatusCode != http.StatusOK {
					t.Errorf("the whitepaper link: %s", res.Status)
				}
			}
			res, page := get(t, ctx, k.srv.URL+w.TokenPath(t, "/api/preferences"))
			if res.StatusCode != http.StatusOK || !strings.Contains(page, `name="frequency"`) || !strings.Contains(page, `name="topics"`) {
				t.Errorf("the preference link opens %s, want the reader's page with the form:\n%s", res.Status, page)
			}
		})
	}
}
