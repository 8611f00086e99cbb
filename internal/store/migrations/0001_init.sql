-- Subscribers, consent evidence, the transactional mail queue, the campaign
-- ledger, the webhook replay guard and leases. Written once for both
-- databases: {{id}}, {{bool}} and {{false}} are filled in by the dialect.
-- Timestamps are BIGINT microseconds since the Unix epoch (UTC); NULL means
-- "never" (see times.go).

CREATE TABLE subscribers (
    id {{id}},
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'bounced', 'complained')),
    whitepaper_requested {{bool}} NOT NULL DEFAULT {{false}},
    consent_at BIGINT,
    consent_version TEXT NOT NULL DEFAULT '',
    consent_source TEXT NOT NULL DEFAULT '',
    consent_ip TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    unsubscribed_at BIGINT,
    bounced_at BIGINT,
    complained_at BIGINT,
    last_confirmation_at BIGINT,
    last_whitepaper_at BIGINT
);

CREATE INDEX subscribers_status ON subscribers (status, id);

CREATE TABLE subscriber_events (
    id {{id}},
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    type TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id, id);

CREATE TABLE erased (
    email_hash TEXT PRIMARY KEY,
    erased_at BIGINT NOT NULL
);

CREATE TABLE mail_queue (
    id {{id}},
    kind TEXT NOT NULL CHECK (kind IN ('confirm', 'whitepaper')),
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    to_email TEXT NOT NULL,
    to_name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    locked_by TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    failed_at BIGINT
);

-- Partial indexes stay small while sent rows pile up as history.
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX mail_queue_leased ON mail_queue (locked_until, id) WHERE status = 'sending';
CREATE INDEX mail_queue_subscriber ON mail_queue (subscriber_id, status);

CREATE TABLE campaigns (
    id {{id}},
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    test_mode {{bool}} NOT NULL DEFAULT {{false}},
    deliver_at BIGINT,
    batch_size INTEGER NOT NULL CHECK (batch_size > 0),
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    error TEXT NOT NULL DEFAULT '',
    recipients_count INTEGER NOT NULL DEFAULT 0,
    batches_count INTEGER NOT NULL DEFAULT 0,
    sent_count INTEGER NOT NULL DEFAULT 0,
    resolved_count INTEGER NOT NULL DEFAULT 0,
    skipped_count INTEGER NOT NULL DEFAULT 0,
    failed_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE campaign_batches (
    id {{id}},
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'unknown', 'failed')),
    size INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at BIGINT,
    sent_at BIGINT,
    message_id TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    UNIQUE (campaign_id, seq)
);

-- subscriber_id has no foreign key on purpose: the ledger outlives erased
-- subscribers (their address and name are blanked, the row stays counted).
-- The key orders recipients by batch, so a batch is one range read in
-- subscriber order and fixing a campaign's list writes a single B-tree
-- (SQLite keeps the rows in it: WITHOUT ROWID). A subscriber is in a
-- campaign once: the list is INSERT … SELECT over unique subscriber ids.
CREATE TABLE campaign_recipients (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    batch_seq INTEGER NOT NULL,
    subscriber_id BIGINT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'resolved', 'skipped', 'failed')),
    sent_at BIGINT,
    PRIMARY KEY (campaign_id, batch_seq, subscriber_id)
){{without_rowid}};

CREATE INDEX campaign_recipients_subscriber ON campaign_recipients (subscriber_id);

CREATE TABLE webhook_tokens (
    token TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);

CREATE INDEX webhook_tokens_seen ON webhook_tokens (seen_at);

-- Leases (the SQLite send lock; on PostgreSQL only a note of who holds the
-- advisory lock).
CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
