package config

import (
	"fmt"
	"strings"
)

// Mail transports KB_MAIL may name. Unset means "Mailgun when
// MAILGUN_API_KEY is set, the outbox otherwise".
const (
	MailOutbox  = "outbox"
	MailMailgun = "mailgun"
)

// parseMail reads KB_MAIL.
func parseMail(s string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "", MailMailgun, MailOutbox:
		return v, nil
	default:
		return "", fmt.Errorf("KB_MAIL %q: want outbox (the .eml outbox in $KB_DATA/outbox) or mailgun", s)
	}
}

// UsesMailgun reports whether emails go through Mailgun: KB_MAIL=mailgun,
// or MAILGUN_API_KEY set without KB_MAIL=outbox.
func (e Env) UsesMailgun() bool {
	return e.Mail != MailOutbox && e.MailgunAPIKey != ""
}

// SettingError is a setting production refuses to run without; the message
// names the variable, so the operator knows what to set.
type SettingError struct {
	Var string
	Msg string
}

func (e *SettingError) Error() string { return e.Var + " " + e.Msg }

// RequireSecret refuses the development secret and short secrets, for
// commands whose links go out to real people (why says which).
func (e Env) RequireSecret(why string) error {
	switch {
	case e.Secret == "":
		return &SettingError{Var: "KB_SECRET", Msg: fmt.Sprintf("is not set: %s signs links in emails that must "+
			"survive restarts and work on every instance; set it to %d+ random characters (openssl rand -hex 32)", why, minSecretLen)}
	case len(e.Secret) < minSecretLen:
		return &SettingError{Var: "KB_SECRET", Msg: fmt.Sprintf("is too short: %d characters, %s needs at least %d "+
			"random characters (openssl rand -hex 32)", len(e.Secret), why, minSecretLen)}
	}
	return nil
}

// RequireMail refuses to serve a public site whose emails would silently
// pile up in the outbox: Mailgun must be configured, or KB_MAIL=outbox
// must say that the outbox is meant.
func (e Env) RequireMail(why string) error {
	if e.UsesMailgun() || e.Mail == MailOutbox {
		return nil
	}
	return &SettingError{Var: "MAILGUN_API_KEY", Msg: fmt.Sprintf("is not set: %s would write every email to "+
		"$KB_DATA/outbox instead of sending it; set MAILGUN_API_KEY and MAILGUN_DOMAIN, or KB_MAIL=outbox "+
		"if the outbox is what you want", why)}
}
