package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// openStore opens the database the environment names: KB_DATABASE_URL, or
// SQLite in the data directory.
func (a *app) openStore(ctx context.Context, cfg *config.Config, extra ...store.Option) (*store.Store, error) {
	dsn := cfg.Env.DatabaseURL
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(cfg.Env.DataDir, "kb.db")
	}
	// Erasure tombstones are keyed by KB_SECRET (and the retired ones, so
	// that their tombstones keep working).
	secret, _, err := cfg.Env.LoadSecret()
	if err != nil {
		return nil, err
	}
	keys := [][]byte{token.DeriveKey(secret, "erasure")}
	for _, old := range cfg.Env.PreviousSecrets() {
		keys = append(keys, token.DeriveKey(old, "erasure"))
	}
	limits := store.DefaultSignupLimits()
	limits.DomainPerHour, limits.TotalPerHour = cfg.Env.ConfirmCapDomain, cfg.Env.ConfirmCapTotal
	opts := []store.Option{store.WithLogger(a.log), store.WithErasureKeys(keys...), store.WithSignupLimits(limits)}
	if n := cfg.Env.DatabaseMaxConns; n > 0 {
		opts = append(opts, store.WithMaxOpenConns(n))
	}
	st, err := store.Open(ctx, dsn, append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// transport is what both the queue worker and the newsletter send through.
type transport interface {
	Send(ctx context.Context, m *mail.Message) (string, error)
	SendBatch(ctx context.Context, b *mail.Batch) (string, error)
	Accepted(ctx context.Context, q mail.AcceptedQuery) ([]string, error)
	Describe() string
}

// mailTransport is Mailgun when MAILGUN_API_KEY is set (unless
// KB_MAIL=outbox), the .eml outbox in the data directory otherwise.
func (a *app) mailTransport(cfg *config.Config) (transport, error) {
	if cfg.Env.UsesMailgun() {
		return mail.NewMailgun(mail.MailgunConfig{
			Domain:  cfg.Env.MailgunDomain,
			APIKey:  cfg.Env.MailgunAPIKey,
			APIBase: cfg.Env.MailgunAPIBase,
		})
	}
	return mail.NewOutbox(filepath.Join(cfg.Env.DataDir, "outbox"))
}

// Refusals of settings that suit a laptop but not real readers. They are
// config.SettingErrors, so kb exits 2 with a message naming the variable;
// the local flow (http:// base URL, the outbox) needs no settings at all.

// checkServe: a public (https://) site needs a real secret and a decided
// mail transport; sending through Mailgun needs a real secret anywhere.
func checkServe(cfg *config.Config) error {
	if strings.HasPrefix(cfg.BaseURL, "https://") {
		const why = "kb serve with an https:// base URL"
		if err := cfg.Env.RequireSecret(why); err != nil {
			return err
		}
		if err := cfg.Env.RequireMail(why); err != nil {
			return err
		}
	}
	if cfg.Env.UsesMailgun() {
		return cfg.Env.RequireSecret("kb serve sending through Mailgun")
	}
	return nil
}

// checkSend: links mailed through Mailgun reach real people.
func checkSend(cfg *config.Config) error {
	if cfg.Env.UsesMailgun() {
		return cfg.Env.RequireSecret("kb send through Mailgun")
	}
	return nil
}

// signer signs the links in emails with KB_SECRET, or with a development
// secret kept in the data directory (with a warning).
func (a *app) signer(cfg *config.Config) (*token.Signer, error) {
	secret, generated, err := cfg.Env.LoadSecret()
	if err != nil {
		return nil, err
	}
	if generated {
		a.log.Warn("KB_SECRET is not set: links in emails are signed with a development secret kept in the data directory; set KB_SECRET (32+ random characters) in production",
			"file", filepath.Join(cfg.Env.DataDir, "secret.dev"))
	}
	return token.NewSigner(secret, cfg.Env.PreviousSecrets()...)
}

// templates prepares the emails for the site.
func (a *app) templates(cfg *config.Config, whitepaperTitle string) (*emails.Templates, error) {
	tpl, err := emails.New(emails.SiteFromConfig(cfg, whitepaperTitle))
	if err != nil {
		return nil, fmt.Errorf("prepare email templates: %w", err)
	}
	return tpl, nil
}
