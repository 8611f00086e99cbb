package config

import (
	"errors"
	"strings"
	"testing"
)

func TestKBMail(t *testing.T) {
	mailgun := map[string]string{"MAILGUN_API_KEY": "key", "MAILGUN_DOMAIN": "mg.example.pl"}
	with := func(base map[string]string, k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	tests := []struct {
		name        string
		env         map[string]string
		wantErr     string // substring; "" means Load succeeds
		wantMailgun bool
		wantMailErr bool // RequireMail refuses
	}{
		{"unset, no key: outbox, not confirmed", nil, "", false, true},
		{"unset, key: mailgun", mailgun, "", true, false},
		{"outbox: outbox even with a key", with(mailgun, "KB_MAIL", "outbox"), "", false, false},
		{"outbox, no key", map[string]string{"KB_MAIL": "Outbox"}, "", false, false},
		{"mailgun with key", with(mailgun, "KB_MAIL", "mailgun"), "", true, false},
		{"mailgun without key", map[string]string{"KB_MAIL": "mailgun"}, "KB_MAIL=mailgun needs MAILGUN_API_KEY", false, false},
		{"unknown value", map[string]string{"KB_MAIL": "smtp"}, `KB_MAIL "smtp"`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, minimalConfig), envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Env.UsesMailgun(); got != tt.wantMailgun {
				t.Errorf("UsesMailgun() = %v, want %v", got, tt.wantMailgun)
			}
			err = cfg.Env.RequireMail("kb serve")
			if (err != nil) != tt.wantMailErr {
				t.Fatalf("RequireMail() = %v, want error: %v", err, tt.wantMailErr)
			}
			if err != nil && (!strings.Contains(err.Error(), "KB_MAIL=outbox") || !strings.Contains(err.Error(), "MAILGUN_API_KEY")) {
				t.Errorf("RequireMail() = %q: want it to name MAILGUN_API_KEY and KB_MAIL=outbox", err)
			}
		})
	}
}

func TestRequireSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		want   string // substring of the error; "" means accepted
	}{
		{"unset", "", "KB_SECRET is not set"},
		{"short", "0123456789abcdef0123456789abcde", "KB_SECRET is too short: 31 characters"},
		{"32 characters", "0123456789abcdef0123456789abcdef", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Env{Secret: tt.secret}.RequireSecret("kb send")
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *SettingError
			if !errors.As(err, &se) || se.Var != "KB_SECRET" || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), "openssl rand -hex 32") {
				t.Fatalf("error = %v, want a KB_SECRET SettingError mentioning %q and openssl", err, tt.want)
			}
		})
	}
}
