-- Issue 10: moderators may get a digest of pending comments instead of one email each.
-- When a moderation email or a digest covering a pending comment was queued; NULL for
-- a comment no moderator has been emailed about yet (the digest picks those up).
ALTER TABLE comments ADD COLUMN moderation_mailed_at TEXT;
UPDATE comments SET moderation_mailed_at = created_at WHERE status = 'pending';
CREATE INDEX comments_not_yet_mailed ON comments (status, moderation_mailed_at);
