CREATE TABLE address_trust (
    address_id  BIGINT PRIMARY KEY REFERENCES addresses(id),
    trust       TEXT NOT NULL CHECK (trust IN ('trusted', 'blocked')),
    since       TEXT NOT NULL,
    by_address_id BIGINT REFERENCES addresses(id)
);

-- The 'auto' channel: the CHECK changed in place (SQLite rebuilds the table).
ALTER TABLE moderation_decisions DROP CONSTRAINT moderation_decisions_channel_check;
ALTER TABLE moderation_decisions ADD CONSTRAINT moderation_decisions_channel_check
    CHECK (channel IN ('link', 'reply', 'queue', 'api', 'cli', 'auto'));
