package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kbpress/kb/internal/mailaddr"
)

// Limits of the signup input.
const (
	maxSubscribeBody = 16 << 10 // bytes, form or JSON
	maxNameRunes     = 100
	maxSourceLen     = 200 // bytes of the page path
)

// Media types /api/subscribe accepts.
const (
	mediaForm = "application/x-www-form-urlencoded"
	mediaJSON = "application/json"
)

// signupInput is a signup that passed validation.
type signupInput struct {
	Email      string // normalised by mailaddr.Parse
	Name       string // trimmed, at most maxNameRunes
	Whitepaper bool
	Source     string // a site path or ""
	// Honeypot is set when the hidden field was filled: the request is
	// answered like a signup and otherwise ignored. The other fields are
	// then not validated.
	Honeypot bool
}

// formValues are what the reader sent, to show the form again.
type formValues struct {
	Email, Name, Source string
	Consent, Whitepaper bool
}

// inputError refuses a signup: status 400 for input no form can produce
// (bad encoding, malformed JSON), 422 for fields to correct.
type inputError struct {
	status  int
	message string
	fields  map[string]string // by field: email, name, consent
}

func (e *inputError) Error() string { return e.message }

func badRequest(msg string) *inputError {
	return &inputError{status: http.StatusBadRequest, message: msg}
}

// rawSignup is the input before validation.
type rawSignup struct {
	email, name, website, source string
	consent, whitepaper          bool
	// other holds the remaining form values, checked for control characters.
	other []string
}

// parseSubscribe decodes and validates a signup body of mediaType (already
// known to be one of mediaForm and mediaJSON). It is pure, for fuzzing.
func parseSubscribe(mediaType string, body []byte) (signupInput, formValues, *inputError) {
	var (
		raw  rawSignup
		ierr *inputError
	)
	switch mediaType {
	case mediaForm:
		raw, ierr = decodeForm(body)
	case mediaJSON:
		raw, ierr = decodeJSON(body)
	default:
		ierr = &inputError{status: http.StatusUnsupportedMediaType, message: msgMediaType}
	}
	if ierr != nil {
		return signupInput{}, formValues{}, ierr
	}
	vals := formValues{
		Email: printable(raw.email), Name: printable(raw.name), Source: sanitizeSource(raw.source),
		Consent: raw.consent, Whitepaper: raw.whitepaper,
	}
	if strings.TrimSpace(raw.website) != "" {
		return signupInput{Honeypot: true}, vals, nil
	}
	if hasControl(raw.source) || hasControl(raw.website) { // website: blank but not empty
		return signupInput{}, vals, badRequest(msgFieldControl)
	}
	for _, v := range raw.other {
		if hasControl(v) {
			return signupInput{}, vals, badRequest(msgFieldControl)
		}
	}

	fields := map[string]string{}
	email, err := parseEmail(raw.email)
	if err != nil {
		fields["email"] = err.Error()
	}
	name := strings.TrimSpace(raw.name)
	switch {
	case hasControl(raw.name):
		fields["name"] = msgNameControl
	case utf8.RuneCountInString(name) > maxNameRunes:
		fields["name"] = msgNameTooLong
	case !validName(name):
		fields["name"] = msgNameChars
	}
	if !raw.consent {
		fields["consent"] = msgConsent
	}
	if len(fields) > 0 {
		return signupInput{}, vals, &inputError{status: http.StatusUnprocessableEntity, message: msgSignupFields, fields: fields}
	}
	return signupInput{Email: email, Name: name, Whitepaper: raw.whitepaper, Source: vals.Source}, vals, nil
}

// validName accepts what a person's name is made of, in any script:
// letters (with combining marks), spaces, apostrophes, hyphens and dots,
// and at least one letter. Anything else (digits, "@", ":" and "/" of a
// link, bidi and other format characters) has no place in a name and is how
// the form would be used to put a message in front of a stranger.
func validName(name string) bool {
	if name == "" {
		return true // the field is optional
	}
	letters := 0
	for _, r := range name {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r):
		case r == ' ', r == '\'', r == '’', r == 'ʼ', r == '-', r == '‐', r == '.':
		default:
			return false
		}
	}
	return letters > 0
}

// parseEmail validates an address and returns it normalised, or an error
// whose text is the Polish message for the reader.
func parseEmail(s string) (string, error) {
	if hasControl(s) {
		// Checked before mailaddr trims the ends: "a@b.pl\r\n" is an
		// injection attempt, not a typo.
		return "", errors.New(msgEmailControl)
	}
	email, err := mailaddr.Parse(s)
	switch {
	case err == nil:
		return email, nil
	case errors.Is(err, mailaddr.ErrEmpty):
		return "", errors.New(msgEmailEmpty)
	case errors.Is(err, mailaddr.ErrTooLong):
		return "", errors.New(msgEmailTooLong)
	case errors.Is(err, mailaddr.ErrControl):
		return "", errors.New(msgEmailControl)
	case errors.Is(err, mailaddr.ErrNoDotTLD):
		return "", errors.New(msgEmailNoDot)
	default:
		return "", errors.New(msgEmailInvalid)
	}
}

func decodeForm(body []byte) (rawSignup, *inputError) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return rawSignup{}, badRequest(msgBadForm)
	}
	var raw rawSignup
	for k, vs := range vals {
		if !utf8.ValidString(k) {
			return rawSignup{}, badRequest(msgBadEncoding)
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return rawSignup{}, badRequest(msgBadEncoding)
			}
		}
		switch k {
		case "email", "name", "website", "source":
			// The first value counts, as with url.Values.Get; the rest
			// are still checked.
			raw.other = append(raw.other, vs[1:]...)
		default:
			raw.other = append(raw.other, vs...)
		}
	}
	raw.email, raw.name = vals.Get("email"), vals.Get("name")
	raw.website, raw.source = vals.Get("website"), vals.Get("source")
	raw.consent, raw.whitepaper = truthy(vals.Get("consent")), truthy(vals.Get("whitepaper"))
	return raw, nil
}

// jsonSignup is the body signup.js sends. Fields are decoded one by one
// for a message that names the one with the wrong type; unknown fields are
// ignored (a newer script may send more).
type jsonSignup struct {
	Email      json.RawMessage `json:"email"`
	Name       json.RawMessage `json:"name"`
	Consent    json.RawMessage `json:"consent"`
	Whitepaper json.RawMessage `json:"whitepaper"`
	Website    json.RawMessage `json:"website"`
	Source     json.RawMessage `json:"source"`
}

func decodeJSON(body []byte) (rawSignup, *inputError) {
	if !utf8.Valid(body) {
		// encoding/json would quietly turn bad bytes into U+FFFD.
		return rawSignup{}, badRequest(msgBadEncoding)
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return rawSignup{}, badRequest(msgBadJSON)
	}
	var js jsonSignup
	if err := json.Unmarshal(body, &js); err != nil {
		return rawSignup{}, badRequest(msgBadJSON)
	}
	var (
		raw rawSignup
		err error
	)
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{{"email", js.Email, &raw.email}, {"name", js.Name, &raw.name}, {"website", js.Website, &raw.website}, {"source", js.Source, &raw.source}} {
		if *f.dst, err = jsonString(f.raw); err != nil {
			return rawSignup{}, badRequest(fmt.Sprintf(msgBadJSONType, f.name))
		}
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *bool
	}{{"consent", js.Consent, &raw.consent}, {"whitepaper", js.Whitepaper, &raw.whitepaper}} {
		*f.dst, err = jsonFlag(f.raw)
		switch {
		case errors.Is(err, errControl):
			return rawSignup{}, badRequest(msgFieldControl)
		case err != nil:
			return rawSignup{}, badRequest(fmt.Sprintf(msgBadJSONType, f.name))
		}
	}
	return raw, nil
}

var (
	errJSONType = errors.New("wrong JSON type")
	errControl  = errors.New("control characters")
)

// jsonString accepts a string or null (absent).
func jsonString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] != '"' {
		return "", errJSONType
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errJSONType
	}
	return s, nil
}

// jsonFlag accepts a boolean, a string form value ("on", "yes"…) or null.
func jsonFlag(raw json.RawMessage) (bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	switch raw[0] {
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return false, errJSONType
		}
		return b, nil
	case '"':
		s, err := jsonString(raw)
		if err != nil {
			return false, errJSONType
		}
		if hasControl(s) {
			return false, errControl
		}
		return truthy(s), nil
	}
	return false, errJSONType
}

// truthy reads a checkbox value: the site's form sends "yes"; browsers'
// default is "on".
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "yes", "true", "1":
		return true
	}
	return false
}

// hasControl reports control characters, including the Unicode line and
// paragraph separators that some mail clients and log viewers treat as
// line breaks.
func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}) >= 0
}

// printable drops control characters from a value shown back to the reader.
func printable(s string) string {
	if !hasControl(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
}

// sanitizeSource keeps the page path the form was on when it is a plain
// site path, and "" otherwise: it is consent evidence, not a place to
// store whatever a client sends.
func sanitizeSource(s string) string {
	if s == "" || len(s) > maxSourceLen || hasControl(s) || !strings.HasPrefix(s, "/") ||
		strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return s
}
