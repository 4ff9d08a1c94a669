-- Nothing to change here: PostgreSQL's identity sequences never go back by themselves
-- (sql/0038 gives SQLite's inbound log the same). Kept so both engines list the same
-- migrations (schema_migrations reads the same on both).
SELECT 1;
