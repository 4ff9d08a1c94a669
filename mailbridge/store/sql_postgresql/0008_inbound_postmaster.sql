-- Mail to postmaster@: one more disposition, changed in place (SQLite rebuilds).
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_status_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_status_check CHECK (status IN (
    'received', 'accepted', 'held', 'rejected', 'dropped', 'bounce', 'refused',
    'unsubscribed', 'postmaster'));
