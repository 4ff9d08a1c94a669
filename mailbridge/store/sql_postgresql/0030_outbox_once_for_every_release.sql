-- "One email per event and recipient" is a plain unique index again (see sql/0030):
-- the previous release's INSERT ... ON CONFLICT (kind, comment_id, rcpt_to) found no
-- constraint to match after 0029 and queued nothing.
UPDATE outbox
    SET last_error = coalesce(last_error, 'withdrawn') || ' (it was about comment '
        || comment_id || ')',
        comment_id = NULL
    WHERE status = 'withdrawn' AND comment_id IS NOT NULL;
DROP INDEX outbox_once;
CREATE UNIQUE INDEX outbox_once ON outbox (kind, comment_id, rcpt_to);

-- 0029 as first shipped (commit f92bd51, before 2c91074) lacked this index: a database
-- it migrated read every waiting notification each time a comment was published.
CREATE INDEX IF NOT EXISTS pending_by_comment ON pending_notifications (comment_id);
