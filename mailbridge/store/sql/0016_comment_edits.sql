-- Issue 11: a comment's text edited through the admin API; the text before each edit is
-- kept here, oldest first, so nothing the person wrote is lost by an edit.
CREATE TABLE comment_edits (
    id          INTEGER PRIMARY KEY,
    comment_id  INTEGER NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    body        TEXT NOT NULL,            -- the text before this edit
    edited_at   TEXT NOT NULL,
    by          TEXT NOT NULL             -- who edited: "api token 3 (name)"
);
CREATE INDEX comment_edits_by_comment ON comment_edits (comment_id, id);
