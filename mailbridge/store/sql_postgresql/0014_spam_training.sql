CREATE TABLE spam_training_docs (
    label TEXT PRIMARY KEY CHECK (label IN ('spam', 'ham')),
    docs BIGINT NOT NULL DEFAULT 0
);
INSERT INTO spam_training_docs (label, docs) VALUES ('spam', 0), ('ham', 0);
-- SQLite's WITHOUT ROWID has no equivalent, nor needs one: a heap table with its key.
CREATE TABLE spam_words (
    word TEXT PRIMARY KEY,
    spam BIGINT NOT NULL DEFAULT 0,
    ham BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE spam_trained_comments (
    comment_id BIGINT PRIMARY KEY REFERENCES comments(id) ON DELETE CASCADE,
    label TEXT NOT NULL CHECK (label IN ('spam', 'ham')),
    body TEXT NOT NULL
);
UPDATE comments SET moderation_mailed_at = created_at
    WHERE status = 'spam' AND moderation_mailed_at IS NULL;
