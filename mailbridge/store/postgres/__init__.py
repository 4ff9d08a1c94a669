"""The PostgreSQL engine (issue 16): a psycopg 3 connection shaped like the SQLite one.

Imported only when ``data_url`` names PostgreSQL, so a SQLite install neither needs
psycopg nor pays for importing it.
"""
