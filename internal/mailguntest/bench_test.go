package mailguntest

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// Server-side cost of one 1,000-recipient multipart call in CountOnly mode;
// b.N calls accept b.N×1,000 distinct recipients (a million at b.N=1000).
func BenchmarkMessagesBatch1000(b *testing.B) {
	s := New(WithCountOnly(), WithEvents(false))
	defer s.Close()
	html := field{"html", string(bytes.Repeat([]byte("<p>Treść poradnika.</p>\n"), 2000))}
	batch := 0
	b.ReportAllocs()
	for b.Loop() {
		fields := append(baseFields(), html)
		for i := range MaxRecipients {
			fields = append(fields, field{"to", fmt.Sprintf("b%di%d@example.pl", batch, i)})
		}
		batch++
		ct, body := multipartBody(b, fields)
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/"+DefaultDomain+"/messages", body)
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth("api", DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
	st := s.Stats()
	if st.Recipients != batch*MaxRecipients || len(s.Recipients()) != st.Recipients {
		b.Fatalf("stats %+v", st)
	}
	b.ReportMetric(float64(st.Recipients)/b.Elapsed().Seconds(), "recipients/s")
}
