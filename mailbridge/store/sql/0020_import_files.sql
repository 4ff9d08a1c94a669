-- Issue 14: files imported whole, known by their content, so importing the same file
-- again is answered at once instead of being read again (mailbridge.importer.load).
-- A row is written only when an import finished: an interrupted one is read again.
CREATE TABLE import_files (
    sha256      TEXT PRIMARY KEY,       -- of the file's bytes
    format      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    threads     INTEGER NOT NULL,       -- in the file, created or already present
    comments    INTEGER NOT NULL,       -- in the file, added or already present
    imported_at TEXT NOT NULL
);
