package emails

import (
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/config"
)

func TestFirmLegal(t *testing.T) {
	const court = "Sąd Rejonowy dla m.st. Warszawy w Warszawie, XIII Wydział Gospodarczy Krajowego Rejestru Sądowego"
	tests := []struct {
		name string
		firm config.Firm
		want string
	}{
		{"nothing set", config.Firm{Name: "Biuro"}, ""},
		{"all set", config.Firm{RegistryCourt: court, KRS: "0000123456", NIP: "123-456-32-18", REGON: "123456785", ShareCapital: "5 000,00 zł"},
			"KRS 0000123456 (" + court + ") · NIP 123-456-32-18 · REGON 123456785 · kapitał zakładowy 5 000,00 zł"},
		{"no REGON", config.Firm{KRS: "0000123456", NIP: "1234563218", ShareCapital: "5 000,00 zł"},
			"KRS 0000123456 · NIP 1234563218 · kapitał zakładowy 5 000,00 zł"},
		{"court without KRS", config.Firm{RegistryCourt: court}, "sąd rejestrowy: " + court},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirmLegal(tt.firm); got != tt.want {
				t.Errorf("FirmLegal = %q\nwant       %q", got, tt.want)
			}
		})
	}
}

// TestFooterCarriesFirmLegal checks both parts of every kind of email.
func TestFooterCarriesFirmLegal(t *testing.T) {
	tests := []struct {
		name  string
		legal string
	}{
		{"registry line", "KRS 0000123456 · NIP 123-456-32-18 · kapitał zakładowy 5 000,00 zł"},
		{"none configured", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := testSite()
			site.FirmLegal = tt.legal
			tpl, err := New(site)
			if err != nil {
				t.Fatal(err)
			}
			digest, err := tpl.Digest(DigestContent{Guides: digestGuides(), Date: day(2026, 12, 7)})
			if err != nil {
				t.Fatal(err)
			}
			for kind, e := range map[string]Email{
				"confirmation": tpl.Confirmation("https://wiedza.example.pl/api/confirm?token=a", "https://wiedza.example.pl/api/unsubscribe?token=b", false),
				"whitepaper":   tpl.Whitepaper("https://wiedza.example.pl/api/whitepaper?token=c", "https://wiedza.example.pl/api/unsubscribe?token=b", time.Time{}),
				"welcome":      tpl.Welcome(welcomeContent()),
				"digest":       digest,
			} {
				for part, body := range map[string]string{"HTML": e.HTML, "text": e.Text} {
					if tt.legal != "" && !strings.Contains(body, tt.legal) {
						t.Errorf("%s %s lacks %q", kind, part, tt.legal)
					}
					if tt.legal == "" && strings.Contains(body, "<p></p>") {
						t.Errorf("%s %s has an empty paragraph", kind, part)
					}
				}
			}
		})
	}
}
