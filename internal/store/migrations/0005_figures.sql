-- The figures of the firm's dashboard and `kb report`: what Mailgun's
-- webhooks and the unsubscribe links report per campaign, counted per hour
-- (type: delivered, failed_permanent, failed_temporary, complained,
-- unsubscribed, and opened/clicked only with params.newsletter.tracking).
-- A count is added in the transaction that records the webhook's token,
-- so a replayed webhook counts once. hour: Unix µs of the hour's start.

CREATE TABLE campaign_stats (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    hour BIGINT NOT NULL,
    type TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, hour, type)
){{without_rowid}};

-- Covering indexes of the overview's counts: events by type and time
-- (weekly counts, distinct signups, whitepaper figures), confirmed readers
-- by confirmation time (subscribers at each month's end), and signups of
-- the last 90 days with their confirmation (rate and median).
CREATE INDEX subscriber_events_type_at ON subscriber_events (type, at, subscriber_id);
CREATE INDEX subscribers_status_confirmed ON subscribers (status, confirmed_at);
CREATE INDEX subscribers_pending_since ON subscribers (pending_since, confirmed_at);
