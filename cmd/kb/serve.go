package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/delivery"
	"github.com/kbpress/kb/internal/devserver"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/site"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
	"github.com/kbpress/kb/internal/web"
)

// unconfirmedRetention is how long an unconfirmed signup is kept; the
// privacy policy promises 30 days.
const unconfirmedRetention = 30 * 24 * time.Hour

func (a *app) serveCommand() *cobra.Command {
	var out, private, addr, baseURL, worker string
	var watch, noBuild, drafts bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Build the site and serve it with the signup API",
		Long: `Serve builds the site (unless --no-build), then serves it and the API
(/api/subscribe, /api/confirm, /api/unsubscribe, /api/whitepaper,
/api/webhooks/mailgun, /healthz) on one port. A worker in the same process
sends the queued confirmation and whitepaper emails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Listen first: with --addr HOST:0 the port, and so the default
			// base URL of links and emails, is known only then.
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			if baseURL == "" {
				baseURL = "http://" + ln.Addr().String() + "/"
			}
			cfg, err := a.config(baseURL)
			if err != nil {
				return err
			}
			// Before the build: a refusal should not take a minute.
			if err := checkServe(cfg); err != nil {
				return err
			}
			o := serveOptions{
				publishDir: a.path(out), privateDir: a.path(private),
				watch: watch || drafts, build: !noBuild, drafts: drafts, worker: worker,
			}
			if drafts {
				if noBuild {
					return errors.New("--drafts builds the site with its drafts: it cannot be used with --no-build")
				}
				// Drafts never go near --out, which a writer might deploy:
				// they are built into a directory of their own, removed on exit.
				tmp, err := os.MkdirTemp("", "kb-drafts-")
				if err != nil {
					return fmt.Errorf("--drafts: %w", err)
				}
				defer os.RemoveAll(tmp)
				o.publishDir, o.privateDir = filepath.Join(tmp, "public"), filepath.Join(tmp, "private")
				a.log.Info("drafts: serving a build with drafts and future-dated guides; the publish directory is left alone", "dir", o.publishDir)
			}
			return a.serve(cmd.Context(), cfg, ln, o)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "public base URL of the site, used in links and emails (default http://ADDR/)")
	cmd.Flags().StringVar(&out, "out", "public", "publish directory")
	cmd.Flags().StringVar(&private, "private", "private", "directory of the gated whitepaper PDF")
	cmd.Flags().BoolVar(&watch, "watch", false, "rebuild when content, layouts, static files or config change; open pages reload themselves, a failed build is shown in the browser, /__preview/email/ previews the newsletter emails")
	cmd.Flags().BoolVar(&drafts, "drafts", false, "also show drafts and future-dated guides, marked \"Szkic\", built into a temporary directory (never --out); implies --watch")
	cmd.Flags().BoolVar(&noBuild, "no-build", false, "serve the publish directory as it is (built by kb build)")
	cmd.Flags().StringVar(&worker, "worker-name", "", "name of this instance's mail worker (default hostname:pid)")
	return cmd
}

type serveOptions struct {
	publishDir, privateDir string
	watch, build, drafts   bool
	worker                 string
}

func (a *app) serve(ctx context.Context, cfg *config.Config, ln net.Listener, o serveOptions) error {
	wp, guides, err := a.prepareSite(ctx, cfg, o)
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tr, err := a.mailTransport(cfg)
	if err != nil {
		return err
	}
	signer, err := a.signer(cfg)
	if err != nil {
		return err
	}
	tpl, err := a.templates(cfg, wp.Title)
	if err != nil {
		return err
	}
	a.log.Info("mail transport", "transport", tr.Describe())
	a.log.Info("database", "dialect", st.Dialect())
	if o.worker == "" {
		host, _ := os.Hostname()
		o.worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	worker := delivery.New(st, tr, &delivery.Transactional{
		Templates:       tpl,
		Links:           token.NewLinks(signer, cfg.BaseURL),
		From:            cfg.Params.Mail.From(),
		ReplyTo:         cfg.Params.Mail.ReplyTo,
		WhitepaperGated: cfg.Params.Whitepaper.Gated,
		WhitepaperURL:   wp.URL,
		Welcome: delivery.Welcome{
			Topics:    cfg.Params.Newsletter.Topics,
			Frequency: cfg.Params.Newsletter.Frequency,
			Digest:    cfg.Params.Newsletter.Digest.Describe(),
			StartHere: a.startHere(cfg, o.publishDir),
		},
	}, delivery.Options{Name: o.worker, Logger: a.log})

	// Erasing oneself on the preference page forgets the outbox's copies
	// too, as kb subscribers delete does.
	onErase := func(ctx context.Context, email string) {
		if n, err := a.forgetOutbox(ctx, email); err != nil {
			a.log.Error("erasure: outbox files not deleted", "err", err)
		} else if n > 0 {
			a.log.Info("erasure: outbox files deleted", "files", n)
		}
	}
	adm, err := a.adminHandler(cfg, st)
	if err != nil {
		return err
	}
	h, err := web.New(web.Deps{Store: st, Notifier: worker, Signer: signer, Config: cfg, Logger: a.log, OnErase: onErase, Admin: adm}, web.Options{
		PublishDir:         o.publishDir,
		WhitepaperFile:     map[bool]string{true: wp.File}[cfg.Params.Whitepaper.Gated],
		WhitepaperURL:      wp.URL,
		WhitepaperTitle:    wp.Title,
		WhitepaperFilename: wp.Title + ".pdf",
	})
	if err != nil {
		return err
	}

	srv := h.Server(ln.Addr().String())
	var dev *devserver.Handler
	if o.watch {
		// The writer's tools exist only in watch mode, around the public
		// handler: live reload, the build error page, the email preview.
		dev = devserver.New(h, guides, devserver.Options{
			BaseURL:          cfg.BaseURL,
			Emails:           tpl,
			FullTextMaxWords: cfg.Params.Newsletter.FullTextMaxWords,
			Logger:           a.log,
		})
		srv.Handler = dev
		srv.RegisterOnShutdown(dev.Close) // open tabs must not hold the shutdown
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { worker.Run(ctx) })
	wg.Go(func() { a.purgeUnconfirmed(ctx, st) })
	if o.watch {
		wg.Go(func() { a.watch(ctx, cfg, o, h, dev) })
	}
	a.log.Info("serving", "url", cfg.BaseURL, "addr", ln.Addr().String(), "dir", o.publishDir)
	err = web.Serve(ctx, srv, ln)
	cancel()
	wg.Wait()
	return err
}

// prepareSite builds the site, or with --no-build checks that it exists
// and finds the whitepaper PDF a previous kb build placed. The guides are
// the build's (none with --no-build), for the email preview.
func (a *app) prepareSite(ctx context.Context, cfg *config.Config, o serveOptions) (builtWhitepaper, []guide.Guide, error) {
	if o.build {
		b, err := a.buildSite(ctx, cfg, o.publishDir, o.privateDir, "production", o.drafts)
		if err != nil {
			return builtWhitepaper{}, nil, err
		}
		return b.Whitepaper, b.Guides, nil
	}
	if _, err := os.Stat(filepath.Join(o.publishDir, "index.html")); err != nil {
		return builtWhitepaper{}, nil, fmt.Errorf("--no-build: %s has no built site (run kb build first): %w", o.publishDir, err)
	}
	wp, err := a.locateWhitepaper(cfg, o.publishDir, o.privateDir)
	return wp, nil, err
}

// watch rebuilds the site when its sources change, reloads the page
// shell the handler renders into and tells the open pages (dev). Each
// rebuild reads config.toml again; the handler and the emails keep the
// settings they started with.
func (a *app) watch(ctx context.Context, cfg *config.Config, o serveOptions, h *web.Handler, dev *devserver.Handler) {
	rebuild := func(ctx context.Context) (*site.Result, error) {
		fresh, err := a.config(cfg.BaseURL)
		if err != nil {
			return nil, err
		}
		b, err := a.buildSite(ctx, fresh, o.publishDir, o.privateDir, "production", o.drafts)
		if err != nil {
			return nil, err
		}
		return b.Result, nil
	}
	err := site.Watch(ctx, site.Options{Root: a.root, PublishDir: o.publishDir, BaseURL: cfg.BaseURL, Logger: a.log}, rebuild,
		func(res *site.Result, err error) {
			if err != nil {
				a.log.Error("rebuild failed; pages show the error until it is fixed", "err", err)
				dev.Failed(buildFailure(err))
				return
			}
			if err := h.Reload(); err != nil {
				a.log.Error("reload page shell", "err", err)
			}
			a.log.Info("site rebuilt", "pages", res.Pages, "duration", res.Duration.Round(time.Millisecond))
			dev.Built(res.Guides)
		})
	if err != nil && ctx.Err() == nil {
		a.log.Error("watch stopped", "err", err)
	}
}

// buildFailure is a failed rebuild as the browser shows it: the file and
// line a site.BuildError names, and the message as it is.
func buildFailure(err error) devserver.Failure {
	var be *site.BuildError
	if errors.As(err, &be) {
		return devserver.Failure{File: be.File, Line: be.Line, Column: be.Column, Message: be.Msg}
	}
	return devserver.Failure{Message: err.Error()}
}

// purgeUnconfirmed deletes signups left unconfirmed for 30 days, and the
// people who withdrew consent once the privacy notice's period (the
// 6-year limitation period of art. 118 k.c., to the end of the year) has
// passed, at start and then daily.
func (a *app) purgeUnconfirmed(ctx context.Context, st *store.Store) {
	for {
		n, err := st.PurgeUnconfirmed(ctx, time.Now().Add(-unconfirmedRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Error("purge unconfirmed signups", "err", err)
		case n > 0:
			a.log.Info("purged unconfirmed signups", "count", n)
		}
		n, err = st.PurgeWithdrawn(ctx, store.WithdrawnRetentionCutoff(time.Now()))
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Error("purge withdrawn subscribers", "err", err)
		case n > 0:
			a.log.Info("purged subscribers whose retention period ended", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}

// startHere reads the welcome email's guides from the last build's index;
// without one (an old build) the email goes without them.
func (a *app) startHere(cfg *config.Config, publishDir string) func() []guide.Guide {
	return func() []guide.Guide {
		list, err := guide.ReadIndex(publishDir)
		if err != nil {
			a.log.Warn("welcome email without its start-here guides: no guides index (run kb build)", "err", err)
			return nil
		}
		return guide.Pick(list, cfg.Params.Newsletter.Welcome)
	}
}
