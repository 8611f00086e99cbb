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
