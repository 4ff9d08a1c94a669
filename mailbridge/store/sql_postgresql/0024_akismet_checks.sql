CREATE TABLE akismet_checks (
    comment_id BIGINT PRIMARY KEY REFERENCES comments(id) ON DELETE CASCADE,
    form TEXT NOT NULL,
    believed TEXT NOT NULL CHECK (believed IN ('spam', 'ham')),
    wanted TEXT NOT NULL CHECK (wanted IN ('spam', 'ham')),
    checked_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX akismet_checks_by_age ON akismet_checks (checked_at);
