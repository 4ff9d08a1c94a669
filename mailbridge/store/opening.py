"""The store as configured: what every command that needs the database opens.

Apart from mailbridge.app so that a one-off command (`mailbridge import`) opens the
database without importing the whole daemon first (a third of a second on each run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailbridge.errors import ConfigError
from mailbridge.store import Store

if TYPE_CHECKING:
    from mailbridge.settings import Settings

__all__ = ["open_store"]


async def open_store(settings: Settings) -> Store:
    if settings.data_url:
        # The PostgreSQL engine does not run the repositories yet (issue 16): refuse
        # rather than open SQLite in data_dir and leave the configured database empty.
        raise ConfigError(
            "data_url: the PostgreSQL store is not available in this version yet; "
            "leave data_url empty to use SQLite in data_dir"
        )
    return await Store.open(
        settings.database_path, busy_timeout=settings.database_busy_timeout_seconds
    )
