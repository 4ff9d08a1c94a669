-- What each moderation digest and spam report lists (mailbridge.store.listings): an
-- erasure withdraws one still queued that lists the erased person's comment (it went
-- out within the minute with their name and words), and the other comments it listed
-- wait for the next one. No key to comments: a comment deleted by a daemon of an
-- earlier release, which knows nothing of this table, must not fail on it (ids are
-- never reused, sql/0027).
CREATE TABLE outbox_listed (
    outbox_id  BIGINT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    comment_id BIGINT NOT NULL,
    PRIMARY KEY (outbox_id, comment_id)
);
CREATE INDEX outbox_listed_by_comment ON outbox_listed (comment_id);
