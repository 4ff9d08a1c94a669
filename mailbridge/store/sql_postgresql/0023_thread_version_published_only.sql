-- As on SQLite (sql/0023): a thread's version is bumped only by a change to a comment
-- that is, or was, approved, the only comments its published view shows.
DROP TRIGGER thread_version_on_insert ON comments;
CREATE TRIGGER thread_version_on_insert AFTER INSERT ON comments
    FOR EACH ROW WHEN (NEW.status = 'approved') EXECUTE FUNCTION thread_version_bump();
DROP TRIGGER thread_version_on_update ON comments;
CREATE TRIGGER thread_version_on_update AFTER UPDATE ON comments
    FOR EACH ROW WHEN (OLD.status = 'approved' OR NEW.status = 'approved')
    EXECUTE FUNCTION thread_version_bump();
DROP TRIGGER thread_version_on_delete ON comments;
CREATE TRIGGER thread_version_on_delete AFTER DELETE ON comments
    FOR EACH ROW WHEN (OLD.status = 'approved') EXECUTE FUNCTION thread_version_bump();
