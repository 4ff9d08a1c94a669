-- "One email per event and recipient" is a plain unique index again, as before 0029:
-- 0029's was partial (withdrawn rows left out), and a conflict target names a partial
-- index only with its WHERE, which no earlier release's INSERT ... ON CONFLICT (kind,
-- comment_id, rcpt_to) has. Each one that queued an email failed ("ON CONFLICT clause
-- does not match any PRIMARY KEY or UNIQUE constraint"): a daemon of the previous
-- release still running on the database after another upgraded it (several daemons on
-- one PostgreSQL, upgraded one at a time), or put back after an upgrade, queued no
-- moderation email, notification or confirmation. A withdrawn row leaves the key by
-- its comment_id becoming NULL (NULLs are distinct in a unique index, on both engines),
-- as a deleted comment's emails do; its note names the comment it was about.
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
