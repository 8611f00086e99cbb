package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimalConfig = `
baseURL = "https://wiedza.example.pl/"
title = "Test"
[params.firm]
  name = "Biuro"
  address = "ul. Testowa 1, 00-001 Warszawa"
[params.mail]
  from_name = "Poradniki"
  from_address = "poradniki@example.pl"
[params.newsletter]
  since = 2026-11-01
[params.signup]
  allowed_origins = ["https://www.example.pl"]
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	dir := writeConfig(t, minimalConfig)
	cfg, err := Load(dir, envOf(map[string]string{
		"KB_SIGNUP_RATE":     "off",
		"KB_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Params.Newsletter.Since, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Since = %v, want %v", got, want)
	}
	if cfg.Params.Mail.From() != `"Poradniki" <poradniki@example.pl>` {
		t.Errorf("From = %s", cfg.Params.Mail.From())
	}
	if cfg.Env.DataDir != "data" || !cfg.Env.SignupRate.Unlimited() || len(cfg.Env.TrustedProxies) != 2 {
		t.Errorf("env = %+v", cfg.Env)
	}
	if cfg.AbsURL("/api/confirm") != "https://wiedza.example.pl/api/confirm" {
		t.Errorf("AbsURL = %s", cfg.AbsURL("/api/confirm"))
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		config string
		env    map[string]string
		want   string
	}{
		{"syntax error names file and line", "baseURL = \n", nil, "config.toml:1"},
		{"relative baseURL", strings.Replace(minimalConfig, "https://wiedza.example.pl/", "/x/", 1), nil, "baseURL"},
		{"no sender", strings.Replace(minimalConfig, `from_address = "poradniki@example.pl"`, "", 1), nil, "from_address"},
		{"no postal address", strings.Replace(minimalConfig, `address = "ul. Testowa 1, 00-001 Warszawa"`, "", 1), nil, "address"},
		{"bad origin", strings.Replace(minimalConfig, "https://www.example.pl", "www.example.pl", 1), nil, "allowed_origins"},
		{"bad rate", minimalConfig, map[string]string{"KB_SIGNUP_RATE": "fast"}, "KB_SIGNUP_RATE"},
		{"bad proxy", minimalConfig, map[string]string{"KB_TRUSTED_PROXIES": "proxy.local"}, "KB_TRUSTED_PROXIES"},
		{"bad pool size", minimalConfig, map[string]string{"KB_DATABASE_MAX_CONNS": "0"}, "KB_DATABASE_MAX_CONNS"},
		{"mailgun without domain", minimalConfig, map[string]string{"MAILGUN_API_KEY": "key"}, "MAILGUN_DOMAIN"},
		{"KRS not 10 digits", strings.Replace(minimalConfig, "[params.mail]", "  krs = \"123456\"\n[params.mail]", 1), nil, "params.firm.krs"},
		{"NIP check digit", strings.Replace(minimalConfig, "[params.mail]", "  nip = \"123-456-32-19\"\n[params.mail]", 1), nil, "params.firm.nip"},
		{"NIP too short", strings.Replace(minimalConfig, "[params.mail]", "  nip = \"123456321\"\n[params.mail]", 1), nil, "params.firm.nip"},
		{"REGON check digit", strings.Replace(minimalConfig, "[params.mail]", "  regon = \"123456786\"\n[params.mail]", 1), nil, "params.firm.regon"},
		{"bad confirmation cap", minimalConfig, map[string]string{"KB_CONFIRM_CAP_DOMAIN": "lots"}, "KB_CONFIRM_CAP_DOMAIN"},
		{"zero total cap", minimalConfig, map[string]string{"KB_CONFIRM_CAP_TOTAL": "0"}, "KB_CONFIRM_CAP_TOTAL"},
		{"short retired secret", minimalConfig, map[string]string{"KB_SECRET_PREVIOUS": strings.Repeat("a", 40) + ",short"}, "KB_SECRET_PREVIOUS"},
		{"mailgun base without v3", minimalConfig, map[string]string{"MAILGUN_API_KEY": "k", "MAILGUN_DOMAIN": "d", "MAILGUN_API_BASE": "https://api.eu.mailgun.net"}, "/v3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.config), envOf(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := Load(t.TempDir(), envOf(nil)); err == nil {
		t.Fatal("missing config.toml: want error")
	}
}

func TestSignupEnv(t *testing.T) {
	old1, old2 := strings.Repeat("1", 32), strings.Repeat("2", 40)
	tests := []struct {
		env           map[string]string
		domain, total int
		previous      int
	}{
		{nil, DefaultConfirmCapDomain, DefaultConfirmCapTotal, 0},
		{map[string]string{"KB_CONFIRM_CAP_DOMAIN": "5", "KB_CONFIRM_CAP_TOTAL": "off"}, 5, 0, 0},
		{map[string]string{"KB_SECRET_PREVIOUS": " " + old1 + " , " + old2 + ","}, DefaultConfirmCapDomain, DefaultConfirmCapTotal, 2},
	}
	for _, tt := range tests {
		cfg, err := Load(writeConfig(t, minimalConfig), envOf(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		e := cfg.Env
		if e.ConfirmCapDomain != tt.domain || e.ConfirmCapTotal != tt.total || len(e.PreviousSecrets()) != tt.previous {
			t.Errorf("%v: caps %d/%d, %d previous secrets", tt.env, e.ConfirmCapDomain, e.ConfirmCapTotal, len(e.PreviousSecrets()))
		}
	}
}

func TestFirmRegistryNumbers(t *testing.T) {
	tests := []struct {
		name string
		firm Firm
		ok   bool
	}{
		{"none set", Firm{}, true},
		{"all valid", Firm{KRS: "0000123456", NIP: "1234563218", REGON: "123456785"}, true},
		{"NIP with hyphens", Firm{NIP: "123-456-32-18"}, true},
		{"NIP with spaces", Firm{NIP: "123 456 32 18"}, true},
		{"NIP whose sum is 10 mod 11", Firm{NIP: "1234567890"}, false},
		{"NIP with letters", Firm{NIP: "PL1234563218"}, false},
		{"KRS with a letter", Firm{KRS: "000012345X"}, false},
		{"REGON of 14 digits", Firm{REGON: "12345678512347"}, true},
		{"REGON of 14 digits, bad check", Firm{REGON: "12345678512348"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.firm.validate(); (err == nil) != tt.ok {
				t.Errorf("validate(%+v) = %v, want ok %v", tt.firm, err, tt.ok)
			}
		})
	}
}

func TestMailgunRegion(t *testing.T) {
	tests := []struct {
		base string
		want string
	}{
		{"", "us"},
		{"https://api.mailgun.net/v3", "us"},
		{"https://api.eu.mailgun.net/v3", "eu"},
		{"https://API.EU.mailgun.net/v3/", "eu"},
		{"http://127.0.0.1:4321/v3", "us"},
	}
	for _, tt := range tests {
		if got := (Env{MailgunAPIBase: tt.base}).MailgunRegion(); got != tt.want {
			t.Errorf("MailgunRegion(%q) = %q, want %q", tt.base, got, tt.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		err  bool
	}{
		{"10/min", Rate{10, time.Minute}, false},
		{"5/s", Rate{5, time.Second}, false},
		{"100/hour", Rate{100, time.Hour}, false},
		{"off", Rate{}, false},
		{"OFF", Rate{}, false},
		{"-1/min", Rate{}, true},
		{"10", Rate{}, true},
		{"10/day", Rate{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	env := Env{DataDir: filepath.Join(dir, "data")}
	s1, gen, err := env.LoadSecret()
	if err != nil || !gen || len(s1) < minSecretLen {
		t.Fatalf("first LoadSecret = %q, %v, %v", s1, gen, err)
	}
	s2, _, err := env.LoadSecret()
	if err != nil || string(s1) != string(s2) {
		t.Fatalf("second LoadSecret differs: %q vs %q (%v)", s1, s2, err)
	}
	if _, _, err := (Env{Secret: "short"}).LoadSecret(); err == nil {
		t.Fatal("short KB_SECRET accepted")
	}
	long := strings.Repeat("x", 40)
	if s, gen, err := (Env{Secret: long}).LoadSecret(); err != nil || gen || string(s) != long {
		t.Fatalf("KB_SECRET not used: %q %v %v", s, gen, err)
	}
}
