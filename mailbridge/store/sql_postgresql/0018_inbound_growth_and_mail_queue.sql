CREATE INDEX comments_by_body_start ON comments (substr(body, 1, 48));
CREATE INDEX inbound_by_comment ON inbound_messages (comment_id);
CREATE INDEX comments_by_address_status ON comments (address_id, status);

CREATE TABLE moderation_mail_queue (
    comment_id    BIGINT PRIMARY KEY REFERENCES comments(id) ON DELETE CASCADE,
    auto_approved TEXT,
    queued_at     TEXT NOT NULL
);
