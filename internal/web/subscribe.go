package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/kbpress/kb/internal/store"
)

// signupAnswer is the JSON contract of signup.js (see the header of
// layouts/_partials/signup-form.html).
type signupAnswer struct {
	OK      bool              `json:"ok"`
	Message string            `json:"message"`
	Errors  map[string]string `json:"errors,omitempty"`
}

// doneAnswer is the one success body, prepared once: a signup of a new
// address, of a known one, and a honeypot hit answer byte for byte alike.
var doneAnswer = func() []byte {
	b, err := json.Marshal(signupAnswer{OK: true, Message: msgSignupDone})
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}()

// subscribe is POST /api/subscribe: the site's form (urlencoded, answered
// with a redirect or an HTML page) and signup.js (JSON in and out).
func (h *Handler) subscribe(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	cors := origin != "" && h.corsOrigins[strings.ToLower(origin)]
	if cors {
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Expose-Headers", "Retry-After")
	}
	asJSON := wantsJSON(r)
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		h.preflight(w, r, cors)
		return
	default:
		hdr.Set("Allow", "OPTIONS, POST")
		h.signupRefused(w, asJSON, http.StatusMethodNotAllowed, titleMethod, msgMethod)
		return
	}

	// A form on another site must not sign its visitors up here. Browsers
	// tell with Sec-Fetch-Site (or Origin); the site's own origin and the
	// configured partner origins are trusted.
	if err := h.cop.Check(r); err != nil {
		h.log.Info("signup refused: cross-origin request", "origin", origin, "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		h.signupRefused(w, asJSON, http.StatusForbidden, titleCrossSite, msgCrossSite)
		return
	}

	ip := h.proxies.clientIP(r)
	now := h.now()
	if h.limiter != nil && ip.IsValid() {
		if ok, wait := h.limiter.allow(ip, now); !ok {
			secs := retryAfterSeconds(wait)
			hdr.Set("Retry-After", strconv.Itoa(secs))
			h.log.Info("signup refused: rate limit", "retry_after_s", secs)
			h.signupRefused(w, asJSON, http.StatusTooManyRequests, titleTooMany,
				msgSignupRate+" "+fmt.Sprintf(msgRetryIn, secs))
			return
		}
	}

	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (media != mediaForm && media != mediaJSON) {
		h.signupRefused(w, asJSON, http.StatusUnsupportedMediaType, titleMediaType, msgMediaType)
		return
	}
	if r.ContentLength > maxSubscribeBody {
		h.signupRefused(w, asJSON, http.StatusRequestEntityTooLarge, titleTooLarge, msgTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSubscribeBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.signupRefused(w, asJSON, http.StatusRequestEntityTooLarge, titleTooLarge, msgTooLarge)
			return
		}
		h.log.Info("signup: reading the body failed", "err", err)
		h.signupRefused(w, asJSON, http.StatusBadRequest, titleError, msgBadForm)
		return
	}

	in, vals, ierr := parseSubscribe(media, body)
	if ierr != nil {
		h.signupInvalid(w, asJSON, ierr, vals)
		return
	}
	if in.Honeypot {
		h.log.Info("signup ignored: honeypot field filled")
		h.signupDone(w, asJSON)
		return
	}
	consentIP := ""
	if ip.IsValid() {
		consentIP = ip.String()
	}
	sub, outcome, err := h.store.Subscribe(r.Context(), store.SignupRequest{
		Email:           in.Email,
		Name:            in.Name,
		WantsWhitepaper: in.Whitepaper,
		Consent: store.Consent{
			At:      now,
			Version: h.cfg.Params.Signup.ConsentVersion,
			Source:  in.Source,
			IP:      consentIP,
		},
	}, now)
	if err != nil {
		h.log.Error("signup failed", "err", err)
		h.signupRefused(w, asJSON, http.StatusInternalServerError, titleError, msgSignupFailed)
		return
	}
	h.log.Debug("signup", "subscriber", sub.ID, "outcome", string(outcome), "whitepaper", in.Whitepaper)
	if outcome.ConfirmationQueued() || outcome == store.SignupWhitepaperQueued {
		h.notify()
	}
	h.signupDone(w, asJSON)
}

// wantsJSON tells signup.js (JSON body, Accept: application/json) from the
// plain form.
func wantsJSON(r *http.Request) bool {
	if media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && media == mediaJSON {
		return true
	}
	for _, accept := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(accept, ",") {
			if media, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && media == mediaJSON {
				return true
			}
		}
	}
	return false
}

// preflight answers a CORS preflight: the allowed origins may POST JSON;
// others get no CORS headers, so their browsers do not send the request.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request, cors bool) {
	hdr := w.Header()
	hdr.Set("Allow", "OPTIONS, POST")
	if cors && r.Header.Get("Access-Control-Request-Method") != "" {
		hdr.Set("Access-Control-Allow-Methods", "POST")
		hdr.Set("Access-Control-Allow-Headers", "Content-Type, Accept")
		hdr.Set("Access-Control-Max-Age", "7200")
	}
	w.WriteHeader(http.StatusNoContent)
}

// signupDone is the answer to every accepted signup, whatever the store
// did with it.
func (h *Handler) signupDone(w http.ResponseWriter, asJSON bool) {
	if asJSON {
		writeJSON(w, http.StatusOK, doneAnswer)
		return
	}
	w.Header().Set("Location", pathThanks)
	w.WriteHeader(http.StatusSeeOther)
}

// signupRefused answers a request refused as a whole (not field by field).
func (h *Handler) signupRefused(w http.ResponseWriter, asJSON bool, status int, title, msg string) {
	if asJSON {
		b, _ := json.Marshal(signupAnswer{OK: false, Message: msg})
		writeJSON(w, status, append(b, '\n'))
		return
	}
	h.notice(w, status, title, msg, nil, action{Href: pathNewsletter, Label: msgToNewsletter})
}

// signupInvalid answers a signup with fields to correct: JSON for
// signup.js, or the form again with the reader's values and the messages.
func (h *Handler) signupInvalid(w http.ResponseWriter, asJSON bool, e *inputError, vals formValues) {
	if asJSON {
		b, _ := json.Marshal(signupAnswer{OK: false, Message: e.message, Errors: e.fields})
		writeJSON(w, e.status, append(b, '\n'))
		return
	}
	if e.status != http.StatusUnprocessableEntity && e.status != http.StatusBadRequest {
		h.signupRefused(w, false, e.status, titleError, e.message)
		return
	}
	f := h.newForm(vals)
	f.Summary = e.message
	f.Err = e.fields
	for _, field := range []struct{ name, label string }{
		{"email", msgFormEmail}, {"name", msgFormName}, {"consent", msgFormConsentLabel},
	} {
		msg, ok := e.fields[field.name]
		if !ok {
			continue
		}
		f.Problems = append(f.Problems, problem{Field: field.name, Label: field.label, Message: msg})
		if f.Focus == "" {
			f.Focus = field.name
		}
	}
	h.render(w, e.status, &page{Title: msgSignupErrorTi, Heading: msgSignupTitle, Form: f})
}

// newForm is the site's signup form filled with vals.
func (h *Handler) newForm(vals formValues) *signupForm {
	return &signupForm{
		ID:    "signup",
		Email: vals.Email, Name: vals.Name, Consent: vals.Consent, Whitepaper: vals.Whitepaper, Source: vals.Source,
		Err:   map[string]string{},
		Label: h.formLabels,
		Msg: formMessages{
			Sending: msgFormSending, Done: msgSignupDone, Error: msgSignupFailed,
			Network: msgFormNetwork, Rate: msgSignupRate, Fields: msgSignupFields,
		},
	}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
