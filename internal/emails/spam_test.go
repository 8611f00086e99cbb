package emails

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mail"
)

// maxSpamScore is what every kind of email may score in SpamAssassin run
// offline: far below its 5.0 threshold, so no filter's local rules tip it.
const maxSpamScore = 1.0

var spamScore = regexp.MustCompile(`(?m)^Content analysis details:\s+\((-?[0-9.]+) points`)

// TestSpamAssassin writes every kind of email as the outbox does and has
// SpamAssassin (offline, -L) score it. It skips without spamassassin,
// except under CI, which installs it.
func TestSpamAssassin(t *testing.T) {
	bin, err := exec.LookPath("spamassassin")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("spamassassin is not installed (.ci/run installs it)")
		}
		t.Skip("spamassassin is not installed (apt-get install spamassassin)")
	}
	tpl := newTemplates(t)
	const unsub = "https://wiedza.example.pl/api/unsubscribe?token=AnUBGGMxZmI5YTM2YmM3N2JkYjA2ZDZhOWVlNgCg_6q5A70MufWWsRy9M5VF"
	const prefs = "https://wiedza.example.pl/api/preferences?token=AnABGGMxZmI5YTM2YmM3N2JkYjA2ZDZhOWVlNgX4k2Lq0c7PZw1tRbN8dYs3"
	news, err := tpl.Newsletter(testGuide(60), NewsletterOptions{FullTextMaxWords: 1200})
	if err != nil {
		t.Fatal(err)
	}
	// The same guide with a picture, as a bundle's email carries it.
	pictured := testGuide(60)
	pictured.Markdown += "\n\n![Saldo rachunku od stycznia do czerwca](wykres.png)\n"
	pictured.Images = map[string]guide.Image{"wykres.png": {URL: pictured.Permalink + "wykres_hu_600.png", Width: 600, Height: 300, Link: pictured.Permalink + "wykres_hu_1200.png"}}
	newsImage, err := tpl.Newsletter(pictured, NewsletterOptions{FullTextMaxWords: 1200})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := tpl.Digest(DigestContent{Guides: digestGuides(), Date: time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	welcome := welcomeContent()
	welcome.PreferencesURL, welcome.UnsubscribeURL = prefs, unsub
	welcomeWP := welcome
	welcomeWP.WhitepaperURL = "https://wiedza.example.pl/api/whitepaper?token=AncBGGM3NzZmYzZlOTYyMTk1YTJkOGFjODUyY5ifytgG9DrQ4uNEALIJzP_aYFo3OA"
	welcomeWP.WhitepaperExpires = time.Date(2026, 12, 9, 14, 5, 0, 0, time.UTC)
	emails := map[string]Email{
		"confirmation":    tpl.Confirmation("https://wiedza.example.pl/api/confirm?token=AmMBGGU1ZGU3Mjg2NjM3ZWFhYmNhYzI0OTIxNZL3ztgGU68oCaXMxfq4BLuvfUd7PQ", unsub, false),
		"confirmation+wp": tpl.Confirmation("https://wiedza.example.pl/api/confirm?token=AmMBGGU1ZGU3Mjg2NjM3ZWFhYmNhYzI0OTIxNZL3ztgGU68oCaXMxfq4BLuvfUd7PQ", unsub, true),
		"whitepaper":      tpl.Whitepaper("https://wiedza.example.pl/api/whitepaper?token=AncBGGM3NzZmYzZlOTYyMTk1YTJkOGFjODUyY5ifytgG9DrQ4uNEALIJzP_aYFo3OA", unsub, time.Date(2026, 12, 9, 14, 5, 0, 0, time.UTC)),
		"newsletter":      news.Fill(RecipientVars(unsub, prefs)),
		"newsletter+img":  newsImage.Fill(RecipientVars(unsub, prefs)),
		"digest":          digest.Fill(RecipientVars(unsub, prefs)),
		"welcome":         tpl.Welcome(welcome),
		"welcome+wp":      tpl.Welcome(welcomeWP),
	}
	for name, e := range emails {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ob, err := mail.NewOutbox(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ob.Send(context.Background(), &mail.Message{
				From: `"Saldo · Poradniki" <poradniki@saldo.example.pl>`, ReplyTo: "kontakt@saldo.example.pl",
				To: "czytelnik@example.pl", Subject: e.Subject, HTML: e.HTML, Text: e.Text, Headers: e.Headers,
			}); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
			raw, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), bin, "-L", "-t")
			cmd.Stdin = bytes.NewReader(raw)
			out, err := cmd.Output()
			if err != nil && len(out) == 0 {
				t.Fatalf("spamassassin: %v", err)
			}
			m := spamScore.FindSubmatch(out)
			if m == nil {
				t.Fatalf("no score in spamassassin's report:\n%s", out)
			}
			score, _ := strconv.ParseFloat(string(m[1]), 64)
			t.Logf("%s: SpamAssassin score %.1f", name, score)
			if score > maxSpamScore {
				report := out[bytes.Index(out, []byte("Content analysis details")):]
				t.Errorf("%s scores %.1f, want at most %.1f:\n%s", name, score, maxSpamScore, report)
			}
		})
	}
}
