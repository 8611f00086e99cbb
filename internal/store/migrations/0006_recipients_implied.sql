-- The campaign ledger's recipient rows lose their foreign key to campaigns
-- (campaigns are never deleted, and each row is written in the transaction
-- that creates its campaign): checking it for every row was about a third
-- of the time PostgreSQL took to fix a 100,000-recipient list. From this
-- version on a sent batch leaves its recipients' rows pending, which then
-- means sent with the batch (store.RecipientPending); rows written before
-- say sent. SQLite cannot drop a constraint, so the table is copied.
CREATE TABLE campaign_recipients_new (
    campaign_id BIGINT NOT NULL,
    batch_seq INTEGER NOT NULL,
    subscriber_id BIGINT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'resolved', 'skipped', 'failed')),
    sent_at BIGINT,
    variant TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, batch_seq, subscriber_id)
){{without_rowid}};

INSERT INTO campaign_recipients_new (campaign_id, batch_seq, subscriber_id, email, name, state, sent_at, variant)
SELECT campaign_id, batch_seq, subscriber_id, email, name, state, sent_at, variant FROM campaign_recipients;

DROP TABLE campaign_recipients;
ALTER TABLE campaign_recipients_new RENAME TO campaign_recipients;

CREATE INDEX campaign_recipients_subscriber ON campaign_recipients (subscriber_id);
