-- A thread's version (0010) names what its published view shows: the approved
-- comments, and the thread's title, URL and closed state. It was bumped by every
-- change to any of its comments, so each pending reply and each web comment made
-- every cached page and API answer of its thread stale: a busy thread, or one under a
-- spam run, was rendered again for nearly every reader, and its CDN copies and 304s
-- lost (a soak of 20 pending replies a second to one thread rebuilt it for each of 20
-- reads a second). Now only a change a reader can see bumps it: a comment that is, or
-- was, approved (published, unpublished, edited, moved, erased or deleted). A reply
-- whose parent is unpublished disappears with it; the parent's change bumps.
DROP TRIGGER thread_version_on_insert;
CREATE TRIGGER thread_version_on_insert AFTER INSERT ON comments
WHEN NEW.status = 'approved' BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.thread_id;
END;

DROP TRIGGER thread_version_on_update;
CREATE TRIGGER thread_version_on_update AFTER UPDATE ON comments
WHEN OLD.status = 'approved' OR NEW.status = 'approved' BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
        WHERE id IN (NEW.thread_id, OLD.thread_id);
END;

DROP TRIGGER thread_version_on_delete;
CREATE TRIGGER thread_version_on_delete AFTER DELETE ON comments
WHEN OLD.status = 'approved' BEGIN
    UPDATE threads SET version = version + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = OLD.thread_id;
END;
