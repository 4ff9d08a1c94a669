"""``mailbridge migrate-store``: copy the database between SQLite and PostgreSQL.

The source is the configured store (``data_dir``'s SQLite file, or ``data_url``),
the destination ``--to``. The copy is driven by the schema (tables, columns, keys and
foreign keys read from the databases), streamed in batches, resumable, and verified
by per-table row counts and checksums. docs/migrate-store.md is the operator's guide.

Modules: :mod:`.endpoints` (what ``--to`` and the settings name, and opening them),
:mod:`.schema` (which tables, in which order), :mod:`.sqlite_side` and
:mod:`.pg_side` (one engine's reads and writes), :mod:`.progress` (the bookkeeping in
the destination), :mod:`.copier` (the batches), :mod:`.verify` (counts and
checksums), :mod:`.run` (the whole operation) and :mod:`.command` (the click command).

Nothing is imported here: ``mailbridge migrate-store --help`` and every other command
start without the copy's modules (or psycopg).
"""

__all__: list[str] = []
