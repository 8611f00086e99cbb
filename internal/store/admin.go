package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrAdminExists: an administrator with this address already exists.
var ErrAdminExists = errors.New("store: an administrator with this address already exists")

// Admin is one person allowed into the dashboard.
type Admin struct {
	ID           int64
	Email        string
	PasswordHash string // argon2id, PHC string format
	TOTPSecret   string // base32; "" until enrolled
	TOTPLastStep int64  // the newest accepted 30 s step: a code is good once
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Session stages: a password checked (a code is still due), or logged in.
const (
	AdminStagePassword = "password"
	AdminStageFull     = "full"
)

// AdminSession is a dashboard session. ID is the hash of the cookie's
// value (the caller hashes), so the table alone opens nothing.
type AdminSession struct {
	ID          string
	AdminID     int64
	Stage       string
	EnrolSecret string // the TOTP secret being enrolled, shown until confirmed
	CreatedAt   time.Time
	SeenAt      time.Time
}

// AdminLogEntry is a login, a failure, an export….
type AdminLogEntry struct {
	ID     int64
	At     time.Time
	Event  string
	Email  string
	Client string
	Detail string
}

func normAdminEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" || !strings.Contains(email, "@") || len(email) > 254 {
		return "", fmt.Errorf("%w: %q", ErrInvalidEmail, email)
	}
	return email, nil
}

// AddAdmin creates an administrator without TOTP (enrolled at first login).
func (s *Store) AddAdmin(ctx context.Context, email, passwordHash string, now time.Time) (Admin, error) {
	email, err := normAdminEmail(email)
	if err != nil {
		return Admin{}, err
	}
	if passwordHash == "" {
		return Admin{}, fmt.Errorf("%w: empty password hash", ErrInvalidInput)
	}
	now = norm(now)
	a := Admin{Email: email, PasswordHash: passwordHash, CreatedAt: now, UpdatedAt: now}
	err = s.tx(ctx, func(t *txn) error {
		err := t.queryRow(`INSERT INTO admins (email, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING RETURNING id`,
			email, passwordHash, dbTime(now), dbTime(now)).Scan(&a.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrAdminExists, email)
		}
		return err
	})
	if err != nil {
		return Admin{}, fmt.Errorf("store: add admin: %w", err)
	}
	return a, nil
}

const adminCols = "id, email, password_hash, totp_secret, totp_last_step, created_at, updated_at"

func scanAdmin(sc interface{ Scan(...any) error }) (Admin, error) {
	var a Admin
	err := sc.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.TOTPSecret, &a.TOTPLastStep,
		scanTime(&a.CreatedAt), scanTime(&a.UpdatedAt))
	return a, err
}

// Admins lists every administrator by address.
func (s *Store) Admins(ctx context.Context) ([]Admin, error) {
	rows, err := s.query(ctx, "SELECT "+adminCols+" FROM admins ORDER BY email")
	if err != nil {
		return nil, fmt.Errorf("store: admins: %w", err)
	}
	defer rows.Close()
	var out []Admin
	for rows.Next() {
		a, err := scanAdmin(rows)
		if err != nil {
			return nil, fmt.Errorf("store: admins: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: admins: %w", err)
	}
	return out, nil
}

// HasAdmins reports whether any administrator exists: the dashboard is
// off (404) until one does.
func (s *Store) HasAdmins(ctx context.Context) (bool, error) {
	var one int
	err := s.queryRow(ctx, "SELECT 1 FROM admins LIMIT 1").Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: has admins: %w", err)
	}
	return true, nil
}

// AdminByEmail finds an administrator; ErrNotFound when there is none.
func (s *Store) AdminByEmail(ctx context.Context, email string) (Admin, error) {
	email, err := normAdminEmail(email)
	if err != nil {
		return Admin{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	a, err := scanAdmin(s.queryRow(ctx, "SELECT "+adminCols+" FROM admins WHERE email = ?", email))
	if errors.Is(err, sql.ErrNoRows) {
		return Admin{}, fmt.Errorf("store: admin %s: %w", email, ErrNotFound)
	}
	if err != nil {
		return Admin{}, fmt.Errorf("store: admin %s: %w", email, err)
	}
	return a, nil
}

// AdminByID finds an administrator; ErrNotFound when there is none.
func (s *Store) AdminByID(ctx context.Context, id int64) (Admin, error) {
	a, err := scanAdmin(s.queryRow(ctx, "SELECT "+adminCols+" FROM admins WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Admin{}, fmt.Errorf("store: admin %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Admin{}, fmt.Errorf("store: admin %d: %w", id, err)
	}
	return a, nil
}

// RemoveAdmin deletes an administrator and its sessions.
func (s *Store) RemoveAdmin(ctx context.Context, email string) error {
	email, err := normAdminEmail(email)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(t *txn) error {
		if _, err := t.exec("DELETE FROM admin_sessions WHERE admin_id IN (SELECT id FROM admins WHERE email = ?)", email); err != nil {
			return err
		}
		n, err := affected(t.exec("DELETE FROM admins WHERE email = ?", email))
		if err == nil && n == 0 {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: remove admin %s: %w", email, err)
	}
	return nil
}

// ResetAdminTOTP forgets an administrator's TOTP secret (enrolled again at
// the next login) and ends its sessions.
func (s *Store) ResetAdminTOTP(ctx context.Context, email string, now time.Time) error {
	email, err := normAdminEmail(email)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(t *txn) error {
		n, err := affected(t.exec("UPDATE admins SET totp_secret = '', totp_last_step = 0, updated_at = ? WHERE email = ?",
			dbTime(norm(now)), email))
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err = t.exec("DELETE FROM admin_sessions WHERE admin_id IN (SELECT id FROM admins WHERE email = ?)", email)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: reset TOTP of %s: %w", email, err)
	}
	return nil
}

// UseAdminTOTP records step as the administrator's newest accepted code.
// It reports false when a step at least as new was accepted already (a
// replayed code), atomically, so two instances cannot both accept it.
// With enrolSecret set the secret is stored too, only if none is yet.
func (s *Store) UseAdminTOTP(ctx context.Context, adminID, step int64, enrolSecret string, now time.Time) (bool, error) {
	var n int64
	err := s.tx(ctx, func(t *txn) error {
		var err error
		if enrolSecret != "" {
			n, err = affected(t.exec(`UPDATE admins SET totp_secret = ?, totp_last_step = ?, updated_at = ?
				WHERE id = ? AND totp_secret = '' AND totp_last_step < ?`,
				enrolSecret, step, dbTime(norm(now)), adminID, step))
		} else {
			n, err = affected(t.exec(`UPDATE admins SET totp_last_step = ?, updated_at = ?
				WHERE id = ? AND totp_secret <> '' AND totp_last_step < ?`,
				step, dbTime(norm(now)), adminID, step))
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: use TOTP: %w", err)
	}
	return n == 1, nil
}

// ReplaceAdminSession stores next and deletes the session with id old (if
// any) in one transaction: each login stage gets a fresh id.
func (s *Store) ReplaceAdminSession(ctx context.Context, old string, next AdminSession) error {
	err := s.tx(ctx, func(t *txn) error {
		if old != "" {
			if _, err := t.exec("DELETE FROM admin_sessions WHERE id = ?", old); err != nil {
				return err
			}
		}
		_, err := t.exec(`INSERT INTO admin_sessions (id, admin_id, stage, enrol_secret, created_at, seen_at)
			VALUES (?, ?, ?, ?, ?, ?)`, next.ID, next.AdminID, next.Stage, next.EnrolSecret,
			dbTime(norm(next.CreatedAt)), dbTime(norm(next.SeenAt)))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save admin session: %w", err)
	}
	return nil
}

// AdminSessionByID reads a session; ErrNotFound when there is none.
func (s *Store) AdminSessionByID(ctx context.Context, id string) (AdminSession, error) {
	var a AdminSession
	err := s.queryRow(ctx, `SELECT id, admin_id, stage, enrol_secret, created_at, seen_at
		FROM admin_sessions WHERE id = ?`, id).Scan(&a.ID, &a.AdminID, &a.Stage, &a.EnrolSecret,
		scanTime(&a.CreatedAt), scanTime(&a.SeenAt))
	if errors.Is(err, sql.ErrNoRows) {
		return AdminSession{}, fmt.Errorf("store: admin session: %w", ErrNotFound)
	}
	if err != nil {
		return AdminSession{}, fmt.Errorf("store: admin session: %w", err)
	}
	return a, nil
}

// TouchAdminSession moves a session's idle clock to now.
func (s *Store) TouchAdminSession(ctx context.Context, id string, now time.Time) error {
	if err := s.tx(ctx, func(t *txn) error {
		_, err := t.exec("UPDATE admin_sessions SET seen_at = ? WHERE id = ?", dbTime(norm(now)), id)
		return err
	}); err != nil {
		return fmt.Errorf("store: touch admin session: %w", err)
	}
	return nil
}

// DeleteAdminSession ends a session (logout, expiry).
func (s *Store) DeleteAdminSession(ctx context.Context, id string) error {
	if err := s.tx(ctx, func(t *txn) error {
		_, err := t.exec("DELETE FROM admin_sessions WHERE id = ?", id)
		return err
	}); err != nil {
		return fmt.Errorf("store: delete admin session: %w", err)
	}
	return nil
}

// ExpireAdminSessions deletes sessions idle since before idleBefore or
// created before createdBefore.
func (s *Store) ExpireAdminSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(t *txn) error {
		var err error
		n, err = affected(t.exec("DELETE FROM admin_sessions WHERE seen_at < ? OR created_at < ?",
			dbTime(norm(idleBefore)), dbTime(norm(createdBefore))))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: expire admin sessions: %w", err)
	}
	return n, nil
}

// AdminBlockedUntil returns the latest time any of keys is blocked until
// (zero when none is).
func (s *Store) AdminBlockedUntil(ctx context.Context, keys ...string) (time.Time, error) {
	if len(keys) == 0 {
		return time.Time{}, nil
	}
	q := "SELECT COALESCE(MAX(blocked_until), 0) FROM admin_throttle WHERE throttle_key IN (?" +
		strings.Repeat(", ?", len(keys)-1) + ")"
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	var us int64
	if err := s.queryRow(ctx, q, args...).Scan(&us); err != nil {
		return time.Time{}, fmt.Errorf("store: admin throttle: %w", err)
	}
	if us == 0 {
		return time.Time{}, nil
	}
	return fromMicros(us), nil
}

// AdminFailure counts a failed attempt against key, starting afresh when
// the last failure was before forgetBefore, and blocks key until now +
// wait(failures) when wait returns more than zero. It returns the count.
func (s *Store) AdminFailure(ctx context.Context, key string, now, forgetBefore time.Time, wait func(failures int) time.Duration) (int, error) {
	now = norm(now)
	var n int
	err := s.tx(ctx, func(t *txn) error {
		err := t.queryRow(`INSERT INTO admin_throttle (throttle_key, failures, blocked_until, updated_at) VALUES (?, 1, 0, ?)
			ON CONFLICT (throttle_key) DO UPDATE SET
				failures = CASE WHEN admin_throttle.updated_at < ? THEN 1 ELSE admin_throttle.failures + 1 END,
				updated_at = excluded.updated_at
			RETURNING failures`, key, dbTime(now), dbTime(norm(forgetBefore))).Scan(&n)
		if err != nil {
			return err
		}
		if d := wait(n); d > 0 {
			_, err = t.exec("UPDATE admin_throttle SET blocked_until = ? WHERE throttle_key = ?", dbTime(now.Add(d)), key)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: admin failure: %w", err)
	}
	return n, nil
}

// ClearAdminFailures forgets key's failures (after a successful login).
func (s *Store) ClearAdminFailures(ctx context.Context, key string) error {
	if err := s.tx(ctx, func(t *txn) error {
		_, err := t.exec("DELETE FROM admin_throttle WHERE throttle_key = ?", key)
		return err
	}); err != nil {
		return fmt.Errorf("store: clear admin failures: %w", err)
	}
	return nil
}

// AddAdminLog appends to the administrators' log.
func (s *Store) AddAdminLog(ctx context.Context, e AdminLogEntry) error {
	if err := s.tx(ctx, func(t *txn) error {
		_, err := t.exec("INSERT INTO admin_log (at, event, email, client, detail) VALUES (?, ?, ?, ?, ?)",
			dbTime(norm(e.At)), e.Event, e.Email, e.Client, e.Detail)
		return err
	}); err != nil {
		return fmt.Errorf("store: admin log: %w", err)
	}
	return nil
}

// AdminLog returns the newest limit entries, newest first.
func (s *Store) AdminLog(ctx context.Context, limit int) ([]AdminLogEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.query(ctx, "SELECT id, at, event, email, client, detail FROM admin_log ORDER BY at DESC, id DESC LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("store: admin log: %w", err)
	}
	defer rows.Close()
	var out []AdminLogEntry
	for rows.Next() {
		var e AdminLogEntry
		if err := rows.Scan(&e.ID, scanTime(&e.At), &e.Event, &e.Email, &e.Client, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: admin log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: admin log: %w", err)
	}
	return out, nil
}
