package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivacyNoticeFollowsMailgunRegion builds the real site with and
// without Mailgun's EU API base: the privacy notice must describe the
// region the emails actually go through.
func TestPrivacyNoticeFollowsMailgunRegion(t *testing.T) {
	tests := []struct {
		name      string
		apiBase   string
		want, not string
	}{
		{"EU API base", "https://api.eu.mailgun.net/v3", "eu", "us"},
		{"unset", "", "us", "eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.apiBase != "" {
				e["MAILGUN_API_BASE"] = tt.apiBase
			}
			dir := t.TempDir()
			out := filepath.Join(dir, "public")
			mustKB(t, e, "build", "--out", out, "--private", filepath.Join(dir, "private"), "--base-url", "http://kb.test/")
			raw, err := os.ReadFile(filepath.Join(out, "polityka-prywatnosci", "index.html"))
			if err != nil {
				t.Fatal(err)
			}
			page := string(raw)
			if !strings.Contains(page, `data-mail-region="`+tt.want+`"`) || strings.Contains(page, `data-mail-region="`+tt.not+`"`) {
				t.Errorf("privacy notice does not describe only the %s region", tt.want)
			}
			if strings.Contains(page, "{{") {
				t.Error("privacy notice shows an unexpanded shortcode")
			}
		})
	}
}
