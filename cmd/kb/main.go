// Command kb builds the knowledge-base site, serves it with the signup
// handler and sends new guides to subscribers. It only wires the internal
// packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	_ "time/tzdata" // dates in emails are shown in Europe/Warsaw on any machine

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// app holds what every command shares.
type app struct {
	root   string
	debug  bool
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	log    *slog.Logger
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	cmd := a.rootCommand()
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "kb:", err)
		// A missing or unsafe setting: the operator must act, a retry
		// (systemd, cron) cannot help.
		if _, ok := errors.AsType[*config.SettingError](err); ok {
			return 2
		}
		return 1
	}
	return 0
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kb",
		Short: "Knowledge base: build the site, serve it with the signup handler, send new guides",
		Long: `kb builds the Hugo site in this directory, serves it together with the
newsletter signup API, and sends every new guide to confirmed subscribers.

Environment: KB_DATA (default ./data), KB_SECRET, KB_DATABASE_URL (default
sqlite:$KB_DATA/kb.db, or postgres://…), KB_SIGNUP_RATE, KB_TRUSTED_PROXIES,
MAILGUN_API_KEY, MAILGUN_DOMAIN, MAILGUN_API_BASE, MAILGUN_WEBHOOK_SIGNING_KEY,
KB_MAIL (outbox, or mailgun).

kb serve with an https:// base URL, and kb serve or kb send sending through
Mailgun, refuse to start (exit 2) without a KB_SECRET of 32+ characters;
kb serve with an https:// base URL also wants Mailgun or KB_MAIL=outbox.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelInfo
			if a.debug {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.PersistentFlags().StringVar(&a.root, "root", ".", "site directory (where config.toml lives)")
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "log debug messages")
	root.AddCommand(
		a.buildCommand(),
		a.serveCommand(),
		a.sendCommand(),
		a.previewCommand(),
		a.campaignsCommand(),
		a.subscribersCommand(),
		a.mailgunCommand(),
		a.migrateCommand(),
		a.adminCommand(),
		a.reportCommand(),
		a.newCommand(),
		a.checkCommand(),
	)
	return root
}

// config loads config.toml and the environment, with baseURL overriding
// the configured base URL when set.
func (a *app) config(baseURL string) (*config.Config, error) {
	cfg, err := config.Load(a.root, a.getenv)
	if err != nil {
		return nil, err
	}
	if baseURL != "" {
		if cfg, err = cfg.WithBaseURL(baseURL); err != nil {
			return nil, fmt.Errorf("--base-url: %w", err)
		}
	}
	if !filepath.IsAbs(cfg.Env.DataDir) {
		cfg.Env.DataDir = filepath.Join(a.root, cfg.Env.DataDir)
	}
	return cfg, nil
}

// path resolves a command-line path against the site directory.
func (a *app) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(a.root, p)
}
