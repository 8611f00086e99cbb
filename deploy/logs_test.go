// Package deploy holds the example configurations; this test checks what
// `nginx -t` and `caddy validate` cannot: that no access log keeps the
// tokens of the links in emails.
package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestLogsKeepNoQueryStrings(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	nginx := read("nginx.conf")
	format := regexp.MustCompile(`(?s)log_format kb (.*?);`).FindStringSubmatch(nginx)
	if format == nil {
		t.Fatal("nginx.conf: no log_format kb")
	}
	// $request is the whole request line, query included.
	for _, v := range []string{"$request ", `$request"`, "$request_uri", "$args", "$query_string", "$arg_", "$http_referer"} {
		if strings.Contains(format[1], v) {
			t.Errorf("nginx.conf: log_format kb logs %s", v)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*access_log\s+(.*);`).FindAllStringSubmatch(nginx, -1) {
		if f := strings.Fields(m[1]); f[0] != "off" && (len(f) < 2 || f[1] != "kb") {
			t.Errorf("nginx.conf: access_log %s does not use log_format kb", m[1])
		}
	}
	caddy := read("Caddyfile")
	for _, want := range []string{`request>uri regexp \?.*$ ""`, "request>headers>Referer delete"} {
		if !strings.Contains(caddy, want) {
			t.Errorf("Caddyfile: the log filter lacks %s", want)
		}
	}
}
