package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kbpress/kb/internal/store"
)

// Limits of Mailgun webhooks.
const (
	maxWebhookBody = 64 << 10
	// webhookMaxSkew is how far a webhook's signed timestamp may be from
	// now; older calls are refused, so a captured one cannot be replayed
	// after its token has been forgotten (store.WebhookTokenTTL is longer).
	webhookMaxSkew = 5 * time.Minute
	maxWebhookTok  = 512
)

// mailgunWebhook is the part of Mailgun's webhook body kb reads.
type mailgunWebhook struct {
	Signature struct {
		Timestamp json.RawMessage `json:"timestamp"` // a string, or a number from some senders
		Token     string          `json:"token"`
		Signature string          `json:"signature"`
	} `json:"signature"`
	EventData *struct {
		Event     string `json:"event"`
		Recipient string `json:"recipient"`
		Severity  string `json:"severity"`
		Reason    string `json:"reason"`
		// The message's variables (kb-campaign names its campaign), read
		// leniently: a malformed one must not make Mailgun retry for hours.
		UserVariables json.RawMessage `json:"user-variables"`
	} `json:"event-data"`
}

// varCampaign is the user variable that names a newsletter's campaign
// (newsletter.VarCampaign; a test keeps them equal).
const varCampaign = "kb-campaign"

// webhookCampaign is the campaign id in a webhook's user variables (a
// string, or a number from some senders); 0 when there is none.
func webhookCampaign(userVars json.RawMessage) int64 {
	var vars map[string]json.RawMessage
	if json.Unmarshal(userVars, &vars) != nil {
		return 0
	}
	raw, ok := vars[varCampaign]
	if !ok {
		return 0
	}
	s := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(s, `"`) && json.Unmarshal(raw, &s) != nil {
		return 0
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// mailgunWebhook is POST /api/webhooks/mailgun: bounces, complaints and
// Mailgun-side unsubscribes. Answers follow Mailgun's retry rules: 2xx and
// 406 are final, anything else is retried for hours — so a call that can
// never succeed (bad timestamp, replay) gets 406, and one kb could not
// store gets 500 to be retried.
func (h *Handler) mailgunWebhook(w http.ResponseWriter, r *http.Request) {
	if h.webhookKey == nil {
		h.notFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		webhookAnswer(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || media != mediaJSON {
		webhookAnswer(w, http.StatusUnsupportedMediaType, "want application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			webhookAnswer(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		webhookAnswer(w, http.StatusBadRequest, "cannot read body")
		return
	}
	var wh mailgunWebhook
	if err := json.Unmarshal(body, &wh); err != nil || wh.EventData == nil {
		webhookAnswer(w, http.StatusBadRequest, "malformed webhook body")
		return
	}
	tsText, ts, ok := webhookTimestamp(wh.Signature.Timestamp)
	if !ok || wh.Signature.Token == "" || len(wh.Signature.Token) > maxWebhookTok || wh.Signature.Signature == "" {
		webhookAnswer(w, http.StatusBadRequest, "malformed signature")
		return
	}
	if !h.validWebhookSignature(tsText, wh.Signature.Token, wh.Signature.Signature) {
		h.log.Warn("mailgun webhook: bad signature")
		webhookAnswer(w, http.StatusUnauthorized, "bad signature")
		return
	}
	now := h.now()
	if d := now.Sub(time.Unix(ts, 0)); d > webhookMaxSkew || d < -webhookMaxSkew {
		h.log.Warn("mailgun webhook: timestamp out of range", "skew", d.Round(time.Second))
		webhookAnswer(w, http.StatusNotAcceptable, "stale timestamp")
		return
	}
	ev := wh.EventData
	var (
		status store.Status
		stat   string
	)
	switch {
	case ev.Event == "failed" && ev.Severity == "permanent":
		status, stat = store.StatusBounced, store.StatPermanentFailure
	case ev.Event == "failed":
		// Mailgun retries a temporary failure: counted, it suppresses
		// nobody.
		stat = store.StatTemporaryFailure
	case ev.Event == "delivered":
		stat = store.StatDelivered
	case ev.Event == "complained":
		status, stat = store.StatusComplained, store.StatComplained
	case ev.Event == "unsubscribed":
		status, stat = store.StatusUnsubscribed, store.StatUnsubscribed
	case ev.Event == "opened" && h.cfg.Params.Newsletter.Tracking:
		stat = store.StatOpened // the campaign's total only: never who opened
	case ev.Event == "clicked" && h.cfg.Params.Newsletter.Tracking:
		stat = store.StatClicked
	}
	// Other events (opened, clicked without tracking, accepted…) are not
	// kb's business: their token is recorded, nothing else.
	reason := "mailgun: " + ev.Event
	if ev.Reason != "" {
		reason += ": " + ev.Reason
	}
	campaign := webhookCampaign(ev.UserVariables)
	if campaign == 0 {
		stat = ""
	}
	seen, found, err := h.store.RecordWebhook(r.Context(), store.WebhookEvent{Token: wh.Signature.Token, Email: ev.Recipient,
		Status: status, Reason: reason, CampaignID: campaign, Stat: stat}, now)
	switch {
	case errors.Is(err, store.ErrInvalidEmail):
		h.log.Warn("mailgun webhook: invalid recipient", "event", ev.Event)
		webhookAnswer(w, http.StatusNotAcceptable, "invalid recipient")
		return
	case err != nil:
		h.log.Error("mailgun webhook", "event", ev.Event, "err", err)
		webhookAnswer(w, http.StatusInternalServerError, "try again")
		return
	case seen:
		h.log.Warn("mailgun webhook: replayed token")
		webhookAnswer(w, http.StatusNotAcceptable, "replayed")
		return
	case status == "" && stat == "":
		h.log.Debug("mailgun webhook ignored", "event", ev.Event, "severity", ev.Severity)
		webhookAnswer(w, http.StatusOK, "ignored")
		return
	case status == "":
		h.log.Debug("mailgun webhook counted", "event", ev.Event, "campaign", campaign)
		webhookAnswer(w, http.StatusOK, "ok")
		return
	}
	h.log.Info("mailgun webhook", "event", ev.Event, "status", string(status), "known", found, "campaign", campaign)
	webhookAnswer(w, http.StatusOK, "ok")
}

// webhookTimestamp reads the signed timestamp, a string or a number of
// Unix seconds, and returns it as text (as signed) and as a number.
func webhookTimestamp(raw json.RawMessage) (string, int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", 0, false
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	return s, ts, err == nil && ts > 0
}

// validWebhookSignature checks Mailgun's signature: the hex HMAC-SHA256 of
// the timestamp (as sent) followed by the token, keyed with the signing
// key, compared in constant time.
func (h *Handler) validWebhookSignature(ts, tok, sig string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, h.webhookKey)
	mac.Write([]byte(ts))
	mac.Write([]byte(tok))
	return hmac.Equal(got, mac.Sum(nil))
}

func webhookAnswer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
