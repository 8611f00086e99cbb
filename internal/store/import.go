package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"
)

// ImportRow is one address from a list being imported (e.g. a CSV export of
// a previous newsletter tool).
type ImportRow struct {
	Line      int // where the row came from, for the report; 0: its position
	Email     string
	Name      string
	ConsentAt time.Time // when consent was originally given, if known
	Source    string    // where it was given, if known; default "import"
}

// Reasons a row is not imported.
const (
	SkipInvalidEmail    = "invalid_email"
	SkipInvalidName     = "invalid_name"
	SkipInvalidSource   = "invalid_source"
	SkipDuplicateInFile = "duplicate_in_file"
	SkipAlreadyStored   = "already_stored"
	SkipErased          = "erased" // the person asked to be erased: never re-import them
)

// ImportSkip is a row that was not imported, and why.
type ImportSkip struct {
	Line   int    `json:"line"`
	Email  string `json:"email"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// ImportReport says what Import did.
type ImportReport struct {
	Read     int          `json:"read"`
	Imported int          `json:"imported"`
	Skipped  []ImportSkip `json:"skipped"`
}

// importChunk is how many rows share one transaction: large enough to be
// quick, small enough not to hold signups back for long.
const importChunk = 500

type importItem struct {
	line             int
	email, key, name string
	consentAt        time.Time
	source           string
}

// Import adds the rows as subscribers with status (confirmed or pending;
// pending ones get a confirmation email queued). Invalid addresses or names,
// duplicates within the rows or of stored subscribers, and addresses on the
// erasure list are skipped and reported. Rows are committed in chunks: on
// error, the report counts what was committed before it.
func (s *Store) Import(ctx context.Context, rows iter.Seq[ImportRow], status Status, now time.Time) (ImportReport, error) {
	if status != StatusConfirmed && status != StatusPending {
		return ImportReport{}, fmt.Errorf("%w: import status must be confirmed or pending, not %q", ErrInvalidInput, status)
	}
	now = norm(now)
	rep := ImportReport{Skipped: []ImportSkip{}}
	seen := make(map[string]bool)
	chunk := make([]importItem, 0, importChunk)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		imported, skipped, err := s.importChunk(ctx, chunk, status, now)
		if err != nil {
			return err
		}
		rep.Imported += imported
		rep.Skipped = append(rep.Skipped, skipped...)
		chunk = chunk[:0]
		return nil
	}
	for row := range rows {
		rep.Read++
		line := row.Line
		if line == 0 {
			line = rep.Read
		}
		skip := func(email, reason string, err error) {
			sk := ImportSkip{Line: line, Email: sanitize(email, 300), Reason: reason}
			if err != nil {
				sk.Detail = err.Error()
			}
			rep.Skipped = append(rep.Skipped, sk)
		}
		email, key, err := parseEmail(row.Email)
		if err != nil {
			skip(row.Email, SkipInvalidEmail, err)
			continue
		}
		name, err := cleanName(row.Name)
		if err != nil {
			skip(email, SkipInvalidName, err)
			continue
		}
		source := row.Source
		if source == "" {
			source = "import"
		}
		if err := checkText("source", source, maxSourceLen); err != nil {
			skip(email, SkipInvalidSource, err)
			continue
		}
		if seen[key] {
			skip(email, SkipDuplicateInFile, nil)
			continue
		}
		seen[key] = true
		chunk = append(chunk, importItem{line: line, email: email, key: key, name: name,
			consentAt: norm(row.ConsentAt), source: source})
		if len(chunk) == importChunk {
			if err := flush(); err != nil {
				return rep, fmt.Errorf("store: import: %w", err)
			}
		}
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("store: import: %w", err)
		}
	}
	if err := flush(); err != nil {
		return rep, fmt.Errorf("store: import: %w", err)
	}
	return rep, nil
}

func (s *Store) importChunk(ctx context.Context, items []importItem, status Status, now time.Time) (int, []ImportSkip, error) {
	var (
		imported int
		skipped  []ImportSkip
	)
	err := s.tx(ctx, func(t *txn) error {
		imported, skipped = 0, nil
		for _, it := range items {
			var one int
			q, args := s.erasedCheck(it.email)
			err := t.queryRow(q, args...).Scan(&one)
			if err == nil {
				skipped = append(skipped, ImportSkip{Line: it.line, Email: it.email, Reason: SkipErased})
				continue
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			var confirmedAt, lastConfirmation time.Time
			if status == StatusConfirmed {
				confirmedAt = now
			} else {
				lastConfirmation = now
			}
			var id int64
			var pendingSince time.Time
			if status == StatusPending {
				pendingSince = now
			}
			err = t.queryRow(`INSERT INTO subscribers (email, email_key, name, status, consent_at, consent_source,
					created_at, updated_at, confirmed_at, last_confirmation_at, pending_since, link_key)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email_key) DO NOTHING RETURNING id`,
				it.email, it.key, it.name, string(status), dbTime(it.consentAt), it.source,
				dbTime(now), dbTime(now), dbTime(confirmedAt), dbTime(lastConfirmation), dbTime(pendingSince), newLinkKey()).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				skipped = append(skipped, ImportSkip{Line: it.line, Email: it.email, Reason: SkipAlreadyStored})
				continue
			}
			if err != nil {
				return fmt.Errorf("line %d: %w", it.line, err)
			}
			detail, _ := json.Marshal(struct {
				Status    Status    `json:"status"`
				Source    string    `json:"source"`
				ConsentAt time.Time `json:"consent_at,omitzero"`
			}{status, it.source, it.consentAt})
			evs := []event{{EventImported, string(detail)}}
			if status == StatusPending {
				sub := Subscriber{ID: id, Email: it.email, Name: it.name}
				if err := queueMail(t, MailConfirm, sub, now); err != nil {
					return err
				}
				evs = append(evs, event{EventConfirmationQueued, ""})
			}
			if err := addEvents(t, id, now, evs...); err != nil {
				return err
			}
			imported++
		}
		return nil
	})
	return imported, skipped, err
}
