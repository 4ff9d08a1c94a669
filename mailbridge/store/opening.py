"""The store as configured: what every command that needs the database opens.

Apart from mailbridge.app so that a one-off command (`mailbridge import`) opens the
database without importing the whole daemon first (a third of a second on each run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from mailbridge.errors import ConfigError
from mailbridge.store import Store

if TYPE_CHECKING:
    from mailbridge.settings import Settings

__all__ = ["open_store"]


async def open_store(settings: Settings) -> Store:
    if settings.data_url:
        # Imported here: a SQLite install neither needs psycopg nor pays for loading it.
        from mailbridge.store.postgres.store import PgStore, StoreUnreachable

        try:
            store = await PgStore.open(
                settings.data_url, busy_timeout=settings.database_busy_timeout_seconds
            )
        except StoreUnreachable as exc:
            raise ConfigError(f"data_url: {exc}") from exc
        # PgStore has Store's public API (write, read, probe_write, close, is_open);
        # the callers are still annotated with the SQLite class (issue 16, step 2).
        return cast(Store, store)
    return await Store.open(
        settings.database_path, busy_timeout=settings.database_busy_timeout_seconds
    )
