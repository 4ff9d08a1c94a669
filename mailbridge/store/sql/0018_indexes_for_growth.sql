-- Issue 14: no per-reply cost that grows with the data.
-- The spam score's "same text in another comment" looked at every comment's body:
-- a full scan per reply (a reply took 3.5x as long with 100,000 comments stored).
-- An index on the text's start (bounded in size, unlike the whole body) finds the
-- few candidates; the query compares the whole body among them.
CREATE INDEX comments_by_body_start ON comments (substr(body, 1, 48));
-- The moderation email reads the authentication of the reply a comment came from.
CREATE INDEX inbound_by_comment ON inbound_messages (comment_id);
-- A person's published comments are counted for every comment of theirs (trust, the
-- moderation email): counted in the index, not by reading each of their comments.
CREATE INDEX comments_by_address_status ON comments (address_id, status);
