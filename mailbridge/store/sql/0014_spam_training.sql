-- Issue 10: the Bayesian spam filter's state, trained by moderators' Spam and Approve
-- decisions (mailbridge.spam.training) and by `mailbridge spam train`.
-- Documents seen of each kind.
CREATE TABLE spam_training_docs (
    label TEXT PRIMARY KEY CHECK (label IN ('spam', 'ham')),
    docs INTEGER NOT NULL DEFAULT 0
);
INSERT INTO spam_training_docs (label, docs) VALUES ('spam', 0), ('ham', 0);
-- Per word (or 'host:NAME'): in how many spam and ham documents it was seen.
CREATE TABLE spam_words (
    word TEXT PRIMARY KEY,
    spam INTEGER NOT NULL DEFAULT 0,
    ham INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Which comments taught what, so a changed decision (or an undo) unlearns the old one.
CREATE TABLE spam_trained_comments (
    comment_id INTEGER PRIMARY KEY REFERENCES comments(id) ON DELETE CASCADE,
    label TEXT NOT NULL CHECK (label IN ('spam', 'ham')),
    body TEXT NOT NULL  -- the text as learnt: an edit later must not unlearn other words
);
-- The daily spam report lists comments that went to spam without a moderation email
-- (moderation_mailed_at stays NULL for them); what was there before is not news.
UPDATE comments SET moderation_mailed_at = created_at
    WHERE status = 'spam' AND moderation_mailed_at IS NULL;
