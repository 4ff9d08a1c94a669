-- A sign-in link opens one session: the SHA-256 of the link that opened each session,
-- so the same link, pressed again (from another browser, or by whoever finds it in a
-- forwarded email or a browser's history within its 15 minutes), opens no other.
ALTER TABLE moderator_sessions ADD COLUMN link_hash TEXT;
CREATE UNIQUE INDEX moderator_sessions_by_link ON moderator_sessions (link_hash);
