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
