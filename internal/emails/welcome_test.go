package emails

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/guide"
)

const (
	welcomePrefs = "https://wiedza.example.pl/api/preferences?token=PREFS&k=1"
	welcomeUnsub = "https://wiedza.example.pl/api/unsubscribe?token=UNSUB"
	welcomeWP    = "https://wiedza.example.pl/api/whitepaper?token=WP"
)

func welcomeContent() WelcomeContent {
	return WelcomeContent{
		PreferencesURL: welcomePrefs,
		UnsubscribeURL: welcomeUnsub,
		Topics: []config.Topic{
			{ID: "rozmowy", Name: "Rozmowy z klientami", Description: "Honorarium, zaległe faktury, trudne wiadomości – jak o nich mówić, żeby współpraca przetrwała."},
			{ID: "pieniadze", Name: "Przepływy pieniężne i płatności", Description: "Gotówka w małej firmie, terminy płatności, odzyskiwanie należności."},
			{ID: "prawo", Name: "Prawo i terminy", Description: "Zmiany w przepisach, KSeF, ulgi i terminy, o których biuro i klient muszą pamiętać."},
		},
		Frequency: "zwykle dwa razy w miesiącu",
		Digest:    "w każdy poniedziałek",
		StartHere: []guide.Guide{
			{Title: "Zobowiąż się do trudnych rozmów z klientami", Description: "Błąd biura w JPK, podwyżka, brakujące dokumenty – jak przestać odkładać trudne rozmowy.",
				Permalink: "https://wiedza.example.pl/poradniki/zobowiaz-sie-do-trudnych-rozmow/", ReadingTime: 8},
			{Title: "Rozmowa o zaległej fakturze krok po kroku", Description: "Od sprawdzenia faktów po wezwanie do zapłaty – jak odzyskać należność i nie stracić klienta.",
				Permalink: "https://wiedza.example.pl/poradniki/rozmowa-o-zaleglej-fakturze/", ReadingTime: 6},
			{Title: "Umowa z klientem biura rachunkowego – lista kontrolna", Description: "Zakres, cennik, indeksacja, umowa powierzenia, OC biura i AML po kolei.",
				Permalink: "https://wiedza.example.pl/poradniki/umowa-z-klientem-lista-kontrolna/", ReadingTime: 11},
		},
	}
}

func TestWelcome(t *testing.T) {
	expires := time.Date(2026, 12, 9, 14, 5, 0, 0, time.UTC)
	tests := []struct {
		name    string
		wp      string
		expires time.Time
		want    []string // in both parts
		wantNot []string // in neither
	}{
		{"without whitepaper", "", time.Time{}, nil,
			[]string{"biała księga", "Pobierz", "ważny do", "/api/whitepaper"}},
		{"whitepaper with expiry", welcomeWP, expires,
			[]string{welcomeWP, "Pobierz białą księgę (PDF)", "Gotówka pod kontrolą", "Link jest ważny do 9 grudnia 2026, godz. 14:05."}, nil},
		{"whitepaper that does not expire", welcomeWP, time.Time{},
			[]string{welcomeWP, "Pobierz białą księgę (PDF)"}, []string{"ważny do"}},
	}
	tpl := newTemplates(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := welcomeContent()
			w.WhitepaperURL, w.WhitepaperExpires = tt.wp, tt.expires
			e := tpl.Welcome(w)
			if e.Subject != "Witaj w newsletterze Saldo" {
				t.Errorf("subject = %q", e.Subject)
			}
			want := append([]string{
				"Dzień dobry!",
				"Dziękujemy za potwierdzenie zapisu",
				"Nowe poradniki wysyłamy zwykle dwa razy w miesiącu",
				"przyjdzie w każdy poniedziałek",
				"Na początek polecamy",
				"Czas czytania: 11 min",
				"ul. Przykładowa 12/3",
			}, tt.want...)
			for _, topic := range w.Topics {
				want = append(want, topic.Name, topic.Description)
			}
			for _, g := range w.StartHere {
				want = append(want, g.Title, g.Permalink, g.Description)
			}
			for part, body := range map[string]string{"HTML": e.HTML, "text": e.Text} {
				for _, s := range want {
					if !strings.Contains(body, s) {
						t.Errorf("%s lacks %q", part, s)
					}
				}
				for _, s := range append([]string{"KBPH", "%recipient.", "Dzień dobry,"}, tt.wantNot...) {
					if strings.Contains(body, s) {
						t.Errorf("%s has %q", part, s)
					}
				}
			}
			// Values go into the HTML escaped, into the text part as they are.
			if !strings.Contains(e.HTML, `href="https://wiedza.example.pl/api/preferences?token=PREFS&amp;k=1"`) {
				t.Error("HTML lacks the preference link (escaped)")
			}
			if !strings.Contains(e.Text, "Ustawienia newslettera: "+welcomePrefs) || !strings.Contains(e.Text, "Wypisz się z newslettera: "+welcomeUnsub) {
				t.Errorf("text footer lacks the preference or unsubscribe link:\n%s", e.Text)
			}
			if e.Headers["List-Unsubscribe"] != "<"+welcomeUnsub+">" || e.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
				t.Errorf("headers = %v", e.Headers)
			}
		})
	}
}

// TestWelcomeWithoutOptionalContent: empty settings leave no dangling
// sentence or empty list.
func TestWelcomeWithoutOptionalContent(t *testing.T) {
	e := newTemplates(t).Welcome(WelcomeContent{PreferencesURL: welcomePrefs, UnsubscribeURL: welcomeUnsub})
	for _, bad := range []string{"<ul", "Na początek polecamy", "przyjdzie", "wysyłamy ,", "<p></p>", "<li></li>"} {
		if strings.Contains(e.HTML, bad) {
			t.Errorf("HTML has %q", bad)
		}
	}
	for _, want := range []string{"każdy nowy poradnik", "Każdy poradnik trafi do ciebie w osobnym e-mailu.", "wybierzesz przegląd poradników."} {
		if !strings.Contains(e.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, e.Text)
		}
	}
}

// TestWelcomeKeepsRecipientsApart: the prepared email is cached, so one
// subscriber's links must never show up in another's email.
func TestWelcomeKeepsRecipientsApart(t *testing.T) {
	tpl := newTemplates(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			w := welcomeContent()
			w.PreferencesURL = fmt.Sprintf("https://wiedza.example.pl/api/preferences?token=p%03d", i)
			w.UnsubscribeURL = fmt.Sprintf("https://wiedza.example.pl/api/unsubscribe?token=u%03d", i)
			if i%2 == 0 {
				w.WhitepaperURL = fmt.Sprintf("https://wiedza.example.pl/api/whitepaper?token=w%03d", i)
			}
			e := tpl.Welcome(w)
			all := e.HTML + e.Text
			for _, tok := range []string{"token=p", "token=u", "token=w"} {
				for j := 0; ; j++ {
					k := strings.Index(all[j:], tok)
					if k < 0 {
						break
					}
					j += k
					if got := all[j+len(tok) : j+len(tok)+3]; got != fmt.Sprintf("%03d", i) {
						errs <- fmt.Errorf("email %d carries %s%s", i, tok, got)
						return
					}
				}
			}
			if (i%2 == 0) != strings.Contains(all, "token=w") {
				errs <- fmt.Errorf("email %d: whitepaper link present = %t", i, !(i%2 == 0))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestWelcomeResolvesRelativePermalinks(t *testing.T) {
	w := welcomeContent()
	w.StartHere = []guide.Guide{{Title: "Poradnik", Permalink: "/poradniki/x/"}}
	e := newTemplates(t).Welcome(w)
	if !strings.Contains(e.HTML, `href="https://wiedza.example.pl/poradniki/x/"`) {
		t.Error("a root-relative start-here link was not made absolute")
	}
}

func TestShortName(t *testing.T) {
	tests := []struct {
		site Site
		want string
	}{
		{Site{Title: "Saldo · Wiedza dla księgowych i ich klientów", ShortName: "Saldo"}, "Saldo"},
		{Site{Title: "Saldo · Wiedza dla księgowych i ich klientów"}, "Saldo"},
		{Site{Title: "Wiedza", ShortName: "Biuro Saldo"}, "Biuro Saldo"},
		{Site{Title: "Wiedza"}, "Wiedza"},
	}
	for _, tt := range tests {
		if got := tt.site.shortName(); got != tt.want {
			t.Errorf("%+v: shortName = %q, want %q", tt.site, got, tt.want)
		}
	}
}
