package mailguntest

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/mailgun/mailgun-go/v4"
	"github.com/mailgun/mailgun-go/v4/events"
)

func TestSignWebhookMatchesMailgunGo(t *testing.T) {
	mg := mailgun.NewMailgun(DefaultDomain, DefaultAPIKey)
	mg.SetWebhookSigningKey("signing-key")
	sig := mailgun.Signature{TimeStamp: "1762160400", Token: "tok"}
	sig.Signature = SignWebhook("signing-key", 1762160400, "tok")
	if ok, err := mg.VerifyWebhookSignature(sig); err != nil || !ok {
		t.Fatalf("mailgun-go rejects our signature: %v %v", ok, err)
	}
	sig.Signature = SignWebhook("other-key", 1762160400, "tok")
	if ok, _ := mg.VerifyWebhookSignature(sig); ok {
		t.Fatal("signature with another key verified")
	}
}

func TestWebhookPayloads(t *testing.T) {
	mg := mailgun.NewMailgun(DefaultDomain, DefaultAPIKey)
	mg.SetWebhookSigningKey("signing-key")
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		hook  Webhook
		check func(t *testing.T, e mailgun.Event)
	}{
		{"failed", PermanentFailure("jan@example.pl"), func(t *testing.T, e mailgun.Event) {
			f, ok := e.(*events.Failed)
			if !ok || f.Severity != "permanent" || f.Recipient != "jan@example.pl" || f.DeliveryStatus.Code != 550 {
				t.Fatalf("%T %+v", e, e)
			}
			if f.UserVariables.(map[string]any)["kb-campaign"] != "7" || f.Message.Headers.MessageID != "abc@mg.example.test" {
				t.Fatalf("%+v", f)
			}
		}},
		{"complained", Complaint("jan@example.pl"), func(t *testing.T, e mailgun.Event) {
			if c, ok := e.(*events.Complained); !ok || c.Recipient != "jan@example.pl" {
				t.Fatalf("%T %+v", e, e)
			}
		}},
		{"unsubscribed", Unsubscribe("jan@example.pl"), func(t *testing.T, e mailgun.Event) {
			if u, ok := e.(*events.Unsubscribed); !ok || u.Recipient != "jan@example.pl" || u.Tags[0] != "newsletter" {
				t.Fatalf("%T %+v", e, e)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.hook
			h.Timestamp, h.Token, h.EventTime = at.Unix(), "token-1", at
			h.MessageID = "<abc@mg.example.test>"
			h.Tags = []string{"newsletter"}
			h.UserVariables = map[string]string{"kb-campaign": "7"}
			var p mailgun.WebhookPayload
			if err := json.Unmarshal(h.JSON("signing-key"), &p); err != nil {
				t.Fatal(err)
			}
			if p.Signature.TimeStamp != strconv.FormatInt(at.Unix(), 10) || p.Signature.Token != "token-1" {
				t.Fatalf("signature block %+v", p.Signature)
			}
			if ok, err := mg.VerifyWebhookSignature(p.Signature); err != nil || !ok {
				t.Fatalf("signature does not verify: %v", err)
			}
			e, err := mailgun.ParseEvent(p.EventData)
			if err != nil {
				t.Fatal(err)
			}
			if !e.GetTimestamp().Equal(at) {
				t.Errorf("timestamp %v", e.GetTimestamp())
			}
			tt.check(t, e)
		})
	}
}

func TestWebhookDefaults(t *testing.T) {
	a, b := Complaint("a@example.pl").Payload("k"), Complaint("a@example.pl").Payload("k")
	if a.Signature.Token == "" || a.Signature.Token == b.Signature.Token || a.EventData["id"] == b.EventData["id"] {
		t.Fatal("tokens and ids must be random by default")
	}
	if a.Signature.Timestamp == "" || a.Signature.Signature == "" {
		t.Fatalf("%+v", a.Signature)
	}
}
