package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Frequency is how a subscriber gets new guides.
type Frequency string

const (
	FrequencyEach   Frequency = "each"   // every guide as it is sent
	FrequencyDigest Frequency = "digest" // a digest of the new guides on schedule
)

// ErrInactive: the subscriber's preferences cannot change because they are
// not subscribed (unsubscribed, bounced, complained or still pending).
var ErrInactive = errors.New("store: subscriber is not subscribed")

// Topics are the topics of known (the site's topic ids, in order) that the
// subscriber gets.
func (s Subscriber) Topics(known []string) []string {
	var on []string
	for _, id := range known {
		if !slices.Contains(s.TopicsOff, id) {
			on = append(on, id)
		}
	}
	return on
}

// PreferencesUpdate is what the preference form submits.
type PreferencesUpdate struct {
	// Topics are the topic ids the subscriber wants; none at all means
	// they want nothing, which unsubscribes them.
	Topics []string
	// Known are the site's topic ids; Topics must be among them.
	Known     []string
	Frequency Frequency
}

// PreferencesChange says what a save changed.
type PreferencesChange struct {
	Added, Removed []string // topic ids, in the order of Known
	// Frequency is the new frequency if it changed, else "".
	Frequency Frequency
	// Unsubscribed: no topic was chosen, so the subscriber is now
	// unsubscribed (and nothing else was recorded).
	Unsubscribed bool
}

// None reports that the save changed nothing.
func (c PreferencesChange) None() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && c.Frequency == "" && !c.Unsubscribed
}

// SetPreferences saves the topics and frequency of link's confirmed
// subscriber. Choosing no topic unsubscribes them. A subscriber who is not
// confirmed gets ErrInactive; a link that names no row, ErrNotFound.
//
// A guide's campaign fixes who gets it when it is created (each guide, or
// the next digest), so a change applies to the guides sent after it: a
// switch between each and digest neither repeats nor loses a guide.
func (s *Store) SetPreferences(ctx context.Context, link Link, u PreferencesUpdate, now time.Time) (Subscriber, PreferencesChange, error) {
	if u.Frequency != FrequencyEach && u.Frequency != FrequencyDigest {
		return Subscriber{}, PreferencesChange{}, fmt.Errorf("%w: frequency %q is not each or digest", ErrInvalidInput, u.Frequency)
	}
	for _, id := range u.Topics {
		if !slices.Contains(u.Known, id) {
			return Subscriber{}, PreferencesChange{}, fmt.Errorf("%w: unknown topic %q", ErrInvalidInput, id)
		}
	}
	now = norm(now)
	var (
		sub Subscriber
		ch  PreferencesChange
	)
	err := s.tx(ctx, func(t *txn) error {
		var err error
		if sub, err = lockByLink(t, link); err != nil {
			return err
		}
		if sub.Status != StatusConfirmed {
			return ErrInactive
		}
		ch = PreferencesChange{}
		if len(u.Topics) == 0 {
			ch.Unsubscribed = true
			_, err := setStatus(t, &sub, StatusUnsubscribed, "preferences: no topic chosen", now)
			return err
		}
		before := sub.Topics(u.Known)
		var off []string
		for _, id := range u.Known {
			want := slices.Contains(u.Topics, id)
			had := slices.Contains(before, id)
			switch {
			case want && !had:
				ch.Added = append(ch.Added, id)
			case !want && had:
				ch.Removed = append(ch.Removed, id)
			}
			if !want {
				off = append(off, id)
			}
		}
		// Turned-off ids the site no longer has are kept: harmless, and
		// right again if the topic comes back.
		for _, id := range sub.TopicsOff {
			if !slices.Contains(u.Known, id) {
				off = append(off, id)
			}
		}
		if u.Frequency != sub.Frequency {
			ch.Frequency = u.Frequency
		}
		if ch.None() {
			return nil
		}
		sub.TopicsOff, sub.Frequency, sub.UpdatedAt = off, u.Frequency, now
		if _, err := t.exec("UPDATE subscribers SET topics_off = ?, frequency = ?, updated_at = ? WHERE id = ?",
			joinTopics(off), string(u.Frequency), dbTime(now), sub.ID); err != nil {
			return err
		}
		return addEvents(t, sub.ID, now, event{EventPreferences,
			fmt.Sprintf("topics: %s; frequency: %s", strings.Join(sub.Topics(u.Known), ","), u.Frequency)})
	})
	if err != nil {
		return Subscriber{}, PreferencesChange{}, fmt.Errorf("store: preferences of %d: %w", link.ID, err)
	}
	return sub, ch, nil
}

// PersonByLink is Person for the subscriber an emailed link names (the
// preference page's download of one's data).
func (s *Store) PersonByLink(ctx context.Context, link Link) (PersonData, error) {
	sub, err := s.GetByLink(ctx, link)
	if err != nil {
		return PersonData{}, err
	}
	return s.Person(ctx, sub.Email)
}

// EraseLink is Erase for the subscriber an emailed link names.
func (s *Store) EraseLink(ctx context.Context, link Link, now time.Time) error {
	sub, err := s.GetByLink(ctx, link)
	if err != nil {
		return err
	}
	_, err = s.Erase(ctx, sub.Email, now)
	return err
}

// splitTopics reads the stored comma-separated topic ids.
func splitTopics(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func joinTopics(ids []string) string { return strings.Join(ids, ",") }

// topicsMatch is an SQL condition: the subscriber (alias s) gets a guide
// on topics (none: everyone), i.e. has not turned every one of them off.
// Topic ids are [a-z0-9-] (config), so they are safe in LIKE patterns.
func topicsMatch(topics []string) (string, []any) {
	if len(topics) == 0 {
		return "1 = 1", nil
	}
	conds := make([]string, len(topics))
	args := make([]any, len(topics))
	for i, id := range topics {
		conds[i] = "(',' || s.topics_off || ',') LIKE ?"
		args[i] = "%," + id + ",%"
	}
	return "NOT (" + strings.Join(conds, " AND ") + ")", args
}
