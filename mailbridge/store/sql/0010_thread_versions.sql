-- Issue 9: published threads are served with ETag and Last-Modified. Every change to
-- a thread's comments (new, approved, rejected, edited, deleted) or to its title or
-- URL bumps its version, by trigger, so no code path can forget to.
ALTER TABLE threads ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN changed_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00Z';
UPDATE threads SET changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');

CREATE TRIGGER thread_version_on_insert AFTER INSERT ON comments BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.thread_id;
END;

CREATE TRIGGER thread_version_on_update AFTER UPDATE ON comments BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
        WHERE id IN (NEW.thread_id, OLD.thread_id);
END;

CREATE TRIGGER thread_version_on_delete AFTER DELETE ON comments BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = OLD.thread_id;
END;

CREATE TRIGGER thread_version_on_thread AFTER UPDATE OF title, url, closed ON threads BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.id;
END;
