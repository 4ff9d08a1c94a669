-- Issue 14: no per-reply cost that grows with the data.
-- Its first form, 0018_indexes_for_growth (commit 7a1186c, the indexes alone), was
-- renamed to this one: a database it made finds this step pending, keeps its indexes
-- (IF NOT EXISTS; they failed it, and every start after it, with "already exists")
-- and forgets the old name, which no version knows (migrate-store refused on it).
DELETE FROM schema_migrations WHERE name = '0018_indexes_for_growth';
-- The spam score's "same text in another comment" looked at every comment's body:
-- a full scan per reply (a reply took 3.5x as long with 100,000 comments stored).
-- An index on the text's start (bounded in size, unlike the whole body) finds the
-- few candidates; the query compares the whole body among them.
CREATE INDEX IF NOT EXISTS comments_by_body_start ON comments (substr(body, 1, 48));
-- The moderation email reads the authentication of the reply a comment came from.
CREATE INDEX IF NOT EXISTS inbound_by_comment ON inbound_messages (comment_id);
-- A person's published comments are counted for every comment of theirs (trust, the
-- moderation email): counted in the index, not by reading each of their comments.
CREATE INDEX IF NOT EXISTS comments_by_address_status ON comments (address_id, status);

-- Moderation emails are built after the comment commits, off the reply's critical
-- path (mailbridge.notify.moderation_mailer): the comment's own transaction leaves a
-- row here, so one is never lost, and the mailer takes it once it has queued them.
CREATE TABLE moderation_mail_queue (
    comment_id    INTEGER PRIMARY KEY REFERENCES comments(id) ON DELETE CASCADE,
    auto_approved TEXT,  -- why it was published at once; NULL: it waits for a decision
    queued_at     TEXT NOT NULL
);
