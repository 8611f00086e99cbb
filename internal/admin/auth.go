package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kbpress/kb/internal/store"
)

// Brute-force limits: failures (wrong passwords or codes) counted per
// account — known or not, so that an unknown one answers alike — and per
// client; past a limit every attempt answers 429 until a wait that doubles
// with each further failure.
const (
	accountLimit  = 5
	clientLimit   = 20
	firstWait     = time.Minute
	maxWait       = time.Hour
	forgetFailure = 24 * time.Hour // a failure this old no longer counts
)

// waitAfter is how long a key is blocked after its nth failure.
func waitAfter(limit int) func(int) time.Duration {
	return func(n int) time.Duration {
		if n < limit {
			return 0
		}
		d := firstWait << min(n-limit, 10)
		return min(d, maxWait)
	}
}

func accountKey(email string) string { return "account:" + strings.ToLower(strings.TrimSpace(email)) }
func clientKey(ip netip.Addr) string { return "client:" + ip.String() }

// session is a request's valid session and its administrator.
type session struct {
	store.AdminSession
	Admin store.Admin
}

func hashSessionID(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// newSession stores a session with a fresh random id in place of old
// (fixation: every login stage gets a new id) and sets its cookie.
func (h *Handler) newSession(w http.ResponseWriter, r *http.Request, old string, s store.AdminSession) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	raw := base64.RawURLEncoding.EncodeToString(b)
	now := h.now()
	s.ID, s.CreatedAt, s.SeenAt = hashSessionID(raw), now, now
	if err := h.st.ReplaceAdminSession(r.Context(), old, s); err != nil {
		return err
	}
	http.SetCookie(w, h.makeCookie(raw, int(absoluteTimeout/time.Second)))
	return nil
}

func (h *Handler) makeCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: h.cookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode,
	}
}

func (h *Handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, h.makeCookie("", -1))
}

// currentSession returns the request's session if it is alive; expired
// ones are deleted. ok is false without one.
func (h *Handler) currentSession(r *http.Request) (s session, ok bool, err error) {
	c, err := r.Cookie(h.cookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return session{}, false, nil
	}
	ctx := r.Context()
	as, err := h.st.AdminSessionByID(ctx, hashSessionID(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, err
	}
	now := h.now()
	limit := as.CreatedAt.Add(absoluteTimeout)
	if as.Stage != store.AdminStageFull {
		limit = as.CreatedAt.Add(codeTimeout)
	}
	if now.After(limit) || now.Sub(as.SeenAt) > idleTimeout {
		if err := h.st.DeleteAdminSession(ctx, as.ID); err != nil {
			return session{}, false, err
		}
		return session{}, false, nil
	}
	a, err := h.st.AdminByID(ctx, as.AdminID)
	if errors.Is(err, store.ErrNotFound) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, err
	}
	if now.Sub(as.SeenAt) > touchEvery {
		if err := h.st.TouchAdminSession(ctx, as.ID, now); err != nil {
			return session{}, false, err
		}
	}
	return session{AdminSession: as, Admin: a}, true, nil
}

// authed runs next only with a logged-in session; otherwise 303 to the
// login page.
func (h *Handler) authed(next func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok, err := h.currentSession(r)
		if err != nil {
			h.log.Error("admin: session", "err", err)
			h.fail(w, r)
			return
		}
		if !ok || s.Stage != store.AdminStageFull {
			http.Redirect(w, r, pathLogin, http.StatusSeeOther)
			return
		}
		next(w, r, s)
	}
}

// blocked answers 429 when any of keys is blocked, and reports whether it
// did.
func (h *Handler) blocked(w http.ResponseWriter, r *http.Request, email string, client netip.Addr, keys ...string) bool {
	until, err := h.st.AdminBlockedUntil(r.Context(), keys...)
	if err != nil {
		h.log.Error("admin: throttle", "err", err)
		h.fail(w, r)
		return true
	}
	wait := until.Sub(h.now())
	if wait <= 0 {
		return false
	}
	h.audit(r.Context(), "throttled", email, client, "")
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	h.render(w, http.StatusTooManyRequests, "message", page{Title: "Za dużo prób",
		Message: "Za dużo nieudanych prób logowania. Spróbuj ponownie za " + polishWait(wait) + "."})
	return true
}

// failed counts a failure against the account and the client.
func (h *Handler) failed(ctx context.Context, email string, client netip.Addr, detail string) {
	now := h.now()
	forget := now.Add(-forgetFailure)
	if _, err := h.st.AdminFailure(ctx, accountKey(email), now, forget, waitAfter(accountLimit)); err != nil {
		h.log.Error("admin: count failure", "err", err)
	}
	if _, err := h.st.AdminFailure(ctx, clientKey(client), now, forget, waitAfter(clientLimit)); err != nil {
		h.log.Error("admin: count failure", "err", err)
	}
	h.audit(ctx, "login_failed", email, client, detail)
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if s, ok, _ := h.currentSession(r); ok && s.Stage == store.AdminStageFull {
		http.Redirect(w, r, pathPrefix, http.StatusSeeOther)
		return
	}
	h.render(w, http.StatusOK, "login", page{Title: "Logowanie"})
}

// maxFormBytes bounds every admin form.
const maxFormBytes = 4 << 10

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Nieprawidłowy formularz.", http.StatusBadRequest)
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))
	password := r.PostForm.Get("password")
	client := h.clientIP(r)
	if len(email) > 254 || len(password) > 1024 {
		http.Error(w, "Nieprawidłowy formularz.", http.StatusBadRequest)
		return
	}
	if h.blocked(w, r, email, client, accountKey(email), clientKey(client)) {
		return
	}
	ctx := r.Context()
	a, err := h.st.AdminByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.Error("admin: login", "err", err)
		h.fail(w, r)
		return
	}
	// An unknown account costs the same hash as a known one.
	hash := h.dummy
	if known {
		hash = a.PasswordHash
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil {
		h.log.Error("admin: stored password hash unreadable", "email", email, "err", err)
	}
	if !ok || !known {
		h.failed(ctx, email, client, "password")
		h.render(w, http.StatusUnauthorized, "login", page{Title: "Logowanie", Email: email,
			Error: "Nieprawidłowy adres e-mail lub hasło."})
		return
	}
	next := store.AdminSession{AdminID: a.ID, Stage: store.AdminStagePassword}
	if a.TOTPSecret == "" {
		if next.EnrolSecret, err = newTOTPSecret(h.issuer, a.Email); err != nil {
			h.log.Error("admin: login", "err", err)
			h.fail(w, r)
			return
		}
	}
	var old string
	if c, err := r.Cookie(h.cookie); err == nil {
		old = hashSessionID(c.Value)
	}
	if err := h.newSession(w, r, old, next); err != nil {
		h.log.Error("admin: login", "err", err)
		h.fail(w, r)
		return
	}
	if _, err := h.st.ExpireAdminSessions(ctx, h.now().Add(-idleTimeout), h.now().Add(-absoluteTimeout)); err != nil {
		h.log.Warn("admin: expire sessions", "err", err)
	}
	http.Redirect(w, r, pathCode, http.StatusSeeOther)
}

// pendingSession is a session past the password, waiting for its code.
func (h *Handler) pendingSession(w http.ResponseWriter, r *http.Request) (session, bool) {
	s, ok, err := h.currentSession(r)
	if err != nil {
		h.log.Error("admin: session", "err", err)
		h.fail(w, r)
		return session{}, false
	}
	if !ok {
		http.Redirect(w, r, pathLogin, http.StatusSeeOther)
		return session{}, false
	}
	if s.Stage == store.AdminStageFull {
		http.Redirect(w, r, pathPrefix, http.StatusSeeOther)
		return session{}, false
	}
	return s, true
}

func (h *Handler) codePage(w http.ResponseWriter, status int, s session, msg string) {
	p := page{Title: "Kod jednorazowy", Error: msg}
	if s.Admin.TOTPSecret == "" {
		e, err := enrolmentFor(h.issuer, s.Admin.Email, s.EnrolSecret)
		if err != nil {
			h.log.Error("admin: enrolment", "err", err)
			http.Error(w, "Błąd serwera.", http.StatusInternalServerError)
			return
		}
		p.Title, p.Enrol = "Włącz kody jednorazowe", &e
	}
	h.render(w, status, "code", p)
}

func (h *Handler) codeForm(w http.ResponseWriter, r *http.Request) {
	if s, ok := h.pendingSession(w, r); ok {
		h.codePage(w, http.StatusOK, s, "")
	}
}

func (h *Handler) code(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Nieprawidłowy formularz.", http.StatusBadRequest)
		return
	}
	s, ok := h.pendingSession(w, r)
	if !ok {
		return
	}
	ctx, client, email := r.Context(), h.clientIP(r), s.Admin.Email
	if h.blocked(w, r, email, client, accountKey(email), clientKey(client)) {
		return
	}
	secret, enrol := s.Admin.TOTPSecret, ""
	if secret == "" {
		secret, enrol = s.EnrolSecret, s.EnrolSecret
	}
	code := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
	step := matchTOTP(secret, code, h.now())
	accepted := false
	if step > 0 {
		var err error
		// Atomic: a step not newer than the last accepted one (a replayed
		// code) is refused, whichever instance saw it first.
		if accepted, err = h.st.UseAdminTOTP(ctx, s.Admin.ID, step, enrol, h.now()); err != nil {
			h.log.Error("admin: code", "err", err)
			h.fail(w, r)
			return
		}
	}
	if !accepted {
		detail := "code"
		if step > 0 {
			detail = "code replayed"
		}
		h.failed(ctx, email, client, detail)
		h.codePage(w, http.StatusUnauthorized, s, "Nieprawidłowy albo już użyty kod. Wpisz kolejny kod z aplikacji.")
		return
	}
	if err := h.newSession(w, r, s.ID, store.AdminSession{AdminID: s.Admin.ID, Stage: store.AdminStageFull}); err != nil {
		h.log.Error("admin: login", "err", err)
		h.fail(w, r)
		return
	}
	if err := h.st.ClearAdminFailures(ctx, accountKey(email)); err != nil {
		h.log.Warn("admin: clear failures", "err", err)
	}
	detail := ""
	if enrol != "" {
		detail = "TOTP enrolled"
	}
	h.audit(ctx, "login", email, client, detail)
	http.Redirect(w, r, pathPrefix, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(h.cookie); err == nil && c.Value != "" {
		id := hashSessionID(c.Value)
		if as, err := h.st.AdminSessionByID(r.Context(), id); err == nil {
			email := ""
			if a, err := h.st.AdminByID(r.Context(), as.AdminID); err == nil {
				email = a.Email
			}
			if err := h.st.DeleteAdminSession(r.Context(), id); err != nil {
				h.log.Error("admin: logout", "err", err)
				h.fail(w, r)
				return
			}
			h.audit(r.Context(), "logout", email, h.clientIP(r), "")
		}
	}
	h.clearCookie(w)
	http.Redirect(w, r, pathLogin, http.StatusSeeOther)
}

// polishWait says d in words: "5 min", "1 godz.".
func polishWait(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(math.Ceil(d.Minutes()))) + " min"
	default:
		return strconv.Itoa(int(math.Ceil(d.Hours()))) + " godz."
	}
}
