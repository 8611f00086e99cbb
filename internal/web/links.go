package web

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// The handlers of the links in emails. Mail scanners fetch every link of
// an email before the reader does, so GET never changes anything: it shows
// a page whose button POSTs the same token. Every link names its
// subscriber by id and the row's random key (token.KeyMatches).

// maxLinkBody bounds the body of a POST to a link (RFC 8058 sends
// "List-Unsubscribe=One-Click").
const maxLinkBody = 16 << 10

// link is the store's reference for a verified token.
func link(c token.Claims) store.Link {
	return store.Link{ID: c.SubscriberID, Key: c.Key, Legacy: c.Legacy}
}

// confirm is /api/confirm?token=…, the double opt-in: GET shows a page with
// the "Potwierdzam zapis" button; POST (that button) confirms.
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request) {
	if !h.allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	now := h.now()
	tok := r.URL.Query().Get("token")
	c, err := h.signer.Verify(tok, token.Confirm, now)
	if errors.Is(err, token.ErrExpired) {
		h.confirmExpired(w, r, c, now)
		return
	}
	if err != nil || c.Expires.IsZero() {
		h.log.Info("confirm: invalid link", "err", err)
		h.badLink(w)
		return
	}
	if r.Method == http.MethodGet {
		h.confirmPage(w, r, c, tok, now)
		return
	}
	if status := readLinkBody(w, r); status != 0 {
		h.linkBodyRefused(w, status)
		return
	}
	// Links carry their expiry; the store wants the issue time, to refuse
	// links older than a later unsubscribe.
	sub, outcome, err := h.store.Confirm(r.Context(), link(c), r.UserAgent(), c.Expires.Add(-token.ConfirmTTL), now)
	if err != nil {
		h.log.Error("confirm failed", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	}
	h.log.Info("confirm", "subscriber", c.SubscriberID, "outcome", string(outcome))
	switch outcome {
	case store.ConfirmDone:
		h.notify() // the store queued the welcome email
		h.confirmedPage(w, sub, c, now)
	case store.ConfirmAlreadyConfirmed:
		h.confirmedPage(w, sub, c, now)
	default:
		h.confirmInactive(w)
	}
}

// confirmPage is what GET on a confirmation link shows: the button, or,
// when there is nothing left to confirm, the page the reader would get
// after it. It changes nothing.
func (h *Handler) confirmPage(w http.ResponseWriter, r *http.Request, c token.Claims, tok string, now time.Time) {
	sub, err := h.store.GetByLink(r.Context(), link(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.confirmInactive(w)
		return
	case err != nil:
		h.log.Error("confirm page: look up subscriber", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	case sub.Status == store.StatusConfirmed:
		h.confirmedPage(w, sub, c, now)
		return
	case sub.Status != store.StatusPending:
		h.confirmInactive(w)
		return
	}
	h.render(w, http.StatusOK, &page{
		Title: titleConfirm, Heading: titleConfirm,
		Lead:       fmt.Sprintf(msgConfirmLead, maskEmail(sub.Email)),
		Paragraphs: []string{msgConfirmHelp},
		Button: &buttonForm{
			// The same URL, rebuilt: only the verified token goes back.
			Action: token.ConfirmPath + "?token=" + url.QueryEscape(tok),
			Button: msgConfirmButton,
		},
	})
}

func (h *Handler) confirmInactive(w http.ResponseWriter) {
	h.notice(w, http.StatusGone, titleInactive, msgInactiveLead, []string{msgInactiveHelp},
		action{Href: pathNewsletter, Label: msgSignUpAgain})
}

// confirmExpired explains an expired link, unless the reader confirmed in
// time and is only opening the old link again (then the confirmed page,
// without a fresh download link: an expired token mints nothing).
func (h *Handler) confirmExpired(w http.ResponseWriter, r *http.Request, c token.Claims, now time.Time) {
	sub, err := h.store.GetByLink(r.Context(), link(c))
	if err == nil && sub.Status == store.StatusConfirmed {
		h.confirmedPage(w, sub, token.Claims{}, now)
		return
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.Warn("confirm: look up subscriber of an expired link", "subscriber", c.SubscriberID, "err", err)
	}
	h.notice(w, http.StatusGone, titleExpired, msgExpiredLead, []string{msgExpiredAgain},
		action{Href: pathNewsletter, Label: msgSignUpAgain})
}

// confirmedPage thanks a confirmed subscriber. A gated whitepaper's
// download link is minted only from c, an unexpired confirmation token of
// that confirmed subscriber; a zero c shows where the link went instead.
func (h *Handler) confirmedPage(w http.ResponseWriter, sub store.Subscriber, c token.Claims, now time.Time) {
	lead := msgConfirmedLead
	if f := h.cfg.Params.Newsletter.Frequency; f != "" {
		lead = fmt.Sprintf(msgConfirmedLeadFreq, f)
	}
	p := &page{
		Title: titleConfirmed, Heading: titleConfirmed,
		Lead: lead, Paragraphs: []string{msgConfirmedWelcome, msgConfirmedUnsub},
		Actions: []action{{Href: pathGuides, Label: msgToGuides}},
	}
	if c.SubscriberID == sub.ID && sub.Status == store.StatusConfirmed && now.Before(c.Expires) {
		// The reader holds an unexpired confirmation link: the same
		// preference link the welcome email brings, at once.
		tok := h.signer.Sign(token.Claims{Purpose: token.Preferences, SubscriberID: sub.ID, Key: sub.LinkKey})
		p.Actions = append(p.Actions, action{Href: token.PreferencesPath + "?token=" + url.QueryEscape(tok), Label: msgConfirmedPrefs, Secondary: true})
	}
	if sub.WhitepaperRequested {
		d := &download{Title: msgConfirmedWPTitle, Label: msgConfirmedWPButton}
		switch {
		case !h.gated:
			d.Text = msgConfirmedWPFree
			d.URL = h.opts.WhitepaperURL
			if d.URL == "" {
				d.URL = pathWhitepaper
			}
		case c.SubscriberID == sub.ID && sub.Status == store.StatusConfirmed && now.Before(c.Expires):
			d.Text = msgConfirmedWPGated
			d.URL = h.whitepaperPath(sub, now)
		default:
			d = nil
			p.Paragraphs = append(p.Paragraphs, msgConfirmedWPAgain)
		}
		p.Download = d
	}
	h.render(w, http.StatusOK, p)
}

// whitepaperPath is a signed download link for sub, valid for
// token.WhitepaperTTL from now; relative, so it works on any host name.
func (h *Handler) whitepaperPath(sub store.Subscriber, now time.Time) string {
	tok := h.signer.Sign(token.Claims{Purpose: token.Whitepaper, SubscriberID: sub.ID, Key: sub.LinkKey, Expires: now.Add(token.WhitepaperTTL)})
	return token.WhitepaperPath + "?token=" + url.QueryEscape(tok)
}

func (h *Handler) badLink(w http.ResponseWriter) {
	h.notice(w, http.StatusBadRequest, titleBadLink, msgBadLinkLead, []string{msgBadLinkHelp},
		action{Href: pathNewsletter, Label: msgSignUpAgain})
}

// unsubscribe is /api/unsubscribe?token=…: GET shows a page with a button
// and changes nothing; POST unsubscribes, from that button or as an
// RFC 8058 one-click request from a mail client. The token is the
// authorisation (mail providers post cross-site, without cookies), and
// unsubscribe links never expire.
func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if !h.allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	now := h.now()
	tok := r.URL.Query().Get("token")
	c, err := h.signer.Verify(tok, token.Unsubscribe, now)
	if err != nil || !c.Expires.IsZero() {
		h.log.Info("unsubscribe: invalid link", "err", err)
		h.badLink(w)
		return
	}
	if r.Method == http.MethodGet {
		h.unsubscribePage(w, r, c, tok)
		return
	}

	if status := readLinkBody(w, r); status != 0 {
		h.linkBodyRefused(w, status)
		return
	}
	oneClick := r.PostForm.Get("List-Unsubscribe") == "One-Click"
	reason := "unsubscribe link"
	if oneClick {
		reason = "one-click unsubscribe (RFC 8058)"
	}
	campaign := unsubscribeCampaign(r.URL.Query().Get(paramCampaign))
	_, changed, err := h.store.UnsubscribeLinkFrom(r.Context(), link(c), campaign, reason, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Erased meanwhile, or a link for another row: nothing is sent to
		// its owner either way.
		h.log.Info("unsubscribe: subscriber not found", "subscriber", c.SubscriberID)
	case err != nil:
		h.log.Error("unsubscribe failed", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	default:
		h.log.Info("unsubscribe", "subscriber", c.SubscriberID, "changed", changed, "one_click", oneClick, "campaign", campaign)
	}
	h.notice(w, http.StatusOK, titleUnsubDone, msgUnsubDoneLead, []string{msgUnsubDoneHelp},
		action{Href: pathNewsletter, Label: msgSignUpAgain})
}

// paramCampaign names, in a newsletter's unsubscribe link, the campaign
// whose email carried it (newsletter.ParamCampaign; a test keeps them
// equal). It is outside the signed token, so the store counts it only for
// a recipient of that campaign.
const paramCampaign = "c"

// unsubscribeCampaign reads the campaign parameter; 0 when absent or not a
// plain positive number.
func unsubscribeCampaign(s string) int64 {
	if s == "" || len(s) > 19 {
		return 0
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// readLinkBody parses the form body of a POST to a link (r.PostForm).
// status is non-zero for a body that cannot be read.
func readLinkBody(w http.ResponseWriter, r *http.Request) (status int) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLinkBody)
	media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	if media == "multipart/form-data" {
		err = r.ParseMultipartForm(maxLinkBody)
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
	} else {
		err = r.ParseForm() // urlencoded; other bodies are not read
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return http.StatusRequestEntityTooLarge
		}
		return http.StatusBadRequest
	}
	return 0
}

func (h *Handler) linkBodyRefused(w http.ResponseWriter, status int) {
	msg := msgBadForm
	if status == http.StatusRequestEntityTooLarge {
		msg = msgTooLarge
	}
	h.notice(w, status, titleError, msg, nil)
}

func (h *Handler) unsubscribePage(w http.ResponseWriter, r *http.Request, c token.Claims, tok string) {
	id := c.SubscriberID
	sub, err := h.store.GetByLink(r.Context(), link(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.notice(w, http.StatusOK, titleNotListed, msgNotListedLead, []string{msgNotListedAgain},
			action{Href: pathNewsletter, Label: msgSignUpAgain})
		return
	case err != nil:
		h.log.Error("unsubscribe page: look up subscriber", "subscriber", id, "err", err)
		h.serverError(w)
		return
	}
	masked := maskEmail(sub.Email)
	if sub.Status == store.StatusUnsubscribed || sub.Status == store.StatusComplained {
		h.notice(w, http.StatusOK, titleUnsubBefore, fmt.Sprintf(msgUnsubBefore, masked), nil,
			action{Href: pathNewsletter, Label: msgSignUpAgain})
		return
	}
	action := token.UnsubscribePath + "?token=" + url.QueryEscape(tok)
	if id := unsubscribeCampaign(r.URL.Query().Get(paramCampaign)); id > 0 {
		action += "&" + paramCampaign + "=" + strconv.FormatInt(id, 10)
	}
	h.render(w, http.StatusOK, &page{
		Title: titleUnsubscribe, Heading: titleUnsubscribe,
		Lead:       fmt.Sprintf(msgUnsubLead, masked),
		Paragraphs: []string{msgUnsubHelp},
		Button: &buttonForm{
			// The same URL, rebuilt: only the verified token (and a
			// well-formed campaign id) goes back.
			Action: action,
			Button: msgUnsubButton, StayURL: pathGuides, StayLabel: msgUnsubStay,
		},
	})
}

// maskEmail shows enough of an address for its owner to recognise it:
// jan.kowalski@gmail.com → j•••i@g•••l.com.
func maskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return maskPart(addr)
	}
	local, domain := addr[:at], addr[at+1:]
	if dot := strings.IndexByte(domain, '.'); dot > 0 {
		domain = maskPart(domain[:dot]) + domain[dot:]
	} else {
		domain = maskPart(domain)
	}
	return maskPart(local) + "@" + domain
}

func maskPart(s string) string {
	r := []rune(s)
	switch len(r) {
	case 0:
		return "•••"
	case 1, 2, 3:
		return string(r[0]) + "•••"
	}
	return string(r[0]) + "•••" + string(r[len(r)-1])
}

// whitepaper is GET /api/whitepaper?token=…: the gated PDF for a
// subscriber, with a link valid for 7 days. When the whitepaper is free
// the PDF is a static file and this route does not exist.
func (h *Handler) whitepaper(w http.ResponseWriter, r *http.Request) {
	if !h.gated {
		h.notFound(w, r)
		return
	}
	if !h.allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	c, err := h.signer.Verify(r.URL.Query().Get("token"), token.Whitepaper, h.now())
	switch {
	case errors.Is(err, token.ErrExpired):
		h.notice(w, http.StatusGone, titleWPExpired, msgWPExpiredLead, []string{msgWPExpiredHelp},
			action{Href: pathWhitepaper, Label: msgWPGetNew})
		return
	case err != nil || c.Expires.IsZero():
		h.log.Info("whitepaper: invalid link", "err", err)
		h.badLink(w)
		return
	}
	// The download is for confirmed subscribers only, still: a link from
	// before an unsubscribe, a bounce or an erasure downloads nothing.
	sub, err := h.store.GetByLink(r.Context(), link(c))
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && sub.Status != store.StatusConfirmed:
		h.notice(w, http.StatusGone, titleInactive, msgWPInactive, []string{msgWPExpiredHelp},
			action{Href: pathWhitepaper, Label: msgWPGetNew})
		return
	case err != nil:
		h.log.Error("whitepaper: look up subscriber", "subscriber", c.SubscriberID, "err", err)
		h.serverError(w)
		return
	}
	f, err := os.Open(h.opts.WhitepaperFile)
	if err != nil {
		h.log.Error("whitepaper: open PDF", "err", err)
		h.notice(w, http.StatusServiceUnavailable, titleWPMissing, msgWPMissingLead, nil)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		h.log.Error("whitepaper: PDF is not a file", "err", err)
		h.notice(w, http.StatusServiceUnavailable, titleWPMissing, msgWPMissingLead, nil)
		return
	}
	name := h.opts.WhitepaperFilename
	if name == "" {
		name = filepath.Base(h.opts.WhitepaperFile)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/pdf")
	hdr.Set("Content-Disposition", contentDisposition(name))
	hdr.Set("Cache-Control", "private") // the reader's browser may keep it; shared caches must not
	hdr.Set("X-Robots-Tag", "noindex")
	h.log.Info("whitepaper download", "subscriber", c.SubscriberID, "range", r.Header.Get("Range") != "")
	if r.Method == http.MethodGet {
		// A figure, not a gate: a failure to note it does not stop the
		// download.
		if _, err := h.store.RecordWhitepaperDownload(r.Context(), sub.ID, h.now()); err != nil {
			h.log.Warn("whitepaper: record download", "subscriber", sub.ID, "err", err)
		}
	}
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// contentDisposition names an attachment for every browser: an ASCII
// fallback and the UTF-8 name (RFC 6266, RFC 8187).
func contentDisposition(name string) string {
	return `attachment; filename="` + asciiFilename(name) + `"; filename*=UTF-8''` + rfc8187(name)
}

var polishFold = strings.NewReplacer(
	"ą", "a", "ć", "c", "ę", "e", "ł", "l", "ń", "n", "ó", "o", "ś", "s", "ź", "z", "ż", "z",
	"Ą", "A", "Ć", "C", "Ę", "E", "Ł", "L", "Ń", "N", "Ó", "O", "Ś", "S", "Ź", "Z", "Ż", "Z",
)

// asciiFilename folds Polish letters and replaces whatever else would not
// survive a quoted header parameter.
func asciiFilename(name string) string {
	name = polishFold.Replace(name)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == '/' {
			return '_'
		}
		return r
	}, name)
}

// rfc8187 percent-encodes everything but attr-char.
func rfc8187(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$&+-.^_`|~", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
