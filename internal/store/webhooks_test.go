package store

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestSeenWebhookToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for i, tt := range []struct {
			token string
			at    time.Duration
			want  bool
		}{
			{"abc", 0, false},
			{"abc", time.Minute, true},
			{"ABC", time.Minute, false}, // tokens are compared exactly
			{"x'; DELETE FROM webhook_tokens; --", time.Minute, false},
			{"x'; DELETE FROM webhook_tokens; --", 2 * time.Minute, true},
			{"late", 25 * time.Hour, false}, // prunes what is older than 24 h
			{"abc", 25 * time.Hour, false},  // forgotten: the web layer refuses timestamps this old
			{"abc", 26 * time.Hour, true},
		} {
			seen, err := s.SeenWebhookToken(ctx, tt.token, t0.Add(tt.at))
			if err != nil || seen != tt.want {
				t.Errorf("step %d %q: seen %v, %v; want %v", i, tt.token, seen, err, tt.want)
			}
		}
		for _, bad := range []string{"", string(make([]byte, maxTokenLen+1))} {
			if _, err := s.SeenWebhookToken(ctx, bad, t0); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("token of %d bytes: %v", len(bad), err)
			}
		}
		// The same webhook delivered many times at once is new exactly once.
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for range 20 {
			wg.Go(func() {
				seen, err := s.SeenWebhookToken(ctx, "burst", t0.Add(27*time.Hour))
				if err != nil {
					t.Error(err)
				}
				if !seen {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if fresh != 1 {
			t.Errorf("burst: %d deliveries counted as new, want 1", fresh)
		}
	})
}

func TestApplyWebhook(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		sub := mustConfirmed(t, s, "hook@example.com", t0)
		tests := []struct {
			name       string
			token      string
			email      string
			status     Status
			wantSeen   bool
			wantFound  bool
			wantErr    error
			wantStatus Status
		}{
			{"bounce applies", "tok-1", "HOOK@example.com", StatusBounced, false, true, nil, StatusBounced},
			{"replay changes nothing", "tok-1", "hook@example.com", StatusComplained, true, false, nil, StatusBounced},
			{"unknown address is fine", "tok-2", "nobody@example.com", StatusComplained, false, false, nil, StatusBounced},
			{"ignored event records only the token", "tok-3", "", "", false, false, nil, StatusBounced},
			{"bad address fails before the token is recorded", "tok-4", "not an address", StatusComplained, false, false, ErrInvalidEmail, StatusBounced},
			{"so the retry of that webhook is not a replay", "tok-4", "hook@example.com", StatusComplained, false, true, nil, StatusComplained},
			{"status a webhook may not set", "tok-5", "hook@example.com", StatusConfirmed, false, false, ErrInvalidInput, StatusComplained},
		}
		for _, tt := range tests {
			seen, found, err := s.ApplyWebhook(ctx, tt.token, tt.email, tt.status, "test", t0.Add(time.Hour))
			if !errors.Is(err, tt.wantErr) || seen != tt.wantSeen || found != tt.wantFound {
				t.Fatalf("%s: seen %v found %v err %v; want %v %v %v", tt.name, seen, found, err, tt.wantSeen, tt.wantFound, tt.wantErr)
			}
			got, _ := s.Get(ctx, sub.ID)
			if got.Status != tt.wantStatus {
				t.Fatalf("%s: status %s, want %s", tt.name, got.Status, tt.wantStatus)
			}
		}
	})
}
