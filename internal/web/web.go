// Package web is the HTTP side of `kb serve`: the static site from the
// publish directory and the API on the same port — the newsletter signup
// (double opt-in), the links in emails (confirm, unsubscribe, whitepaper
// download, the preference page with the reader's data), Mailgun's
// webhooks and a health check — behind middleware for logging, panic
// recovery and security headers. It is built to face the
// public internet: every input is bounded and validated, signups are rate
// limited per client, and answers never reveal who is subscribed.
//
// Readers see Polish pages rendered into the site's own page shell
// (public/kb-shell/index.html, built from layouts/shell.html); logs are in
// English and never contain tokens (query strings) or addresses.
package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// Store is the part of the store the handlers use; *store.Store has it.
type Store interface {
	Subscribe(ctx context.Context, req store.SignupRequest, now time.Time) (store.Subscriber, store.SignupOutcome, error)
	Confirm(ctx context.Context, link store.Link, userAgent string, issuedAt, now time.Time) (store.Subscriber, store.ConfirmOutcome, error)
	// UnsubscribeLinkFrom counts the unsubscribe for the campaign the link
	// came from (0: none).
	UnsubscribeLinkFrom(ctx context.Context, link store.Link, campaignID int64, reason string, now time.Time) (store.Subscriber, bool, error)
	GetByLink(ctx context.Context, link store.Link) (store.Subscriber, error)
	RecordWebhook(ctx context.Context, ev store.WebhookEvent, now time.Time) (seen, found bool, err error)
	RecordWhitepaperDownload(ctx context.Context, subscriberID int64, now time.Time) (bool, error)
	Ping(ctx context.Context) error
	// The preference page (preferences.go).
	SetPreferences(ctx context.Context, link store.Link, u store.PreferencesUpdate, now time.Time) (store.Subscriber, store.PreferencesChange, error)
	PersonByLink(ctx context.Context, link store.Link) (store.PersonData, error)
	EraseLink(ctx context.Context, link store.Link, now time.Time) error
}

// Notifier is told when a request queued an email, so the delivery worker
// sends it at once instead of at its next poll (delivery.Worker has it).
type Notifier interface {
	Notify()
}

// Deps are the services the handlers use.
type Deps struct {
	Store Store
	// Notifier may be nil: the worker then finds queued emails by polling.
	Notifier Notifier
	// Signer verifies the links in emails and signs whitepaper links.
	Signer *token.Signer
	Config *config.Config
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OnErase, if set, is called with the address after a reader erased
	// their data from the preference page, to erase what lies outside the
	// store (the outbox), as `kb subscribers delete` does.
	OnErase func(ctx context.Context, email string)
	// Admin, if set, serves /admin/ (the firm's dashboard, package admin).
	Admin http.Handler
}

// Options say where the files are and tune limits.
type Options struct {
	// PublishDir is the built site (public/); required.
	PublishDir string
	// WhitepaperFile is the PDF served by /api/whitepaper when the
	// whitepaper is gated (kept outside PublishDir). Required when gated.
	WhitepaperFile string
	// WhitepaperURL is the public PDF's path or URL when the whitepaper is
	// free (e.g. /biala-ksiega/gotowka-pod-kontrola.pdf); the confirmation
	// page links it. Empty: the page links the whitepaper's page instead.
	WhitepaperURL string
	// WhitepaperTitle names the whitepaper on the signup form
	// ("PDF „…”"); optional.
	WhitepaperTitle string
	// WhitepaperFilename is the download's file name, Polish letters
	// allowed; default the base name of WhitepaperFile.
	WhitepaperFilename string
	// RateLimitClients caps how many clients the signup rate limiter
	// remembers (default 10000); the least recently seen are forgotten.
	RateLimitClients int
	// APITimeout is the deadline of each API request (default
	// DefaultAPITimeout): past it a stalled database answers 503.
	APITimeout time.Duration
	// WriteTimeout is the server's write timeout (default 60 s); large
	// downloads get it afresh for every chunk written.
	WriteTimeout time.Duration
}

// Handler is the whole HTTP handler tree of `kb serve`.
type Handler struct {
	store    Store
	notifier Notifier
	signer   *token.Signer
	cfg      *config.Config
	log      *slog.Logger
	now      func() time.Time
	onErase  func(ctx context.Context, email string)
	admin    http.Handler
	opts     Options

	shell   atomic.Pointer[shell]
	handler http.Handler

	limiter     *ipLimiter // nil: no rate limit
	proxies     trustedProxies
	cop         *http.CrossOriginProtection
	siteCop     *http.CrossOriginProtection // the site's own origin only
	corsOrigins map[string]bool
	hsts        bool
	webhookKey  []byte
	gated       bool
	formLabels  formLabels

	apiTimeout   time.Duration
	writeTimeout time.Duration
}

// New builds the handler. It loads the page shell from the publish
// directory; without one it falls back to a plain built-in page (and logs
// a warning), so that a missing build never takes the API down.
func New(deps Deps, opts Options) (*Handler, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("web: Deps.Store is required")
	case deps.Signer == nil:
		return nil, errors.New("web: Deps.Signer is required")
	case deps.Config == nil:
		return nil, errors.New("web: Deps.Config is required")
	case opts.PublishDir == "":
		return nil, errors.New("web: Options.PublishDir is required")
	}
	cfg := deps.Config
	h := &Handler{
		store:    deps.Store,
		notifier: deps.Notifier,
		signer:   deps.Signer,
		cfg:      cfg,
		log:      deps.Logger,
		now:      deps.Now,
		onErase:  deps.OnErase,
		admin:    deps.Admin,
		opts:     opts,

		apiTimeout:   cmp.Or(opts.APITimeout, DefaultAPITimeout),
		writeTimeout: cmp.Or(opts.WriteTimeout, writeTimeout),
		proxies:      trustedProxies(cfg.Env.TrustedProxies),
		gated:        cfg.Params.Whitepaper.Gated,
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.gated && opts.WhitepaperFile == "" {
		return nil, errors.New("web: the whitepaper is gated but Options.WhitepaperFile is empty")
	}

	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("web: base URL %q is not absolute", cfg.BaseURL)
	}
	h.hsts = base.Scheme == "https"
	h.cop = http.NewCrossOriginProtection()
	if err := h.cop.AddTrustedOrigin(base.Scheme + "://" + base.Host); err != nil {
		return nil, fmt.Errorf("web: site origin: %w", err)
	}
	// The preference forms post only from the site's own pages: partner
	// origins may sign readers up, not change or erase them.
	h.siteCop = http.NewCrossOriginProtection()
	if err := h.siteCop.AddTrustedOrigin(base.Scheme + "://" + base.Host); err != nil {
		return nil, fmt.Errorf("web: site origin: %w", err)
	}
	h.corsOrigins = make(map[string]bool)
	for _, o := range cfg.Params.Signup.AllowedOrigins {
		o = strings.ToLower(strings.TrimSuffix(o, "/"))
		if err := h.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("web: params.signup.allowed_origins: %w", err)
		}
		h.corsOrigins[o] = true
	}

	if r := cfg.Env.SignupRate; !r.Unlimited() {
		h.limiter = newIPLimiter(r, opts.RateLimitClients)
	}
	if k := cfg.Env.MailgunWebhookSigningKey; k != "" {
		h.webhookKey = []byte(k)
	} else {
		h.log.Info("Mailgun webhooks disabled: MAILGUN_WEBHOOK_SIGNING_KEY is not set", "path", webhookPath)
	}

	h.formLabels = formLabels{
		Email: msgFormEmail, Name: msgFormName, Optional: msgFormOptional,
		Consent: msgFormConsent, Whitepaper: msgFormWhitepaper, Honeypot: msgFormHoneypot,
		Submit: msgFormSubmit, Note: msgFormNote,
	}
	if opts.WhitepaperTitle != "" {
		h.formLabels.WhitepaperHint = fmt.Sprintf(msgFormWhitepaperHint, opts.WhitepaperTitle)
	}

	if err := h.Reload(); err != nil {
		h.log.Warn("page shell missing: pages use a plain built-in layout until the site is built", "err", err)
		h.shell.Store(builtinShell)
	}
	h.handler = h.routes()
	return h, nil
}

// Paths of the API; token links use the paths in package token.
const (
	subscribePath = "/api/subscribe"
	webhookPath   = "/api/webhooks/mailgun"
	healthPath    = "/healthz"
)

func (h *Handler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h.static())
	mux.HandleFunc("/api/", h.apiNotFound)
	// Every API request has a deadline (/healthz has its own, shorter).
	api := func(hf http.HandlerFunc) http.Handler { return h.withDeadline(hf) }
	mux.Handle(subscribePath, api(h.subscribe))
	mux.Handle(token.ConfirmPath, api(h.confirm))
	mux.Handle(token.UnsubscribePath, api(h.unsubscribe))
	mux.Handle(token.PreferencesPath, api(h.preferences))
	mux.Handle(preferencesExportPath, api(h.preferencesExport))
	mux.Handle(preferencesDeletePath, api(h.preferencesDelete))
	mux.Handle(token.WhitepaperPath, h.withDeadline(h.extendWriteDeadline(http.HandlerFunc(h.whitepaper))))
	mux.Handle(webhookPath, api(h.mailgunWebhook))
	mux.HandleFunc(healthPath, h.healthz)
	if h.admin != nil {
		// No API deadline: the CSV export streams every subscriber.
		mux.Handle("/admin/", h.extendWriteDeadline(h.admin))
	}
	return h.logRequests(h.recoverPanics(h.securityHeaders(mux)))
}

// ClientIP is the client's address as the signup rate limit sees it: the
// TCP peer, or behind trusted proxies the nearest untrusted address in
// X-Forwarded-For. The dashboard's brute-force limit uses it too.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	return trustedProxies(trusted).clientIP(r)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.handler.ServeHTTP(w, r)
}

// allowMethods answers 405 with Allow unless r uses one of methods.
func (h *Handler) allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	h.notice(w, http.StatusMethodNotAllowed, titleMethod, msgMethod, nil, action{Href: pathHome, Label: msgToHome})
	return false
}

func (h *Handler) apiNotFound(w http.ResponseWriter, _ *http.Request) {
	h.notice(w, http.StatusNotFound, msgNotFoundTitle, msgPageNotFound, nil, action{Href: pathHome, Label: msgToHome})
}

func (h *Handler) serverError(w http.ResponseWriter) {
	h.notice(w, http.StatusInternalServerError, titleError, msgServerError, nil, action{Href: pathHome, Label: msgToHome})
}

// healthTimeout bounds the database check of /healthz.
const healthTimeout = 2 * time.Second

// healthz answers 200 when the database answers, 503 otherwise.
func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	if !h.allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.store.Ping(ctx); err != nil {
		h.log.Warn("health check: database does not answer", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// notify pokes the delivery worker.
func (h *Handler) notify() {
	if h.notifier != nil {
		h.notifier.Notify()
	}
}
