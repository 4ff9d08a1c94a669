"""Daemons sharing a PostgreSQL database must share the instance secret: a token one
mints is checked by another. One started with another secret refuses to start, with
a line that says what to do, instead of refusing every token the others minted."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_settings

from mailbridge.app import running
from mailbridge.errors import ConfigError
from mailbridge.instance_secret import load_or_create_secret
from mailbridge.tokens import Keyring


@pytest.mark.asyncio
async def test_another_secret_is_refused_the_same_one_starts(pg_url: str, tmp_path: Path) -> None:
    first = make_settings(tmp_path / "a", data_url=pg_url)
    async with running(first):
        pass
    assert first.secret_path.exists()

    stranger = make_settings(tmp_path / "b", data_url=pg_url)  # makes its own secret
    with pytest.raises(ConfigError, match="differs from the one the other daemons") as refused:
        async with running(stranger):
            pytest.fail("started with another secret")
    assert str(stranger.secret_path) in str(refused.value)

    sharing = make_settings(tmp_path / "c", data_url=pg_url, secret_file=str(first.secret_path))
    async with running(sharing) as daemon:
        assert daemon.keyring == Keyring.from_secret(load_or_create_secret(first.secret_path))


@pytest.mark.asyncio
async def test_sqlite_keeps_starting_after_a_new_secret(tmp_path: Path) -> None:
    """One daemon per SQLite file: a lost secret.key, made again, must not lock it out."""
    settings = make_settings(tmp_path, data_url="")
    async with running(settings):
        pass
    settings.secret_path.unlink()
    async with running(settings):
        pass
