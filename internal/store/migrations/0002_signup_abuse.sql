-- What stops the signup form from being used against people: a random key
-- per subscriber row that every emailed link carries (an id alone could
-- name someone else after a restore), the start of the pending period (the
-- 30-day purge counts from the first signup, not the latest attempt), the
-- User-Agent of the request that confirmed, the confirmation emails sent
-- per mailbox (counted across instances), and the emails held back by a
-- limit (counted for the operator, without addresses).

ALTER TABLE subscribers ADD COLUMN link_key TEXT NOT NULL DEFAULT '';
ALTER TABLE subscribers ADD COLUMN pending_since BIGINT;
ALTER TABLE subscribers ADD COLUMN confirm_user_agent TEXT NOT NULL DEFAULT '';

UPDATE subscribers SET link_key = {{random_key}};
UPDATE subscribers SET pending_since = created_at WHERE status = 'pending';

-- mailbox is a SHA-256 of the mailbox key (mailaddr.Mailbox): rows live 7
-- days, only to be counted.
CREATE TABLE confirmation_sends (
    mailbox TEXT NOT NULL,
    domain TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX confirmation_sends_mailbox ON confirmation_sends (mailbox, at);
CREATE INDEX confirmation_sends_domain ON confirmation_sends (domain, at);
CREATE INDEX confirmation_sends_at ON confirmation_sends (at);

CREATE TABLE mail_held (
    id {{id}},
    at BIGINT NOT NULL,
    reason TEXT NOT NULL
);

CREATE INDEX mail_held_at ON mail_held (at);
