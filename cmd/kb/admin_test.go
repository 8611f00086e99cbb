package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminCommands(t *testing.T) {
	e := newEnv(t)
	if code, _, errOut := kb(t, e, "short\n", "admin", "add", "a@example.com"); code == 0 || !strings.Contains(errOut, "12") {
		t.Errorf("a short password was accepted (exit %d): %s", code, errOut)
	}
	code, out, errOut := kb(t, e, "correct horse battery\n", "admin", "add", "Partner@Example.com")
	if code != 0 || !strings.Contains(out, "partner@example.com added") {
		t.Fatalf("admin add: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, _ := kb(t, e, "correct horse battery\n", "admin", "add", "partner@example.com"); code == 0 {
		t.Error("a second admin with the same address was added")
	}
	if out := mustKB(t, e, "admin", "list"); !strings.Contains(out, "partner@example.com") || !strings.Contains(out, "not yet") {
		t.Errorf("admin list:\n%s", out)
	}
	mustKB(t, e, "admin", "reset-totp", "partner@example.com")
	out = mustKB(t, e, "admin", "log")
	if i, j := strings.Index(out, "totp_reset"), strings.Index(out, "admin_added"); i < 0 || j < 0 || i > j {
		t.Errorf("admin log not newest first:\n%s", out)
	}
	mustKB(t, e, "admin", "remove", "partner@example.com")
	if code, _, _ := kb(t, e, "", "admin", "remove", "partner@example.com"); code == 0 {
		t.Error("removing a removed admin succeeded")
	}
	if out := mustKB(t, e, "admin", "list"); strings.Contains(out, "partner@example.com") {
		t.Errorf("removed admin still listed:\n%s", out)
	}
}

// TestServeMountsAdmin: kb serve answers /admin/ with 404 until an
// administrator exists, then sends to the login page.
func TestServeMountsAdmin(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "public")
	base := startServe(t, e, out)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		res, err := noRedirect.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get("/admin/"); res.StatusCode != http.StatusNotFound {
		t.Errorf("/admin/ before any admin: %d, want 404", res.StatusCode)
	}
	if code, out, errOut := kb(t, e, "correct horse battery\n", "admin", "add", "partner@example.com"); code != 0 {
		t.Fatalf("admin add: %s %s", out, errOut)
	}
	if res := get("/admin/"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
		t.Errorf("/admin/: %d → %q, want 303 → /admin/login", res.StatusCode, res.Header.Get("Location"))
	}
	if res := get("/admin/login"); res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/admin/login: %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
}
