"""The jinja2 renderer for every email and page.

Templates live in the top-level ``templates/`` directory of the source tree and
are shipped inside the wheel as ``mailbridge/templates``. An operator's directory
(``[templates] directory``) is searched first, file by file, so one template can
be overridden without copying the rest. HTML is autoescaped; an undefined
variable is an error, never an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from mailbridge.render import render_comment

__all__ = ["RenderedEmail", "Renderer", "packaged_templates"]


def packaged_templates() -> Path:
    """Where the shipped templates are: inside the installed package, or the source tree."""
    installed = Path(str(resources.files("mailbridge"))) / "templates"
    if installed.is_dir():
        return installed
    # Running from a source checkout (or an editable install): templates/ beside the package.
    return Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _markdown(text: str) -> Markup:
    # nh3 has sanitised the output (mailbridge.render): safe to insert as markup.
    return Markup(render_comment(text))  # noqa: S704


# A code block keeps its lines as written: in an email, where a stylesheet may be
# dropped, one long line made the whole message wider than a phone, which then zoomed
# it out to fit. Inline, so every client wraps it (nh3 leaves <pre> bare).
_EMAIL_PRE = '<pre style="white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 1em;">'


def _email_markdown(text: str) -> Markup:
    """The comment as :func:`_markdown` renders it, styled to fit a phone's mail app."""
    return Markup(render_comment(text).replace("<pre>", _EMAIL_PRE))  # noqa: S704


class Renderer:
    def __init__(
        self, override_dir: Path | None = None, site: Mapping[str, Any] | None = None
    ) -> None:
        """``site`` values (name, accent colour, ...) are visible in every template."""
        search = [packaged_templates()]
        if override_dir is not None:
            search.insert(0, override_dir)
        self.search_path = search
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(p) for p in search]),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "html.j2"), default_for_string=False, default=False
            ),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.globals.update(
            {"accent": "#0b5cad", "language": "en", "privacy_url": "/privacy", **(site or {})}
        )
        # {{ text|markdown }}: a comment as sanitised HTML (mailbridge.render), the one
        # rendering shared by pages and the HTML part of emails.
        self._env.filters["markdown"] = _markdown
        self._env.filters["email_markdown"] = _email_markdown

    def page(self, name: str, **context: Any) -> str:
        return self._env.get_template(f"web/{name}.html.j2").render(**context)

    def email(self, name: str, **context: Any) -> RenderedEmail:
        subject = self._env.get_template(f"email/{name}.subject.j2").render(**context)
        return RenderedEmail(
            subject=_one_line(subject),
            text=self._env.get_template(f"email/{name}.txt.j2").render(**context),
            html=self._env.get_template(f"email/{name}.html.j2").render(**context),
        )
