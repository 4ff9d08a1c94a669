"""The ``mailbridge`` command. Each command parses options and calls one library function.

Logging is configured here and nowhere else.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
from functools import partial
from pathlib import Path

import click

from mailbridge import __version__
from mailbridge.addresses import normalise
from mailbridge.cli_options import config_options, in_store, settings_from
from mailbridge.errors import ConfigError, ErasedComment, InvalidAddress, NotFound
from mailbridge.logfmt import FORMATS
from mailbridge.logfmt import configure as configure_logging
from mailbridge.outbound.transport import transport_shown
from mailbridge.settings import Settings
from mailbridge.settings.webhook_routes import missing_routes, route_urls
from mailbridge.store.opening import open_store
from mailbridge.store.postgres import redacted

__all__ = ["cli"]


# The command groups kept in modules of their own, imported only when run (or listed):
# a command pays for its own imports, not for every other's (``mailbridge import``
# spent a tenth of its time importing the daemon, aiohttp and dkimpy).
_LAZY = {
    "import": ("mailbridge.importer.cli", "import_command"),
    "extract": ("mailbridge.extract.command", "extract_command"),
    "inbound": ("mailbridge.inbound.log_cli", "inbound_command"),
    "reprocess": ("mailbridge.inbound.log_cli", "reprocess_command"),
    "outbox": ("mailbridge.outbound.outbox_cli", "outbox_command"),
    "export": ("mailbridge.exporter.cli", "export_command"),
    "backup": ("mailbridge.store.backup_cli", "backup_command"),
    "migrate-store": ("mailbridge.migrate_store.command", "migrate_store_command"),
    "check-config": ("mailbridge.settings.check_cli", "check_config_command"),
    "dkim": ("mailbridge.outbound.dkim_cli", "dkim_command"),
    "trust": ("mailbridge.moderate.trust_cli", "trust_command"),
    "spam": ("mailbridge.spam.cli", "spam_command"),
    "sessions": ("mailbridge.moderate.sessions_cli", "sessions_command"),
    "token": ("mailbridge.admin.cli", "token_command"),
    "person": ("mailbridge.people.cli", "person_command"),
}


class _Commands(click.Group):
    """Every command: a configuration or data directory that cannot be used is one
    line on standard error and exit status 1, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY and cmd_name not in self.commands:
            module, name = _LAZY[cmd_name]
            command = getattr(importlib.import_module(module), name)
            assert isinstance(command, click.Command)
            self.add_command(command, name=cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="mailbridge")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="How much to log (to standard error).",
)
@click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    envvar="MAILBRIDGE_LOG_FORMAT",
    help="Log lines as text, JSON lines or logfmt, each with its inbound or outbox id.",
)
def cli(log_level: str, log_format: str) -> None:
    """mailbridge: blog comment threads you can answer by email.

    Reply notifications go out by email, replies come back over SMTP and become
    comments pending moderation, and the blog's author moderates from email.
    """
    configure_logging(log_level, log_format)


def _describe(settings: Settings, smtp: tuple[str, int], http: tuple[str, int]) -> str:
    moderators = ", ".join(settings.moderation.moderators) or "none configured"
    rows = [
        ("data directory", str(settings.data_path)),
        # The database in use: PostgreSQL's URL (no password) when data_url is set.
        (
            "database",
            redacted(settings.data_url) if settings.data_url else str(settings.database_path),
        ),
        ("instance secret", str(settings.secret_path)),
        (
            "outgoing mail",
            transport_shown(
                settings.transport_url, settings.outbound.api_key, settings.outbound.api_url
            ),
        ),
        ("SMTP (replies)", f"{smtp[0]}:{smtp[1]}  for reply+TOKEN@{settings.smtp.reply_domain}"),
        ("HTTP", f"http://{http[0]}:{http[1]}/"),
        ("public URL", settings.site.public_url),
        ("moderators", f"each thread's author; also {moderators}"),
    ]
    # The URLs to give the mail service, once its secret turns a route on.
    rows += [(f"webhook ({what})", url) for what, url in route_urls(settings)]
    width = max(len(name) for name, _ in rows)
    lines = [f"mailbridge {__version__} is running"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"WARNING: {missing}" for missing in missing_routes(settings)]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


@cli.command()
@config_options
@click.option(
    "--demo-site",
    "demo_site",
    metavar="HOST:PORT",
    is_flag=False,
    flag_value="127.0.0.1:8081",
    default=None,
    help="Also serve a small static blog with the comment widget on HOST:PORT "
    "(default 127.0.0.1:8081), a different origin than mailbridge, for trying it.",
)
def serve(config_file: Path | None, data_dir: Path | None, demo_site: str | None) -> None:
    """Run the daemon: SMTP for replies, HTTP for pages, API and links, and delivery."""
    from mailbridge.allocator import fix_mmap_threshold
    from mailbridge.embed.demo import demo_site_running, with_demo_origin

    settings = settings_from(config_file, data_dir)
    # Before anything large is allocated: freed answers go back to the system.
    fix_mmap_threshold()
    demo_origin = None
    if demo_site is not None:
        settings, demo_origin = with_demo_origin(settings, demo_site)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        from mailbridge.app import running  # the daemon's parts: only when used

        # The demo blog first: once the daemon answers (/healthz), its pages are there.
        async with demo_site_running(settings, demo_site), running(settings) as daemon:
            click.echo(_describe(settings, daemon.smtp_address, daemon.http_address))
            if demo_origin is not None:
                click.echo(f"Demo blog with the comment widget: {demo_origin}/")
            await stop.wait()
            click.echo("Stopping…", err=True)
        click.echo("Stopped.", err=True)

    try:
        asyncio.run(main())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@config_options
@click.argument("comment_id", metavar="ID", type=int)
@click.option("--approve", "action", flag_value="approve", help="Publish it (as its link would).")
@click.option("--reject", "action", flag_value="reject", help="Reject it (off the page).")
@click.option("--spam", "action", flag_value="spam", help="Mark it as spam (off the page).")
def comment(
    config_file: Path | None, data_dir: Path | None, comment_id: int, action: str | None
) -> None:
    """One comment as its moderators know it: thread, author, status, what extraction
    cut, and every moderation decision (when, from what to what, which moderator, how).

    With --approve, --reject or --spam, decide first, as a moderation link would (for
    example once the links have expired); the decision is recorded as the operator's.
    Emails it causes are sent by the running daemon.
    """
    import aiosqlite

    from mailbridge.models import Channel, Comment, Decider, Decision, Thread
    from mailbridge.reports import comment_detail
    from mailbridge.store import comments, decisions, threads
    from mailbridge.tokens import Action

    settings = settings_from(config_file, data_dir)
    Found = tuple[Comment, Thread, str | None, list[Decision]]

    async def work(conn: aiosqlite.Connection) -> Found | None:
        found = await comments.get_comment(conn, comment_id)
        if found is None:
            return None
        thread = await threads.get_thread(conn, thread_id=found.thread_id)
        assert thread is not None
        email = None
        if found.address_id is not None:
            email = await threads.address_email(conn, found.address_id)
        return found, thread, email, await decisions.history(conn, comment_id)

    async def decide(chosen: str) -> tuple[Found | None, str]:
        from mailbridge.app import core  # the daemon's parts: only when used

        async with core(settings) as parts:
            try:
                outcome = await parts.service.moderate(
                    comment_id, Action[chosen.upper()], Decider(Channel.CLI, None)
                )
            except ErasedComment:
                said = f"Comment {comment_id} was erased at its writer's request; nothing changed."
                return await parts.store.read(work), said
            except NotFound:
                return None, ""
            status = outcome.comment.status.value
            said = (
                f"Comment {comment_id}: {outcome.previous.value} -> {status}."
                if outcome.changed
                else f"Comment {comment_id} was already {status}; nothing changed."
            )
            return await parts.store.read(work), said

    async def show() -> tuple[Found | None, str]:
        store = await open_store(settings)
        try:
            return await store.read(work), ""
        finally:
            await store.close()

    got, said = asyncio.run(decide(action) if action else show())
    if got is None:
        raise click.ClickException(f"no comment {comment_id}")
    if said:
        click.echo(said)
    click.echo(comment_detail(*got))


@cli.command()
@config_options
def status(config_file: Path | None, data_dir: Path | None) -> None:
    """Comments, the outbox, and how far behind the WordPress bridge is (its lag)."""
    from datetime import UTC, datetime

    from mailbridge.status import status_lines

    settings = settings_from(config_file, data_dir)
    lines = in_store(settings, lambda c: status_lines(c, settings, datetime.now(UTC)), write=False)
    click.echo("\n".join(lines))


@cli.command()
@config_options
@click.option("--resume", metavar="EMAIL", help="Start mailing this address again.")
def bounces(config_file: Path | None, data_dir: Path | None, resume: str | None) -> None:
    """Addresses whose mail bounced, and whether mailbridge still mails them."""
    from mailbridge.reports import bounce_table
    from mailbridge.store import threads

    settings = settings_from(config_file, data_dir)

    spellings = _spellings(resume) if resume else []

    async def main() -> str:
        store = await open_store(settings)
        try:
            if resume:
                for email in spellings:
                    if await store.write(partial(threads.resume_address, email=email)):
                        return f"{email}: mailing resumed, bounce counts reset."
                raise click.ClickException(f"no address {spellings[0]}")
            return bounce_table(await store.read(threads.list_bouncing))
        finally:
            await store.close()

    click.echo(asyncio.run(main()))


@cli.command()
@config_options
@click.argument("email")
def revoke(config_file: Path | None, data_dir: Path | None, email: str) -> None:
    """Invalidate every reply address ever sent to EMAIL (e.g. a leaked notification).

    Later notifications carry new reply addresses that work again.
    """
    from mailbridge.store import threads

    settings = settings_from(config_file, data_dir)

    spellings = _spellings(email)

    async def main() -> str | None:
        store = await open_store(settings)
        try:
            for spelling in spellings:
                if await store.write(partial(threads.bump_key_epoch, email=spelling)) is not None:
                    return spelling
            return None
        finally:
            await store.close()

    found = asyncio.run(main())
    if found is None:
        raise click.ClickException(f"no address {spellings[0]}")
    click.echo(f"Every reply address sent to {found} so far is now refused.")


def _spellings(value: str) -> list[str]:
    """How EMAIL may be stored: its normal form, then (for rows stored before addresses
    were normalised, e.g. a domain not in IDNA form) as typed. A usage error if it is
    not an address at all."""
    try:
        normal = normalise(value.strip(), smtputf8=True, operator=True)
    except InvalidAddress as exc:
        raise click.BadParameter(f"{value!r} is not an email address: {exc.reason}") from None
    return list(dict.fromkeys([normal, value.strip()]))


@cli.command()
@config_options
@click.argument("template", metavar="TEMPLATE")
@click.option("--html", is_flag=True, help="An email's HTML part instead of its text.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of the terminal.",
)
def preview(
    config_file: Path | None,
    data_dir: Path | None,
    template: str,
    html: bool,
    output: Path | None,
) -> None:
    """Render an email or page template with sample data, as your settings and
    template directory would.

    Emails: moderation_request, reply_notification, digest, confirm_subscription,
    rejection_notice. Pages: index, thread, moderate_confirm, moderate_done, confirm,
    unsubscribe, error.
    """
    from mailbridge.preview import EMAILS, PAGES, render_preview
    from mailbridge.templating import Renderer

    settings = settings_from(config_file, data_dir)
    directory = settings.templates.directory
    from mailbridge.app import site_globals

    renderer = Renderer(Path(directory) if directory else None, site_globals(settings))
    try:
        text = render_preview(renderer, settings, template, html)
    except KeyError:
        names = ", ".join((*EMAILS, *PAGES))
        raise click.ClickException(f"no template '{template}'; one of: {names}") from None
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}")


@cli.command("send-reply")
@config_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--body", required=True, help="The text of the reply.")
def send_reply_command(
    config_file: Path | None, data_dir: Path | None, file: Path, body: str
) -> None:
    """Answer an email mailbridge sent (a file in the outbox Maildir) as its reader
    would: from its To address, to its Reply-To, through the SMTP service (smtp.listen).

    For trying mailbridge out and checking a setup; the daemon must be running.
    """
    from mailbridge.send_reply import CannotReply, send_reply
    from mailbridge.settings.validate import parse_hostport

    settings = settings_from(config_file, data_dir)
    host, port = parse_hostport(settings.smtp.listen, "smtp.listen")
    if host in {"0.0.0.0", "::"}:  # noqa: S104  (listening everywhere: answer locally)
        host = "127.0.0.1"
    try:
        click.echo(send_reply(file.read_bytes(), body, host, port))
    except CannotReply as exc:
        raise click.ClickException(f"{file}: {exc}") from None
