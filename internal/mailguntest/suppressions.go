package mailguntest

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Suppression list names, as in Mailgun's API paths.
const (
	ListBounces      = "bounces"
	ListComplaints   = "complaints"
	ListUnsubscribes = "unsubscribes"
)

// Suppressed is one entry of a suppression list.
type Suppressed struct {
	Address string
	At      time.Time
	// Code and Error describe a bounce ("550", "mailbox does not exist").
	Code, Error string
}

// Suppress adds entries to a suppression list.
func (s *Server) Suppress(list string, entries ...Suppressed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.suppressed == nil {
		s.suppressed = map[string][]Suppressed{}
	}
	s.suppressed[list] = append(s.suppressed[list], entries...)
}

// handleSuppressions serves GET /v3/{domain}/{bounces|complaints|unsubscribes}
// with Mailgun's paging: ?limit=N (default 100, at most 1000), and a
// "next" URL of page=next&address=<last address of this page>; a page after
// the last one is empty.
func (s *Server) handleSuppressions(w http.ResponseWriter, r *http.Request) {
	list := r.PathValue("list")
	if list != ListBounces && list != ListComplaints && list != ListUnsubscribes {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	if !s.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "limit must be 1 to 1000"})
			return
		}
		limit = n
	}
	s.mu.Lock()
	all := append([]Suppressed(nil), s.suppressed[list]...)
	s.mu.Unlock()
	start := 0
	if q.Get("page") == "next" {
		start = len(all)
		for i, e := range all {
			if e.Address == q.Get("address") {
				start = i + 1
				break
			}
		}
	}
	end := min(start+limit, len(all))
	items := make([]map[string]any, 0, end-start)
	for _, e := range all[start:end] {
		item := map[string]any{"address": e.Address, "created_at": e.At.UTC().Format(time.RFC1123Z)}
		switch list {
		case ListBounces:
			item["code"], item["error"] = e.Code, e.Error
		case ListComplaints:
			item["count"] = 1
		case ListUnsubscribes:
			item["tags"] = []string{"*"}
		}
		items = append(items, item)
	}
	base := "http://" + r.Host + r.URL.Path
	page := func(vals url.Values) string { return base + "?" + vals.Encode() }
	next := url.Values{"page": {"next"}, "limit": {strconv.Itoa(limit)}}
	if end > start {
		next.Set("address", all[end-1].Address)
	} else {
		next.Set("address", q.Get("address"))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"items": items,
		"paging": map[string]string{
			"first": page(url.Values{"page": {"first"}, "limit": {strconv.Itoa(limit)}}),
			"next":  page(next),
			"last":  page(url.Values{"page": {"last"}, "limit": {strconv.Itoa(limit)}}),
		},
	})
}
