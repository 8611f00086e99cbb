package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kbpress/kb/internal/precompress"
)

// Both configurations send the siblings `kb build` writes, and refuse them
// under their own names for exactly the extensions kb compresses (a .gz
// download of the site's own stays reachable).
func TestServePrecompressed(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	nginx, caddy := read("nginx.conf"), read("Caddyfile")
	for _, want := range []string{"\n\tgzip_static on;", "\n\tgzip_vary on;", "#brotli_static on;"} {
		if !strings.Contains(nginx, want) {
			t.Errorf("nginx.conf lacks %q", strings.TrimSpace(want))
		}
	}
	if !regexp.MustCompile(`file_server \{\s*precompressed br gzip\s*\}`).MatchString(caddy) {
		t.Error("Caddyfile: the static file_server lacks `precompressed br gzip`")
	}
	if !regexp.MustCompile(`(?s)handle @kb \{.*?encode [a-z ]*gzip`).MatchString(caddy) {
		t.Error("Caddyfile: the proxied API lacks encode")
	}
	patterns := map[string]string{}
	if m := regexp.MustCompile(`location ~ (\S+\\\.\(br\|gz\)\$) \{\s*return 404;`).FindStringSubmatch(nginx); m != nil {
		patterns["nginx.conf"] = m[1]
	} else {
		t.Error("nginx.conf: no location refusing .br/.gz siblings")
	}
	if m := regexp.MustCompile(`@siblings path_regexp (\S+)`).FindStringSubmatch(caddy); m != nil && strings.Contains(caddy, "error @siblings 404") {
		patterns["Caddyfile"] = m[1]
	} else {
		t.Error("Caddyfile: no matcher refusing .br/.gz siblings")
	}
	for file, p := range patterns {
		re := regexp.MustCompile(p)
		for _, ext := range precompress.Extensions() {
			for _, suffix := range []string{".br", ".gz"} {
				if name := "/poradniki/x/index" + ext + suffix; !re.MatchString(name) {
					t.Errorf("%s: %s does not refuse %s", file, p, name)
				}
			}
			if name := "/poradniki/x/index" + ext; re.MatchString(name) {
				t.Errorf("%s: %s refuses %s itself", file, p, name)
			}
		}
		for _, name := range []string{"/pliki/archiwum.tar.gz", "/pliki/raport.pdf.gz", "/obraz.png.br"} {
			if re.MatchString(name) {
				t.Errorf("%s: %s refuses %s, not a sibling", file, p, name)
			}
		}
	}
}
