-- Nothing to change here: PostgreSQL's identity sequences never go back by themselves
-- (sql/0027 gives SQLite's tables the same). Kept so both engines list the same
-- migrations (schema_migrations reads the same on both).
SELECT 1;
