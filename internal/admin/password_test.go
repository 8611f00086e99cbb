package admin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kbpress/kb/internal/admin"
)

func TestPasswordHash(t *testing.T) {
	if _, err := admin.HashPassword("11 znaków!!"); !errors.Is(err, admin.ErrShortPassword) {
		t.Errorf("11 characters: %v, want ErrShortPassword", err)
	}
	// Characters, not bytes: 12 Polish letters pass.
	hash, err := admin.HashPassword("żółćżółćżółć")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q: want argon2id PHC with m=19456,t=2,p=1", hash)
	}
	other, _ := admin.HashPassword("żółćżółćżółć")
	if other == hash {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		hash, password string
		ok, bad        bool
	}{
		{hash, "żółćżółćżółć", true, false},
		{hash, "żółćżółćżółc", false, false},
		{"$2a$10$bcrypt", "x", false, true},
		{strings.Replace(hash, "v=19", "v=16", 1), "żółćżółćżółć", false, true},
		{strings.Replace(hash, "m=19456", "m=999999999", 1), "żółćżółćżółć", false, true},
		{"", "", false, true},
	} {
		ok, err := admin.VerifyPassword(tc.hash, tc.password)
		if ok != tc.ok || (err != nil) != tc.bad {
			t.Errorf("VerifyPassword(%.30q, %q) = %v, %v", tc.hash, tc.password, ok, err)
		}
	}
}
