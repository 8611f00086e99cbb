// Package mailaddr validates and normalises subscribers' email addresses, so
// the form, the importer and the store agree on what one address is.
package mailaddr

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxLen is the longest address accepted (RFC 5321 path limit minus brackets).
const MaxLen = 254

// Errors returned by Parse; callers map them to messages for readers.
var (
	ErrEmpty    = errors.New("mailaddr: empty address")
	ErrTooLong  = errors.New("mailaddr: address longer than 254 characters")
	ErrControl  = errors.New("mailaddr: control characters in address")
	ErrInvalid  = errors.New("mailaddr: not a valid address")
	ErrNoDotTLD = errors.New("mailaddr: domain has no dot")
)

// Parse returns addr trimmed, validated as a bare RFC 5322 addr-spec (no
// display name) with a dotted domain, and with the domain lower-cased. The
// local part keeps its case: it is the mailbox owner's to define.
func Parse(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	switch {
	case addr == "":
		return "", ErrEmpty
	case len(addr) > MaxLen:
		return "", ErrTooLong
	case !utf8.ValidString(addr) || strings.IndexFunc(addr, unicode.IsControl) >= 0:
		return "", ErrControl
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil || parsed.Name != "" || parsed.Address != addr {
		// A differing Address means the input had a display name, angle
		// brackets, comments or quoting that we do not store.
		return "", ErrInvalid
	}
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	if strings.HasPrefix(domain, "[") {
		return "", ErrInvalid // address literals are not deliverable in practice
	}
	if !strings.Contains(domain, ".") {
		return "", ErrNoDotTLD
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", ErrInvalid
		}
	}
	return local + "@" + strings.ToLower(domain), nil
}

// Key is the form used to decide whether two addresses are the same
// subscriber: case-insensitive as a whole, because virtually every provider
// treats local parts that way and readers type them inconsistently.
func Key(normalised string) string {
	return strings.ToLower(normalised)
}

// Mailbox is the inbox an address delivers to, as far as can be told from
// outside: the key that limits how much mail the signup form can send to
// one person however they (or an attacker) spell the address. It folds
// letter case, a "+tag" suffix of the local part (every domain: the common
// subaddressing convention), dots in the local part at Gmail (which ignores
// them, and treats googlemail.com as gmail.com), and the Unicode form of
// the domain into its IDNA ASCII form. It is for counting, never for
// sending: the address is stored and mailed as typed.
func Mailbox(normalised string) string {
	at := strings.LastIndexByte(normalised, '@')
	if at < 0 {
		return strings.ToLower(normalised)
	}
	local, domain := strings.ToLower(normalised[:at]), Domain(normalised)
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}

// Domain is the recipient domain of an address for per-domain limits: lower
// case, IDNA ASCII form, googlemail.com counted as gmail.com.
func Domain(normalised string) string {
	domain := strings.ToLower(normalised[strings.LastIndexByte(normalised, '@')+1:])
	if ascii, err := idna.Lookup.ToASCII(domain); err == nil {
		domain = ascii
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	return domain
}
