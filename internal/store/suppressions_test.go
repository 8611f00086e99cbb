package store

import (
	"errors"
	"testing"
	"time"
)

func TestSuppress(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		mustConfirmed(t, s, "a@example.com", t0)
		mustConfirmed(t, s, "c@example.com", t0)
		for _, tt := range []struct {
			name           string
			email          string
			status         Status
			found, changed bool
			want           Status
			err            error
		}{
			{"bounce", "A@example.com", StatusBounced, true, true, StatusBounced, nil},
			{"bounce again", "a@example.com", StatusBounced, true, false, StatusBounced, nil},
			{"complaint", "c@example.com", StatusComplained, true, true, StatusComplained, nil},
			{"complaint is final", "c@example.com", StatusUnsubscribed, true, false, StatusComplained, nil},
			{"not a subscriber", "x@example.com", StatusBounced, false, false, "", nil},
			{"not a suppression", "a@example.com", StatusConfirmed, false, false, "", ErrInvalidInput},
		} {
			t.Run(tt.name, func(t *testing.T) {
				sub, found, changed, err := s.Suppress(ctx, tt.email, tt.status, "mailgun sync", t0.Add(time.Hour))
				if !errors.Is(err, tt.err) || found != tt.found || changed != tt.changed {
					t.Fatalf("found %v changed %v err %v; want %v %v %v", found, changed, err, tt.found, tt.changed, tt.err)
				}
				if tt.want != "" && sub.Status != tt.want {
					t.Errorf("status %s, want %s", sub.Status, tt.want)
				}
			})
		}
	})
}
