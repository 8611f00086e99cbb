package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAdmins(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if has, err := s.HasAdmins(ctx); err != nil || has {
			t.Fatalf("HasAdmins on an empty store = %v, %v", has, err)
		}
		a, err := s.AddAdmin(ctx, " Partner@Example.com ", "$argon2id$x", t0)
		if err != nil {
			t.Fatal(err)
		}
		if a.Email != "partner@example.com" {
			t.Errorf("email %q, want it lower-cased and trimmed", a.Email)
		}
		if _, err := s.AddAdmin(ctx, "partner@example.com", "$argon2id$y", t0); !errors.Is(err, ErrAdminExists) {
			t.Errorf("second AddAdmin: %v, want ErrAdminExists", err)
		}
		for _, bad := range []struct{ email, hash string }{{"", "h"}, {"nobody", "h"}, {"a@b.pl", ""}} {
			if _, err := s.AddAdmin(ctx, bad.email, bad.hash, t0); err == nil {
				t.Errorf("AddAdmin(%q, %q) accepted", bad.email, bad.hash)
			}
		}
		if has, _ := s.HasAdmins(ctx); !has {
			t.Error("HasAdmins false after AddAdmin")
		}
		got, err := s.AdminByEmail(ctx, "PARTNER@example.com")
		if err != nil || got.ID != a.ID || got.PasswordHash != "$argon2id$x" || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
			t.Errorf("AdminByEmail = %+v, %v", got, err)
		}
		if _, err := s.AdminByEmail(ctx, "other@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown admin: %v", err)
		}
		if _, err := s.AdminByID(ctx, a.ID); err != nil {
			t.Error(err)
		}
		list, err := s.Admins(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("Admins = %v, %v", list, err)
		}

		// TOTP: enrolment stores the secret once; a step is accepted once.
		if ok, err := s.UseAdminTOTP(ctx, a.ID, 100, "", t0); err != nil || ok {
			t.Errorf("code before enrolment accepted: %v %v", ok, err)
		}
		if ok, err := s.UseAdminTOTP(ctx, a.ID, 100, "SECRET", t0); err != nil || !ok {
			t.Fatalf("enrolment refused: %v %v", ok, err)
		}
		if ok, _ := s.UseAdminTOTP(ctx, a.ID, 101, "OTHER", t0); ok {
			t.Error("second enrolment replaced the secret")
		}
		for _, c := range []struct {
			step int64
			want bool
		}{{100, false}, {99, false}, {101, true}, {101, false}} {
			if ok, err := s.UseAdminTOTP(ctx, a.ID, c.step, "", t0); err != nil || ok != c.want {
				t.Errorf("step %d: %v %v, want %v", c.step, ok, err, c.want)
			}
		}
		if got, _ := s.AdminByEmail(ctx, a.Email); got.TOTPSecret != "SECRET" || got.TOTPLastStep != 101 {
			t.Errorf("after TOTP: %+v", got)
		}

		// Sessions: replace, read, touch, expire; reset and remove end them.
		s1 := AdminSession{ID: "s1", AdminID: a.ID, Stage: AdminStagePassword, EnrolSecret: "E", CreatedAt: t0, SeenAt: t0}
		if err := s.ReplaceAdminSession(ctx, "", s1); err != nil {
			t.Fatal(err)
		}
		s2 := AdminSession{ID: "s2", AdminID: a.ID, Stage: AdminStageFull, CreatedAt: t0, SeenAt: t0}
		if err := s.ReplaceAdminSession(ctx, "s1", s2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AdminSessionByID(ctx, "s1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("replaced session still there: %v", err)
		}
		if err := s.TouchAdminSession(ctx, "s2", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.AdminSessionByID(ctx, "s2"); err != nil || got.Stage != AdminStageFull || !got.SeenAt.Equal(t0.Add(time.Hour).Truncate(time.Microsecond)) {
			t.Errorf("session = %+v, %v", got, err)
		}
		if n, err := s.ExpireAdminSessions(ctx, t0, t0); err != nil || n != 0 {
			t.Errorf("expired %d (%v), want 0", n, err)
		}
		if n, err := s.ExpireAdminSessions(ctx, t0.Add(2*time.Hour), t0); err != nil || n != 1 {
			t.Errorf("expired %d (%v), want 1", n, err)
		}
		if err := s.ReplaceAdminSession(ctx, "", s2); err != nil {
			t.Fatal(err)
		}
		if err := s.ResetAdminTOTP(ctx, a.Email, t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.AdminByEmail(ctx, a.Email); got.TOTPSecret != "" || got.TOTPLastStep != 0 {
			t.Errorf("after reset: %+v", got)
		}
		if _, err := s.AdminSessionByID(ctx, "s2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("session survived the TOTP reset: %v", err)
		}
		if err := s.ReplaceAdminSession(ctx, "", s2); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveAdmin(ctx, a.Email); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AdminSessionByID(ctx, "s2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("session survived removal: %v", err)
		}
		if err := s.RemoveAdmin(ctx, a.Email); !errors.Is(err, ErrNotFound) {
			t.Errorf("second remove: %v", err)
		}
		if err := s.ResetAdminTOTP(ctx, a.Email, t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("reset of a removed admin: %v", err)
		}
	})
}

func TestAdminThrottleAndLog(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		wait := func(n int) time.Duration {
			if n < 3 {
				return 0
			}
			return time.Duration(n) * time.Minute
		}
		for i := 1; i <= 3; i++ {
			n, err := s.AdminFailure(ctx, "account:a", t0, t0.Add(-time.Hour), wait)
			if err != nil || n != i {
				t.Fatalf("failure %d: %d, %v", i, n, err)
			}
		}
		until, err := s.AdminBlockedUntil(ctx, "account:a", "client:x")
		if err != nil || !until.Equal(t0.Add(3*time.Minute).Truncate(time.Microsecond)) {
			t.Errorf("blocked until %v (%v), want t0+3m", until, err)
		}
		if until, _ := s.AdminBlockedUntil(ctx, "client:x"); !until.IsZero() {
			t.Errorf("unrelated key blocked until %v", until)
		}
		// An old count is forgotten.
		if n, _ := s.AdminFailure(ctx, "account:a", t0.Add(2*time.Hour), t0.Add(time.Hour), wait); n != 1 {
			t.Errorf("after the forget window: %d failures, want 1", n)
		}
		if err := s.ClearAdminFailures(ctx, "account:a"); err != nil {
			t.Fatal(err)
		}
		if until, _ := s.AdminBlockedUntil(ctx, "account:a"); !until.IsZero() {
			t.Errorf("cleared key blocked until %v", until)
		}

		for i, ev := range []string{"login", "login_failed", "export"} {
			if err := s.AddAdminLog(ctx, AdminLogEntry{At: t0.Add(time.Duration(i) * time.Second), Event: ev, Email: "a@b.pl", Client: "192.0.2.1"}); err != nil {
				t.Fatal(err)
			}
		}
		log, err := s.AdminLog(ctx, 2)
		if err != nil || len(log) != 2 || log[0].Event != "export" || log[1].Event != "login_failed" {
			t.Errorf("AdminLog = %+v, %v", log, err)
		}
	})
}
