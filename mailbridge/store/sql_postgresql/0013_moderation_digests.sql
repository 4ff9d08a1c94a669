ALTER TABLE comments ADD COLUMN moderation_mailed_at TEXT;
UPDATE comments SET moderation_mailed_at = created_at WHERE status = 'pending';
CREATE INDEX comments_not_yet_mailed ON comments (status, moderation_mailed_at);
