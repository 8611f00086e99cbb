// Package admin is the firm's private dashboard under /admin/: growth,
// sources, campaigns and a subscriber look-up, behind a password (argon2id)
// and a one-time code (TOTP), with sessions in the database so that any
// instance accepts them. It is read-only apart from login, logout and the
// CSV export; pages are Polish, server-rendered and work without
// JavaScript.
package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/kbpress/kb/internal/store"
)

// Store is the part of the store the dashboard uses; *store.Store has it.
type Store interface {
	HasAdmins(ctx context.Context) (bool, error)
	AdminByEmail(ctx context.Context, email string) (store.Admin, error)
	AdminByID(ctx context.Context, id int64) (store.Admin, error)
	UseAdminTOTP(ctx context.Context, adminID, step int64, enrolSecret string, now time.Time) (bool, error)
	ReplaceAdminSession(ctx context.Context, old string, next store.AdminSession) error
	AdminSessionByID(ctx context.Context, id string) (store.AdminSession, error)
	TouchAdminSession(ctx context.Context, id string, now time.Time) error
	DeleteAdminSession(ctx context.Context, id string) error
	ExpireAdminSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error)
	AdminBlockedUntil(ctx context.Context, keys ...string) (time.Time, error)
	AdminFailure(ctx context.Context, key string, now, forgetBefore time.Time, wait func(int) time.Duration) (int, error)
	ClearAdminFailures(ctx context.Context, key string) error
	AddAdminLog(ctx context.Context, e store.AdminLogEntry) error
	// The subscriber pages.
	Person(ctx context.Context, email string) (store.PersonData, error)
	ListSubscribers(ctx context.Context, f store.ListFilter, fn func(store.Subscriber) error) error
}

// Options configure the handler.
type Options struct {
	Store Store
	// Reports gives the figures; nil shows the access pages only (tests).
	Reports Reports
	// BaseURL is the site's public address: https makes the cookie
	// Secure with the __Host- prefix, and its origin is the only one
	// whose POSTs are accepted.
	BaseURL string
	// Issuer names the site in authenticator apps (the firm's name).
	Issuer string
	// ClientIP derives the client's address as the rest of the site does
	// (trusted proxies); default the TCP peer.
	ClientIP func(*http.Request) netip.Addr
	// Location is the firm's time zone for dates (default Europe/Warsaw).
	Location *time.Location
	Logger   *slog.Logger
	Now      func() time.Time
}

// Session lifetimes.
const (
	idleTimeout     = 12 * time.Hour
	absoluteTimeout = 7 * 24 * time.Hour
	// codeTimeout bounds the time between the password and the code.
	codeTimeout = 10 * time.Minute
	// touchEvery limits the writes an active session makes.
	touchEvery = time.Minute
)

// Handler serves /admin/.
type Handler struct {
	st       Store
	reports  Reports
	issuer   string
	clientIP func(*http.Request) netip.Addr
	loc      *time.Location
	log      *slog.Logger
	now      func() time.Time
	cop      *http.CrossOriginProtection
	secure   bool   // https: Secure cookie with the __Host- prefix
	cookie   string // the cookie's name
	dummy    string // a hash to verify for unknown accounts (same timing)
	pages    *pages
	mux      *http.ServeMux
}

// New builds the handler.
func New(o Options) (*Handler, error) {
	if o.Store == nil {
		return nil, errors.New("admin: Options.Store is required")
	}
	base, err := url.Parse(o.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("admin: base URL %q is not absolute", o.BaseURL)
	}
	h := &Handler{
		st:       o.Store,
		reports:  o.Reports,
		issuer:   cmp.Or(o.Issuer, base.Host),
		clientIP: o.ClientIP,
		loc:      o.Location,
		log:      o.Logger,
		now:      o.Now,
		secure:   base.Scheme == "https",
		cop:      http.NewCrossOriginProtection(),
	}
	// Same protection as the site's own forms: only our origin may POST.
	if err := h.cop.AddTrustedOrigin(base.Scheme + "://" + base.Host); err != nil {
		return nil, fmt.Errorf("admin: site origin: %w", err)
	}
	if h.clientIP == nil {
		h.clientIP = peerIP
	}
	if h.loc == nil {
		if h.loc, err = time.LoadLocation("Europe/Warsaw"); err != nil {
			return nil, fmt.Errorf("admin: time zone: %w", err)
		}
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.cookie = "kb_admin"
	if h.secure {
		h.cookie = "__Host-kb_admin"
	}
	if h.dummy, err = hashPassword("not a password: timing only"); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(h.funcs()); err != nil {
		return nil, err
	}
	h.mux = h.routes()
	return h, nil
}

// Paths.
const (
	pathPrefix   = "/admin/"
	pathLogin    = "/admin/login"
	pathCode     = "/admin/code"
	pathLogout   = "/admin/logout"
	pathCSS      = "/admin/admin.css"
	pathSources  = "/admin/sources"
	pathCampaign = "/admin/campaigns"
	pathSubs     = "/admin/subscribers"
	pathExport   = "/admin/subscribers/export"
)

func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathCSS, serveCSS)
	mux.HandleFunc("GET "+pathLogin, h.loginForm)
	mux.Handle("POST "+pathLogin, h.cop.Handler(http.HandlerFunc(h.login)))
	mux.HandleFunc("GET "+pathCode, h.codeForm)
	mux.Handle("POST "+pathCode, h.cop.Handler(http.HandlerFunc(h.code)))
	mux.Handle("POST "+pathLogout, h.cop.Handler(http.HandlerFunc(h.logout)))
	mux.HandleFunc("GET "+pathPrefix+"{$}", h.authed(h.overview))
	mux.HandleFunc("GET "+pathSources, h.authed(h.sources))
	mux.HandleFunc("GET "+pathCampaign, h.authed(h.campaigns))
	mux.HandleFunc("GET "+pathCampaign+"/{id}", h.authed(h.campaign))
	mux.HandleFunc("GET "+pathSubs, h.authed(h.subscribers))
	mux.Handle("POST "+pathExport, h.cop.Handler(http.HandlerFunc(h.authed(h.export))))
	// Anything else: without a session the login page, with one "not found".
	mux.HandleFunc(pathPrefix, h.authed(h.notFound))
	return mux
}

// ServeHTTP answers 404 for every path until an administrator exists.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	// Stricter than the site: nothing here is cached, framed, indexed or
	// passed on in a Referer.
	hdr.Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Robots-Tag", "noindex, nofollow")
	has, err := h.st.HasAdmins(r.Context())
	if err != nil {
		h.log.Error("admin: has admins", "err", err)
		h.fail(w, r)
		return
	}
	if !has {
		http.NotFound(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) fail(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "Błąd serwera. Spróbuj ponownie za chwilę.", http.StatusInternalServerError)
}

// peerIP is the TCP peer's address.
func peerIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(strings.TrimSpace(host))
	return ip.Unmap()
}

// audit writes an event to the admin log and slog.
func (h *Handler) audit(ctx context.Context, event, email string, client netip.Addr, detail string) {
	h.log.Info("admin "+event, "email", email, "client", client.String(), "detail", detail)
	if err := h.st.AddAdminLog(ctx, store.AdminLogEntry{
		At: h.now(), Event: event, Email: email, Client: client.String(), Detail: detail,
	}); err != nil {
		h.log.Error("admin log", "err", err)
	}
}
