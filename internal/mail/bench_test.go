package mail

import (
	"context"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/mailguntest"
)

// One 1,000-recipient batch per iteration through the real mailgun-go client
// to the fake server (counting only).
func BenchmarkMailgunSendBatch1000(b *testing.B) {
	s := mailguntest.New(mailguntest.WithCountOnly(), mailguntest.WithEvents(false))
	defer s.Close()
	m := newMailgun(b, s)
	batch := testBatch(MaxRecipients)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.SendBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*MaxRecipients)/b.Elapsed().Seconds(), "recipients/s")
}

func BenchmarkMailgunSend(b *testing.B) {
	s := mailguntest.New(mailguntest.WithCountOnly(), mailguntest.WithEvents(false))
	defer s.Close()
	m := newMailgun(b, s)
	msg := polishMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Send(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

// One 1,000-recipient batch per iteration: 1,000 files, each fsynced.
func BenchmarkOutboxSendBatch1000(b *testing.B) {
	o, err := NewOutbox(b.TempDir(), WithClock(func() time.Time { return now }))
	if err != nil {
		b.Fatal(err)
	}
	batch := testBatch(MaxRecipients)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.SendBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*MaxRecipients)/b.Elapsed().Seconds(), "recipients/s")
}

// Accepted over 5,000 events in 17 pages, filtered to one 1,000-recipient batch.
func BenchmarkMailgunAccepted(b *testing.B) {
	s := mailguntest.New()
	defer s.Close()
	m := newMailgun(b, s)
	for i := range 5 {
		batch := testBatch(MaxRecipients)
		for j := range batch.Recipients {
			batch.Recipients[j].Address = string(rune('a'+i)) + batch.Recipients[j].Address
		}
		batch.Variables = map[string]string{"kb-batch": string(rune('1' + i))}
		if _, err := m.SendBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := m.Accepted(context.Background(), AcceptedQuery{Tag: "newsletter", Variable: "kb-batch", Value: "3"})
		if err != nil || len(got) != MaxRecipients {
			b.Fatal(len(got), err)
		}
	}
}
