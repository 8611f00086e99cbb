// Package config reads the firm's settings from config.toml ([params], the
// same file Hugo reads) and the runtime settings from the environment.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// FileName is the site configuration file at the repository root.
const FileName = "config.toml"

// Config is everything kb needs to know about the site and its environment.
type Config struct {
	// Root is the Hugo site directory (where config.toml lives).
	Root string

	BaseURL string
	Title   string
	// Locale is the site's BCP 47 locale, e.g. pl-PL (Hugo's locale, or
	// its older name languageCode).
	Locale string
	Params Params
	Env    Env
}

// Params mirrors [params] in config.toml.
type Params struct {
	Description string           `toml:"description"`
	Firm        Firm             `toml:"firm"`
	Mail        MailParams       `toml:"mail"`
	Whitepaper  WhitepaperParams `toml:"whitepaper"`
	Newsletter  NewsletterParams `toml:"newsletter"`
	Signup      SignupParams     `toml:"signup"`
}

// Firm describes the publisher; its postal address goes into every email.
// The registry details are what art. 206 k.s.h. requires of a sp. z o.o. on
// its website and in its correspondence; each is optional, but a set one
// must be well-formed, since it is printed on every page and email.
type Firm struct {
	Name          string `toml:"name"`
	ShortName     string `toml:"short_name"`
	Address       string `toml:"address"`
	Email         string `toml:"email"`
	Phone         string `toml:"phone"`
	PrivacyEmail  string `toml:"privacy_email"`
	RegistryCourt string `toml:"registry_court"`
	KRS           string `toml:"krs"`
	NIP           string `toml:"nip"`
	REGON         string `toml:"regon"`
	ShareCapital  string `toml:"share_capital"`
}

// MailParams is the sender identity of every email.
type MailParams struct {
	FromName    string `toml:"from_name"`
	FromAddress string `toml:"from_address"`
	ReplyTo     string `toml:"reply_to"`
}

// From formats the sender as an RFC 5322 mailbox (the name RFC 2047-encoded
// when it is not ASCII).
func (m MailParams) From() string {
	return (&mail.Address{Name: m.FromName, Address: m.FromAddress}).String()
}

// WhitepaperParams says where the whitepaper source is and whether it is gated.
type WhitepaperParams struct {
	Source string `toml:"source"`
	Gated  bool   `toml:"gated"`
}

// NewsletterParams controls which guides are sent and how.
type NewsletterParams struct {
	Since            time.Time `toml:"-"`
	FullTextMaxWords int       `toml:"full_text_max_words"`
	// Frequency says how often a guide goes out, in the readers' words
	// (the newsletter page, the welcome email).
	Frequency string `toml:"frequency"`
	// Topics readers choose from; a guide without topics goes to everyone.
	Topics []Topic `toml:"topics"`
	// Digest is when readers who chose the digest get it.
	Digest Digest `toml:"digest"`
	// Welcome lists the slugs of the guides the welcome email suggests to
	// start with (3–5; kb build fails on one that is not a guide).
	Welcome []string `toml:"welcome"`
	// Tracking counts Mailgun's open and click events per campaign (only
	// the totals). Off by default: tracking readers needs their consent.
	Tracking bool `toml:"tracking"`
}

// SignupParams controls the signup form's consent and cross-origin use.
type SignupParams struct {
	ConsentVersion string   `toml:"consent_version"`
	AllowedOrigins []string `toml:"allowed_origins"`
}

// Env holds the settings that come from the environment.
type Env struct {
	// DataDir holds the SQLite database, the outbox and the development secret.
	DataDir string
	// Secret signs every link in emails (KB_SECRET). Empty means "generate a
	// development secret into DataDir" (see LoadSecret).
	Secret string
	// DatabaseURL selects the store: empty or sqlite:PATH, or postgres://…
	DatabaseURL string
	// DatabaseMaxConns caps the PostgreSQL connections of this process
	// (KB_DATABASE_MAX_CONNS); 0 means the store's default.
	DatabaseMaxConns int
	// SignupRate is the per-IP limit on /api/subscribe, e.g. "10/min", or "off".
	SignupRate     Rate
	TrustedProxies []netip.Prefix
	// SecretPrevious are retired secrets still accepted on links already
	// mailed (KB_SECRET_PREVIOUS, comma-separated); see signup.go.
	SecretPrevious []string
	// ConfirmCapDomain and ConfirmCapTotal cap the confirmation emails per
	// hour to one recipient domain and in total (KB_CONFIRM_CAP_DOMAIN,
	// KB_CONFIRM_CAP_TOTAL; 0: no cap).
	ConfirmCapDomain int
	ConfirmCapTotal  int

	MailgunAPIKey            string
	MailgunDomain            string
	MailgunAPIBase           string
	MailgunWebhookSigningKey string

	// Mail is KB_MAIL (safe defaults; see production.go):
	// MailOutbox forces the .eml outbox, MailMailgun requires Mailgun, ""
	// picks Mailgun when MAILGUN_API_KEY is set.
	Mail string
}

// Rate is a number of events per period; the zero Rate means unlimited.
type Rate struct {
	Events int
	Per    time.Duration
}

// Unlimited reports whether no limit applies.
func (r Rate) Unlimited() bool { return r.Events == 0 }

func (r Rate) String() string {
	if r.Unlimited() {
		return "off"
	}
	return fmt.Sprintf("%d/%s", r.Events, r.Per)
}

// DefaultSignupRate is generous for people and tight for scripts.
var DefaultSignupRate = Rate{Events: 10, Per: time.Minute}

// Load reads root/config.toml and the environment through getenv.
func Load(root string, getenv func(string) string) (*Config, error) {
	path := filepath.Join(root, FileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read site config: %w", err)
	}
	var file struct {
		BaseURL      string `toml:"baseURL"`
		Title        string `toml:"title"`
		Locale       string `toml:"locale"`
		LanguageCode string `toml:"languageCode"`
		Params       struct {
			Params
			Newsletter struct {
				NewsletterParams
				Since toml.LocalDate `toml:"since"`
			} `toml:"newsletter"`
		} `toml:"params"`
	}
	if err := toml.Unmarshal(raw, &file); err != nil {
		var derr *toml.DecodeError
		if errors.As(err, &derr) {
			row, col := derr.Position()
			return nil, fmt.Errorf("%s:%d:%d: %w", path, row, col, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg := &Config{
		Root:    root,
		BaseURL: file.BaseURL,
		Title:   file.Title,
		Locale:  cmp.Or(file.Locale, file.LanguageCode, "pl-PL"),
		Params:  file.Params.Params,
	}
	cfg.Params.Newsletter = file.Params.Newsletter.NewsletterParams
	if d := file.Params.Newsletter.Since; d.Year != 0 {
		cfg.Params.Newsletter.Since = time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Params.Newsletter.FullTextMaxWords <= 0 {
		cfg.Params.Newsletter.FullTextMaxWords = 1200
	}
	if cfg.Params.Signup.ConsentVersion == "" {
		cfg.Params.Signup.ConsentVersion = "1"
	}
	if cfg.Env, err = loadEnv(getenv); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func (c *Config) validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("baseURL %q must be an absolute URL", c.BaseURL)
	}
	if c.Params.Mail.FromAddress == "" {
		return errors.New("params.mail.from_address is required")
	}
	if c.Params.Firm.Name == "" || c.Params.Firm.Address == "" {
		return errors.New("params.firm.name and params.firm.address are required (every email carries the postal address)")
	}
	if err := c.Params.Firm.validate(); err != nil {
		return err
	}
	if err := c.Params.Newsletter.validate(); err != nil {
		return err
	}
	for _, o := range c.Params.Signup.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			return fmt.Errorf("params.signup.allowed_origins: %q is not an origin like https://example.pl", o)
		}
	}
	return nil
}

// validate checks the registry numbers' form and check digits, so that a
// typo does not reach every page and email.
func (f Firm) validate() error {
	if f.KRS != "" && !allDigits(f.KRS, 10) {
		return fmt.Errorf("params.firm.krs %q must be 10 digits, e.g. 0000123456", f.KRS)
	}
	if f.NIP != "" && !checksumOK(f.NIP, []int{6, 5, 7, 2, 3, 4, 5, 6, 7}, false) {
		return fmt.Errorf("params.firm.nip %q is not a valid NIP (10 digits, hyphens allowed, check digit)", f.NIP)
	}
	if f.REGON != "" && !checksumOK(f.REGON, []int{8, 9, 2, 3, 4, 5, 6, 7}, true) &&
		!checksumOK(f.REGON, []int{2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8}, true) {
		return fmt.Errorf("params.firm.regon %q is not a valid REGON (9 or 14 digits, check digit)", f.REGON)
	}
	return nil
}

func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// checksumOK reports whether s (hyphens and spaces ignored) has one digit
// per weight plus a check digit equal to the weighted sum mod 11. A sum of
// 10 makes a NIP invalid; a REGON (tenIsZero) takes 0 as its check digit.
func checksumOK(s string, weights []int, tenIsZero bool) bool {
	digits := strings.NewReplacer("-", "", " ", "").Replace(s)
	if !allDigits(digits, len(weights)+1) {
		return false
	}
	sum := 0
	for i, w := range weights {
		sum += w * int(digits[i]-'0')
	}
	check := sum % 11
	if check == 10 {
		if !tenIsZero {
			return false
		}
		check = 0
	}
	return check == int(digits[len(weights)]-'0')
}

// MailgunRegion is where Mailgun stores the messages, by the API base the
// firm chose: "eu" for Mailgun's EU endpoint, otherwise "us" (Mailgun's
// default). The privacy notice names the region, so the site is built
// with it.
func (e Env) MailgunRegion() string {
	if u, err := url.Parse(e.MailgunAPIBase); err == nil && strings.EqualFold(u.Hostname(), "api.eu.mailgun.net") {
		return "eu"
	}
	return "us"
}

// WithBaseURL returns a copy of c that publishes under baseURL, e.g. a local
// address for `kb serve`.
func (c *Config) WithBaseURL(baseURL string) (*Config, error) {
	cp := *c
	if !strings.HasSuffix(baseURL, "/") {
		baseURL += "/"
	}
	cp.BaseURL = baseURL
	if err := cp.validate(); err != nil {
		return nil, err
	}
	return &cp, nil
}

// AbsURL resolves a site path such as "/api/confirm" against the base URL.
func (c *Config) AbsURL(path string) string {
	return strings.TrimSuffix(c.BaseURL, "/") + "/" + strings.TrimPrefix(path, "/")
}

func loadEnv(getenv func(string) string) (Env, error) {
	env := Env{
		DataDir:                  getenv("KB_DATA"),
		Secret:                   getenv("KB_SECRET"),
		DatabaseURL:              getenv("KB_DATABASE_URL"),
		MailgunAPIKey:            getenv("MAILGUN_API_KEY"),
		MailgunDomain:            getenv("MAILGUN_DOMAIN"),
		MailgunAPIBase:           getenv("MAILGUN_API_BASE"),
		MailgunWebhookSigningKey: getenv("MAILGUN_WEBHOOK_SIGNING_KEY"),
		SignupRate:               DefaultSignupRate,
	}
	if env.DataDir == "" {
		env.DataDir = "data"
	}
	if env.MailgunAPIKey != "" && env.MailgunDomain == "" {
		return env, errors.New("MAILGUN_DOMAIN is required when MAILGUN_API_KEY is set")
	}
	// KB_MAIL (safe defaults; see production.go).
	mailMode, err := parseMail(getenv("KB_MAIL"))
	if err != nil {
		return env, err
	}
	env.Mail = mailMode
	if env.Mail == MailMailgun && env.MailgunAPIKey == "" {
		return env, errors.New("KB_MAIL=mailgun needs MAILGUN_API_KEY and MAILGUN_DOMAIN")
	}
	if env.MailgunAPIBase != "" && !strings.HasSuffix(strings.TrimSuffix(env.MailgunAPIBase, "/"), "/v3") {
		return env, fmt.Errorf("MAILGUN_API_BASE %q must end in /v3, e.g. https://api.eu.mailgun.net/v3", env.MailgunAPIBase)
	}
	if s := getenv("KB_DATABASE_MAX_CONNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return env, fmt.Errorf("KB_DATABASE_MAX_CONNS: %q is not a number from 1 to 1000", s)
		}
		env.DatabaseMaxConns = n
	}
	if s := getenv("KB_SIGNUP_RATE"); s != "" {
		r, err := ParseRate(s)
		if err != nil {
			return env, fmt.Errorf("KB_SIGNUP_RATE: %w", err)
		}
		env.SignupRate = r
	}
	if err := loadSignupEnv(&env, getenv); err != nil {
		return env, err
	}
	if s := getenv("KB_TRUSTED_PROXIES"); s != "" {
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			p, err := netip.ParsePrefix(part)
			if err != nil {
				addr, aerr := netip.ParseAddr(part)
				if aerr != nil {
					return env, fmt.Errorf("KB_TRUSTED_PROXIES: %q is neither a CIDR nor an address", part)
				}
				p = netip.PrefixFrom(addr, addr.BitLen())
			}
			env.TrustedProxies = append(env.TrustedProxies, p.Masked())
		}
	}
	return env, nil
}

// ParseRate parses "N/sec", "N/min", "N/hour" (also "s", "m", "h") or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "off" || s == "0" {
		return Rate{}, nil
	}
	n, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("%q: want N/sec, N/min, N/hour or off", s)
	}
	events, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || events <= 0 {
		return Rate{}, fmt.Errorf("%q: %q is not a positive number", s, n)
	}
	var per time.Duration
	switch strings.TrimSpace(unit) {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("%q: unit %q is not sec, min or hour", s, unit)
	}
	return Rate{Events: events, Per: per}, nil
}
