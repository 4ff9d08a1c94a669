-- Issue 11: tokens for software that integrates through the admin API. Only a hash of
-- each token is kept (the token is shown once, at creation); revoking keeps the row.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,          -- space-separated: read moderate
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
