-- Issue 10: the /moderate queue page. A moderator signs in with a link emailed to
-- their address (no passwords); the session cookie's value is random, and only its
-- SHA-256 is stored, so a copy of the database signs nobody in. Sessions are listed
-- and revoked with `mailbridge sessions`.
CREATE TABLE moderator_sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    address_id   INTEGER NOT NULL REFERENCES addresses(id),
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX moderator_sessions_by_address ON moderator_sessions (address_id);
