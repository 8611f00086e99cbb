package mailaddr

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"jan@example.pl", "jan@example.pl", nil},
		{"  Jan.Kowalski@Example.PL \n", "Jan.Kowalski@example.pl", nil},
		{"a+tag@sub.example.com", "a+tag@sub.example.com", nil},
		{"", "", ErrEmpty},
		{"   ", "", ErrEmpty},
		{"Jan <jan@example.pl>", "", ErrInvalid},
		{"<jan@example.pl>", "", ErrInvalid},
		{"jan@localhost", "", ErrNoDotTLD},
		{"jan@example..pl", "", ErrInvalid},
		{"jan@.example.pl", "", ErrInvalid},
		{"jan@example.pl.", "", ErrInvalid},
		{"jan@-example.pl", "", ErrInvalid},
		{"jan@[127.0.0.1]", "", ErrInvalid},
		{"jan", "", ErrInvalid},
		{"jan@@example.pl", "", ErrInvalid},
		{"jan@exa mple.pl", "", ErrInvalid},
		{"jan@example.pl\r\nBcc: x@example.pl", "", ErrControl},
		{"ja\x00n@example.pl", "", ErrControl},
		{"jan\xff@example.pl", "", ErrControl},
		{strings.Repeat("a", 250) + "@example.pl", "", ErrTooLong},
		{"(comment)jan@example.pl", "", ErrInvalid},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestKeyIgnoresCase(t *testing.T) {
	a, _ := Parse("Jan@Example.pl")
	b, _ := Parse("jan@EXAMPLE.PL")
	if Key(a) != Key(b) {
		t.Fatalf("Key(%q) != Key(%q)", a, b)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"jan@example.pl", "a@b.c", "\"q\"@x.pl", "x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		if len(got) > MaxLen || strings.ContainsAny(got, "\r\n<>") {
			t.Fatalf("Parse(%q) accepted %q", s, got)
		}
		if again, err := Parse(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
	})
}

func TestMailbox(t *testing.T) {
	tests := []struct {
		name string
		in   []string // every spelling lands in one inbox
		want string
	}{
		{"case", []string{"Ofiara@Example.pl", "ofiara@example.pl", "OFIARA@EXAMPLE.PL"}, "ofiara@example.pl"},
		{"plus tag on any domain", []string{"ofiara+1@example.pl", "ofiara+news+x@example.pl", "ofiara@example.pl"}, "ofiara@example.pl"},
		{"gmail dots and googlemail", []string{"jan.kowalski@gmail.com", "JanKowalski+news@gmail.com", "j.a.n.kowalski@googlemail.com"}, "jankowalski@gmail.com"},
		{"dots kept elsewhere", []string{"jan.kowalski@example.pl"}, "jan.kowalski@example.pl"},
		{"IDN domain", []string{"jan@żółw.pl", "jan@xn--w-uga1v8h.pl", "Jan+a@ŻÓŁW.pl"}, "jan@xn--w-uga1v8h.pl"},
		{"leading plus is not a tag", []string{"+tag@example.pl"}, "+tag@example.pl"},
	}
	for _, tt := range tests {
		for _, in := range tt.in {
			addr, err := Parse(in)
			if err != nil {
				t.Fatalf("%s: Parse(%q): %v", tt.name, in, err)
			}
			if got := Mailbox(addr); got != tt.want {
				t.Errorf("%s: Mailbox(%q) = %q, want %q", tt.name, in, got, tt.want)
			}
		}
	}
}

func TestMailboxKeepsDifferentPeopleApart(t *testing.T) {
	pairs := [][2]string{
		{"jan.kowalski@example.pl", "jankowalski@example.pl"}, // dots matter outside Gmail
		{"jan@example.pl", "jan@example.com"},
		{"jan1@gmail.com", "jan@gmail.com"},
	}
	for _, p := range pairs {
		if Mailbox(p[0]) == Mailbox(p[1]) {
			t.Errorf("Mailbox(%q) == Mailbox(%q)", p[0], p[1])
		}
	}
}

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{
		"a@Example.PL":        "example.pl",
		"a@googlemail.com":    "gmail.com",
		"a@żółw.pl":           "xn--w-uga1v8h.pl",
		"a@sub.Example.co.uk": "sub.example.co.uk",
	} {
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
}
