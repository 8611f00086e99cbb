package kbproc

import (
	"net/http"
	"strings"
	"testing"
)

func TestStartServesAndRunShares(t *testing.T) {
	o := Options{}
	o.defaults(t)
	s := Start(t, o)
	res, err := http.Get(s.URL + "/")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %v %v", res, err)
	}
	res.Body.Close()
	out, errOut, err := Run(t, o, "subscribers", "stats")
	if err != nil || !strings.Contains(out, "confirmed") {
		t.Fatalf("kb subscribers stats: %v\n%s%s", err, out, errOut)
	}
}
