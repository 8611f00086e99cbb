-- What each reader chose: the topics they turned off (comma-separated ids,
-- so that a topic added later reaches everyone) and whether they get each
-- guide or a digest; the topics of a guide's campaign; the guides waiting
-- for a reader's next digest; which guides each digest recipient gets; and
-- the welcome email in the transactional queue.

ALTER TABLE subscribers ADD COLUMN frequency TEXT NOT NULL DEFAULT 'each';
ALTER TABLE subscribers ADD COLUMN topics_off TEXT NOT NULL DEFAULT '';

-- kind: a guide's campaign, or a digest (slug digest-…). topics: the
-- guide's topics when its campaign was created.
ALTER TABLE campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'guide';
ALTER TABLE campaigns ADD COLUMN topics TEXT NOT NULL DEFAULT '';

-- A digest recipient's guides, as the comma-separated ids of their
-- campaigns; a digest batch holds recipients with the same guides, so a
-- batch is still one rendered body. '' for a guide's campaign.
ALTER TABLE campaign_recipients ADD COLUMN variant TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_batches ADD COLUMN variant TEXT NOT NULL DEFAULT '';

-- A guide's campaign puts one row here for each digest reader it matches.
-- The digest takes every row and deletes them in the transaction that
-- fixes its recipients, so a guide is in exactly one digest.
CREATE TABLE digest_items (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    queued_at BIGINT NOT NULL,
    PRIMARY KEY (subscriber_id, campaign_id)
);

CREATE INDEX digest_items_campaign ON digest_items (campaign_id);

-- The queue's kinds gain the welcome email, and whitepaper says a welcome
-- carries the download link (asked for at signup, decided when queued). A
-- CHECK cannot be altered in SQLite, so the table is copied (ids kept; on
-- PostgreSQL the identity is moved past them).
CREATE TABLE mail_queue_new (
    id {{id}},
    kind TEXT NOT NULL CHECK (kind IN ('confirm', 'whitepaper', 'welcome')),
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
    failed_at BIGINT,
    whitepaper {{bool}} NOT NULL DEFAULT {{false}}
);

INSERT INTO mail_queue_new (id, kind, subscriber_id, to_email, to_name, status, attempts, next_attempt_at,
    locked_until, locked_by, last_error, message_id, created_at, sent_at, failed_at)
SELECT id, kind, subscriber_id, to_email, to_name, status, attempts, next_attempt_at,
    locked_until, locked_by, last_error, message_id, created_at, sent_at, failed_at FROM mail_queue;

{{carry_sequence:mail_queue}};
DROP TABLE mail_queue;
ALTER TABLE mail_queue_new RENAME TO mail_queue;

CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX mail_queue_leased ON mail_queue (locked_until, id) WHERE status = 'sending';
CREATE INDEX mail_queue_subscriber ON mail_queue (subscriber_id, status);
