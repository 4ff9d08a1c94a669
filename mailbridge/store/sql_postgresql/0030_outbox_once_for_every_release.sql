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
