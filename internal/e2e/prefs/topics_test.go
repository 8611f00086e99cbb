package prefs

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// TestTopicsChooseTheGuides: readers who chose topics on the preference
// page get the guides on those topics and the guides for everyone, and no
// other — each guide as it is sent, or listed in their digest. The digest
// lists each reader's guides newest first, each with its title,
// description, reading time and link; a second kb send --digest, and
// another kb send, then send nothing.
func TestTopicsChooseTheGuides(t *testing.T) {
	first, _ := builds(t)
	k := start(t, first)
	tests := []struct {
		name, address, frequency string
		topics                   []string
		want                     []string // the guides they get, newest first
	}{
		{"each/rozmowy", "rozmowy@example.pl", "each", []string{"rozmowy"},
			[]string{"porzadek-w-dokumentach", "rozmowa-o-cenie-uslug"}},
		{"each/pieniadze", "pieniadze@example.pl", "each", []string{"pieniadze"},
			[]string{"porzadek-w-dokumentach", "bufor-gotowki-na-podatki"}},
		{"each/every topic", "wszystko@example.pl", "each", []string{"rozmowy", "pieniadze", "prawo"},
			[]string{"porzadek-w-dokumentach", "kalendarz-terminow-na-kwartal", "bufor-gotowki-na-podatki", "rozmowa-o-cenie-uslug"}},
		{"digest/rozmowy and prawo", "przeglad-rozmowy-prawo@example.pl", "digest", []string{"rozmowy", "prawo"},
			[]string{"porzadek-w-dokumentach", "kalendarz-terminow-na-kwartal", "rozmowa-o-cenie-uslug"}},
		{"digest/pieniadze", "przeglad-pieniadze@example.pl", "digest", []string{"pieniadze"},
			[]string{"porzadek-w-dokumentach", "bufor-gotowki-na-podatki"}},
	}
	var addresses []string
	for _, tt := range tests {
		addresses = append(addresses, tt.address)
	}
	readers := k.join(t, false, addresses...)
	for i, tt := range tests {
		k.choose(t, readers[i].prefs, tt.frequency, tt.topics...)
	}
	k.send(t, first)
	k.send(t, first, "--digest")

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := k.newsletters(t, tt.address)
			if tt.frequency == "each" {
				var tags []string
				for _, e := range got {
					checkPersonal(t, e)
					tags = append(tags, e.Tag)
				}
				slices.Sort(tags)
				if want := slices.Sorted(slices.Values(tt.want)); !slices.Equal(tags, want) {
					t.Errorf("got the newsletters %v, want %v (each once, no digest)", tags, want)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0].Tag, "digest-") {
				t.Fatalf("got %d emails (%v), want one digest", len(got), tagsOf(got))
			}
			checkDigest(t, first, got[0], tt.want)
		})
	}

	before := len(kbproc.ReadOutbox(t, k.srv.Outbox))
	k.send(t, first, "--digest")
	k.send(t, first)
	if after := len(kbproc.ReadOutbox(t, k.srv.Outbox)); after != before {
		t.Errorf("kb send --digest and kb send with nothing new wrote %d more emails", after-before)
	}
}

// newsletters are the emails to address other than the confirmation and
// the welcome: the guides and digests kb send sent.
func (k *kb) newsletters(t *testing.T, address string) []kbproc.Email {
	t.Helper()
	var out []kbproc.Email
	for _, e := range k.emails(t, address) {
		if e.Tag != "kb-confirm" && e.Tag != "kb-welcome" {
			out = append(out, e)
		}
	}
	return out
}

func tagsOf(emails []kbproc.Email) []string {
	tags := make([]string, len(emails))
	for i, e := range emails {
		tags[i] = e.Tag
	}
	return tags
}

// checkPersonal checks that a newsletter or digest was filled in for its
// reader: no recipient variable left, their preference link in the text
// and the one-click unsubscribe link in List-Unsubscribe.
func checkPersonal(t *testing.T, e kbproc.Email) {
	t.Helper()
	if strings.Contains(e.Text, "%recipient.") {
		t.Errorf("%s (%s): a recipient variable is left unfilled:\n%s", e.Tag, e.To, e.Text)
	}
	e.TokenPath(t, "/api/preferences")
	if !strings.HasPrefix(e.Unsub, baseURL+"api/unsubscribe?token=") {
		t.Errorf("%s (%s): List-Unsubscribe is %q, want the one-click unsubscribe link", e.Tag, e.To, e.Unsub)
	}
}

// checkDigest checks a digest email: personal, it lists exactly the
// guides want in that order (newest first), each with its title,
// description, reading time and link.
func checkDigest(t *testing.T, s stage, e kbproc.Email, want []string) {
	t.Helper()
	checkPersonal(t, e)
	if !strings.HasPrefix(e.Subject, fmt.Sprint(len(want))+" ") {
		t.Errorf("digest subject %q does not count its %d guides", e.Subject, len(want))
	}
	// The guides it links to, in the order it first links to them.
	type listed struct {
		at int
		g  builtGuide
	}
	var found []listed
	for _, g := range s.guides {
		if at := strings.Index(e.Text, g.Permalink); at >= 0 {
			found = append(found, listed{at, g})
		}
	}
	slices.SortFunc(found, func(a, b listed) int { return cmp.Compare(a.at, b.at) })
	var slugs []string
	for _, f := range found {
		slugs = append(slugs, f.g.Slug)
	}
	if !slices.Equal(slugs, want) {
		t.Fatalf("the digest to %s lists %v, want %v (newest first):\n%s", e.To, slugs, want, e.Text)
	}
	// Each guide's entry runs from its title to the next guide's title.
	for i, slug := range want {
		g := s.guide(t, slug)
		from := strings.Index(e.Text, g.Title)
		to := len(e.Text)
		if i+1 < len(want) {
			to = strings.Index(e.Text, s.guide(t, want[i+1]).Title)
		}
		if from < 0 || to < from {
			t.Errorf("the digest to %s has no entry titled %q before the next one:\n%s", e.To, g.Title, e.Text)
			continue
		}
		entry := e.Text[from:to]
		for _, part := range []string{g.Description, fmt.Sprintf("Czas czytania: %d min", g.ReadingTime), g.Permalink} {
			if !strings.Contains(entry, part) {
				t.Errorf("the digest's entry for %s lacks %q:\n%s", slug, part, entry)
			}
		}
	}
}
