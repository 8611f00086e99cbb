package mailguntest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// SignWebhook returns Mailgun's webhook signature: the hex HMAC-SHA256 of
// timestamp followed by token, keyed with the webhook signing key.
func SignWebhook(signingKey string, timestamp int64, token string) string {
	mac := hmac.New(sha256.New, []byte(signingKey))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil))
}

// Webhook describes one webhook call Mailgun would make. Build one with
// PermanentFailure, Complaint or Unsubscribe, adjust fields, then call JSON
// or Payload.
type Webhook struct {
	Event     string // failed, complained, unsubscribed
	Recipient string
	// Severity and Reason apply to failed events.
	Severity string
	Reason   string
	// Code and Description are the delivery status of a failed event.
	Code        int
	Description string
	MessageID   string // without angle brackets
	Tags        []string
	// UserVariables are the v: values of the original message.
	UserVariables map[string]string
	// EventTime is when the event happened; zero means now.
	EventTime time.Time
	// Timestamp and Token sign the call; zero/empty mean now and a random
	// token. Set them to test replay protection.
	Timestamp int64
	Token     string
	// ID is the event id; empty means a random one.
	ID string
}

// PermanentFailure is a failed event with severity permanent (a hard bounce).
func PermanentFailure(recipient string) Webhook {
	return Webhook{
		Event: "failed", Recipient: recipient, Severity: "permanent", Reason: "bounce",
		Code: 550, Description: "5.1.1 The email account that you tried to reach does not exist.",
	}
}

// Complaint is a complained event (the reader marked the email as spam).
func Complaint(recipient string) Webhook {
	return Webhook{Event: "complained", Recipient: recipient}
}

// Unsubscribe is an unsubscribed event (Mailgun's own unsubscribe link).
func Unsubscribe(recipient string) Webhook {
	return Webhook{Event: "unsubscribed", Recipient: recipient}
}

// WebhookPayload is the JSON body of a webhook call.
type WebhookPayload struct {
	Signature WebhookSignature `json:"signature"`
	EventData map[string]any   `json:"event-data"`
}

// WebhookSignature is the signature block of a webhook call.
type WebhookSignature struct {
	Timestamp string `json:"timestamp"`
	Token     string `json:"token"`
	Signature string `json:"signature"`
}

// Payload builds the webhook body signed with signingKey.
func (w Webhook) Payload(signingKey string) WebhookPayload {
	if w.Timestamp == 0 {
		w.Timestamp = time.Now().Unix()
	}
	if w.Token == "" {
		w.Token = randomHex(25)
	}
	if w.ID == "" {
		w.ID = randomHex(11)
	}
	if w.EventTime.IsZero() {
		w.EventTime = time.Unix(w.Timestamp, 0)
	}
	if w.MessageID == "" {
		w.MessageID = randomHex(8) + "@" + DefaultDomain
	}
	tags := w.Tags
	if tags == nil {
		tags = []string{}
	}
	vars := w.UserVariables
	if vars == nil {
		vars = map[string]string{}
	}
	domain := ""
	if at := strings.LastIndexByte(w.Recipient, '@'); at >= 0 {
		domain = w.Recipient[at+1:]
	}
	data := map[string]any{
		"event":            w.Event,
		"id":               w.ID,
		"timestamp":        float64(w.EventTime.UnixMicro()) / 1e6,
		"recipient":        w.Recipient,
		"recipient-domain": domain,
		"tags":             tags,
		"user-variables":   vars,
		"message":          map[string]any{"headers": map[string]string{"message-id": strings.Trim(w.MessageID, "<>")}},
	}
	if w.Event == "failed" {
		data["log-level"] = "error"
		data["severity"] = w.Severity
		data["reason"] = w.Reason
		data["delivery-status"] = map[string]any{"code": w.Code, "description": w.Description, "message": w.Description}
	} else {
		data["log-level"] = "warn"
	}
	return WebhookPayload{
		Signature: WebhookSignature{
			Timestamp: strconv.FormatInt(w.Timestamp, 10),
			Token:     w.Token,
			Signature: SignWebhook(signingKey, w.Timestamp, w.Token),
		},
		EventData: data,
	}
}

// JSON returns the webhook body signed with signingKey.
func (w Webhook) JSON(signingKey string) []byte {
	raw, err := json.Marshal(w.Payload(signingKey))
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return raw
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
