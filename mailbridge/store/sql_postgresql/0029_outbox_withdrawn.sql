-- A queued notification of a comment taken off the page is withdrawn (see sql/0029).
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'withdrawn'));
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_comment_id_rcpt_to_key;
CREATE UNIQUE INDEX outbox_once ON outbox (kind, comment_id, rcpt_to)
    WHERE status != 'withdrawn';

CREATE TABLE outbox_items (
    outbox_id  BIGINT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    comment_id BIGINT NOT NULL REFERENCES comments(id),
    address_id BIGINT NOT NULL REFERENCES addresses(id),
    why        TEXT NOT NULL CHECK (why IN ('reply', 'thread')),
    PRIMARY KEY (outbox_id, comment_id)
);
CREATE INDEX outbox_items_by_comment ON outbox_items (comment_id);

-- Publishing a comment sends what waited withdrawn under it (its replies approved
-- while it was off the page): found by comment, not by reading every waiting row.
CREATE INDEX pending_by_comment ON pending_notifications (comment_id);
