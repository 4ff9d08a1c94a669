"""A real WordPress (Debian's 6.1, private MariaDB) on loopback, for the bridge tests.

tests/recipes/wordpress.sh starts it in a temporary directory (about 1 s once the
packages are installed; .ci/run installs them). The helpers here act as the site's
owner would in wp-admin, through the REST API with the Application Password.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from programs import find_program, unavailable
from support import recipe_server

RECIPE = Path(__file__).resolve().parent / "recipes" / "wordpress.sh"
PACKAGES = "wordpress php-cli php-mysql mariadb-server"


@dataclass(frozen=True)
class Site:
    url: str
    user: str
    app_password: str
    directory: Path  # the recipe's DIR: DIR/wordpress is the site's PHP

    def export_wxr(self, to: Path) -> None:
        """WordPress's own export (wp-admin: Tools, Export; export_wp() in PHP)."""
        code = (
            f'define("WP_ADMIN", true); require "{self.directory}/wordpress/wp-load.php"; '
            'require_once ABSPATH . "wp-admin/includes/export.php"; '
            'export_wp(array("content" => "all"));'
        )
        with to.open("wb") as out:
            subprocess.run(["php", "-r", code], stdout=out, check=True, timeout=120)


def wordpress_missing() -> str | None:
    if not Path("/usr/share/wordpress/wp-load.php").exists() or not all(
        find_program(p) for p in ("php", "mariadbd", "mariadb-install-db")
    ):
        return f"needs WordPress: apt-get install {PACKAGES}"
    return None


@pytest.fixture(scope="session")
def wordpress_site() -> Iterator[Site]:
    """One site for the session (each xdist worker's): a plugin of tests/conftest.py.
    Not to be imported into a test module, which would make it that module's own."""
    why = wordpress_missing()
    if why is not None:
        unavailable(why)
    with recipe_server(RECIPE, "WordPress", ("WP_DB_PORT",)) as (values, where):
        yield Site(values["WP_URL"], values["WP_USER"], values["WP_APP_PASSWORD"], where)


class Admin:
    """The site's owner, in wp-admin (through the REST API)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        token = base64.b64encode(f"{site.user}:{site.app_password}".encode()).decode()
        self._headers = {"Authorization": "Basic " + token}

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.site.url}/wp-json/wp/v2{path}", json=body, params=params,
                headers=self._headers,
            ) as response,
        ):  # fmt: skip
            text = await response.text()
            if response.status >= 400:
                raise AssertionError(f"{method} {path}: {response.status} {text[:300]}")
            return json.loads(text)

    async def post(self, slug: str, title: str) -> dict[str, Any]:
        body = {"title": title, "slug": slug, "status": "publish", "comment_status": "open"}
        return dict(await self.call("POST", "/posts", body))

    async def comment(self, **fields: Any) -> dict[str, Any]:
        return dict(await self.call("POST", "/comments", fields))

    async def comments(self, post: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for status in ("all", "spam", "trash"):
            found += await self.call(
                "GET", "/comments", post=str(post), status=status, context="edit", per_page="100"
            )
        return found
