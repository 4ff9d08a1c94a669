CREATE TABLE import_files (
    sha256      TEXT PRIMARY KEY,
    format      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    threads     BIGINT NOT NULL,
    comments    BIGINT NOT NULL,
    imported_at TEXT NOT NULL
);
