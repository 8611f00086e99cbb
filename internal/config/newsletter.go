package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Topic is one subject a reader can choose to get guides on
// ([[params.newsletter.topics]]); a guide names its topics in front matter.
type Topic struct {
	ID          string `toml:"id"`
	Name        string `toml:"name"`
	Description string `toml:"description"`
}

// Digest says when the digest goes out ([params.newsletter.digest]):
// weekly on a weekday, or monthly on a day of the month, at Hour o'clock
// in the firm's time zone (Europe/Warsaw).
type Digest struct {
	Schedule string `toml:"schedule"` // "weekly" or "monthly"
	Weekday  string `toml:"weekday"`  // weekly: monday … sunday
	Day      int    `toml:"day"`      // monthly: 1–28
	Hour     int    `toml:"hour"`     // 0–23, default 0
}

// topicID keeps ids safe in URLs, form values and the store's LIKE
// patterns (no % or _).
var topicID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

var weekdays = map[string]time.Weekday{
	"monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday, "thursday": time.Thursday,
	"friday": time.Friday, "saturday": time.Saturday, "sunday": time.Sunday,
}

// TopicIDs lists the configured topic ids in order.
func (n NewsletterParams) TopicIDs() []string {
	ids := make([]string, len(n.Topics))
	for i, t := range n.Topics {
		ids[i] = t.ID
	}
	return ids
}

// Topic returns the topic with id.
func (n NewsletterParams) Topic(id string) (Topic, bool) {
	for _, t := range n.Topics {
		if t.ID == id {
			return t, true
		}
	}
	return Topic{}, false
}

func (n *NewsletterParams) validate() error {
	seen := map[string]bool{}
	for i, t := range n.Topics {
		switch {
		case !topicID.MatchString(t.ID) || len(t.ID) > 40:
			return fmt.Errorf("params.newsletter.topics[%d]: id %q must be lowercase letters, digits and hyphens (at most 40)", i, t.ID)
		case seen[t.ID]:
			return fmt.Errorf("params.newsletter.topics: id %q appears twice", t.ID)
		case strings.TrimSpace(t.Name) == "":
			return fmt.Errorf("params.newsletter.topics: topic %q has no name", t.ID)
		}
		seen[t.ID] = true
	}
	if len(n.Welcome) > 5 {
		return fmt.Errorf("params.newsletter.welcome names %d guides; the welcome email lists at most 5", len(n.Welcome))
	}
	return n.Digest.validate()
}

func (d *Digest) validate() error {
	d.Schedule = strings.ToLower(strings.TrimSpace(d.Schedule))
	if d.Hour < 0 || d.Hour > 23 {
		return fmt.Errorf("params.newsletter.digest.hour %d is not between 0 and 23", d.Hour)
	}
	switch d.Schedule {
	case "":
		d.Schedule = "weekly"
		if d.Weekday == "" {
			d.Weekday = "monday"
		}
		fallthrough
	case "weekly":
		d.Weekday = strings.ToLower(strings.TrimSpace(d.Weekday))
		if _, ok := weekdays[d.Weekday]; !ok {
			return fmt.Errorf("params.newsletter.digest.weekday %q is not a day like monday", d.Weekday)
		}
	case "monthly":
		if d.Day < 1 || d.Day > 28 {
			return fmt.Errorf("params.newsletter.digest.day %d is not between 1 and 28 (every month has it)", d.Day)
		}
	default:
		return fmt.Errorf("params.newsletter.digest.schedule %q is not weekly or monthly", d.Schedule)
	}
	return nil
}

// Last is the latest scheduled digest time at or before now, in loc.
func (d Digest) Last(now time.Time, loc *time.Location) time.Time {
	now = now.In(loc)
	y, m, day := now.Date()
	if d.Schedule == "monthly" {
		t := time.Date(y, m, d.Day, d.Hour, 0, 0, 0, loc)
		if t.After(now) {
			t = time.Date(y, m-1, d.Day, d.Hour, 0, 0, 0, loc)
		}
		return t
	}
	back := (int(now.Weekday()) - int(weekdays[d.Weekday]) + 7) % 7
	t := time.Date(y, m, day-back, d.Hour, 0, 0, 0, loc)
	if t.After(now) {
		t = t.AddDate(0, 0, -7)
	}
	return t
}

// Next is the first scheduled digest time after now, in loc.
func (d Digest) Next(now time.Time, loc *time.Location) time.Time {
	last := d.Last(now, loc)
	if d.Schedule == "monthly" {
		return time.Date(last.Year(), last.Month()+1, d.Day, d.Hour, 0, 0, 0, loc)
	}
	return last.AddDate(0, 0, 7)
}

// Describe says in Polish when the digest comes, e.g. "w każdy poniedziałek".
func (d Digest) Describe() string {
	if d.Schedule == "monthly" {
		return fmt.Sprintf("raz w miesiącu, %d. dnia miesiąca", d.Day)
	}
	return map[string]string{
		"monday": "w każdy poniedziałek", "tuesday": "w każdy wtorek", "wednesday": "w każdą środę",
		"thursday": "w każdy czwartek", "friday": "w każdy piątek", "saturday": "w każdą sobotę", "sunday": "w każdą niedzielę",
	}[d.Weekday]
}
