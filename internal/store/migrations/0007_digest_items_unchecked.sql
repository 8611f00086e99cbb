-- The digest queue loses its foreign keys, as the ledger's recipients did
-- in 0006: PostgreSQL checked both for every row, about three quarters of
-- the time a guide's campaign took to queue itself for 100,000 digest
-- readers (1.2-1.5 s, against 0.25-0.3 s without). Nothing relies on
-- them: campaigns are never deleted, and erasing or purging subscribers
-- deletes their rows here itself (deleteSubscribers). SQLite cannot drop a
-- constraint, so the table is copied.
CREATE TABLE digest_items_new (
    subscriber_id BIGINT NOT NULL,
    campaign_id BIGINT NOT NULL,
    queued_at BIGINT NOT NULL,
    PRIMARY KEY (subscriber_id, campaign_id)
){{without_rowid}};

INSERT INTO digest_items_new (subscriber_id, campaign_id, queued_at)
SELECT subscriber_id, campaign_id, queued_at FROM digest_items;

DROP TABLE digest_items;
ALTER TABLE digest_items_new RENAME TO digest_items;

CREATE INDEX digest_items_campaign ON digest_items (campaign_id);
