-- A thread's version is bumped by trigger, as on SQLite (sql/0010). PostgreSQL's
-- triggers call a function; SQLite's strftime('%Y-%m-%dT%H:%M:%SZ', 'now') is the
-- to_char below (UTC, whole seconds, Z).
ALTER TABLE threads ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN changed_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00Z';

CREATE FUNCTION mailbridge_utc_now() RETURNS TEXT LANGUAGE sql STABLE AS
$$ SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

UPDATE threads SET changed_at = mailbridge_utc_now();

CREATE FUNCTION thread_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'threads' THEN
        UPDATE threads SET version = version + 1, changed_at = mailbridge_utc_now()
            WHERE id = NEW.id;
    ELSIF TG_OP = 'INSERT' THEN
        UPDATE threads SET version = version + 1, changed_at = mailbridge_utc_now()
            WHERE id = NEW.thread_id;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE threads SET version = version + 1, changed_at = mailbridge_utc_now()
            WHERE id IN (NEW.thread_id, OLD.thread_id);
    ELSE
        UPDATE threads SET version = version + 1, changed_at = mailbridge_utc_now()
            WHERE id = OLD.thread_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER thread_version_on_insert AFTER INSERT ON comments
    FOR EACH ROW EXECUTE FUNCTION thread_version_bump();
CREATE TRIGGER thread_version_on_update AFTER UPDATE ON comments
    FOR EACH ROW EXECUTE FUNCTION thread_version_bump();
CREATE TRIGGER thread_version_on_delete AFTER DELETE ON comments
    FOR EACH ROW EXECUTE FUNCTION thread_version_bump();
-- Fires only when the UPDATE names title, url or closed; the bump itself names
-- neither, so it does not fire itself again (as on SQLite).
CREATE TRIGGER thread_version_on_thread AFTER UPDATE OF title, url, closed ON threads
    FOR EACH ROW EXECUTE FUNCTION thread_version_bump();
