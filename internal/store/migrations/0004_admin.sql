-- The firm's dashboard: administrators (argon2id password hash in PHC
-- form; TOTP secret, '' until enrolled; the last accepted TOTP step, so a
-- code is accepted once), their sessions (the id is the SHA-256 of the
-- cookie, so a copy of the database opens no session), failed-attempt
-- counters per account and per client, and the log of logins, failures
-- and exports.

CREATE TABLE admins (
    id {{id}},
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    totp_secret TEXT NOT NULL DEFAULT '',
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- stage: 'password' (password right, code still due), 'full' (logged in).
-- enrol_secret: the secret shown on the enrolment page until a right code
-- makes it the administrator's.
CREATE TABLE admin_sessions (
    id TEXT PRIMARY KEY,
    admin_id BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    stage TEXT NOT NULL CHECK (stage IN ('password', 'full')),
    enrol_secret TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
CREATE INDEX admin_sessions_seen ON admin_sessions (seen_at);

-- throttle_key: 'account:<email>' (known or not, so an unknown account is
-- throttled alike) or 'client:<ip>'.
CREATE TABLE admin_throttle (
    throttle_key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    blocked_until BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);

-- event: login, login_failed, throttled, logout, export, …
CREATE TABLE admin_log (
    id {{id}},
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    client TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);

CREATE INDEX admin_log_at ON admin_log (at, id);
