-- The mail service's own id for a message its HTTPS API accepted (mailgun://,
-- postmark://, ses://), as "service:id" (mailbridge.store.outbox.provider_key).
-- Postmark's and Amazon SES's bounce and complaint events name the message by that
-- id; ours (the Message-ID) is in them only when the operator turned on "Include
-- message content" or "Include original headers", so without it a bounce counted for
-- nobody. Set when the send is recorded; empty for mail sent by SMTP or to a Maildir,
-- and for every row before this migration. An earlier release's daemon running on the
-- same database names no such column and leaves it empty.
ALTER TABLE outbox ADD COLUMN provider_id TEXT;
-- Not unique: a message sent again after a crash (same Message-ID) gets the service's
-- new id, and an id shared by two rows must never fail the commit of a send.
CREATE INDEX outbox_by_provider_id ON outbox (provider_id) WHERE provider_id IS NOT NULL;
