"""`brandbot` command line. Exit codes: 0 ok, 2 bad input or config, 1 any other failure."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click

from bot.settings import Settings, SettingsError, load_config
from policies.config import BrandConfig, ConfigError

log = logging.getLogger("brandbot")


class BadInput(click.ClickException):
    exit_code = 2


def _config(path: Path | None) -> BrandConfig:
    settings = Settings.from_env()
    try:
        return load_config(path or settings.config_path)
    except ConfigError as exc:
        raise BadInput(f"invalid configuration:\n{exc}") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def main(verbose: bool) -> None:
    """brandbot: run your brand's X accounts as a team, from Slack."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    # These log request headers (bearer tokens, OAuth signatures) at DEBUG: never let them.
    for noisy in ("tweepy", "urllib3", "requests_oauthlib", "oauthlib"):
        logging.getLogger(noisy).setLevel(logging.INFO)


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Defaults to $BRANDBOT_CONFIG or ./app.yaml.",
)
@click.option("--online", is_flag=True, help="Also ask Slack and X that everything named exists.")
def check(config_path: Path | None, online: bool) -> None:
    """Validate app.yaml; errors name file, line and key."""
    settings = Settings.from_env()
    path = config_path or settings.config_path
    config = _config(path)
    if online:
        from bot.online_check import check_online

        issues = check_online(config, settings, config_path=path, env=dict(os.environ))
        if issues:
            raise BadInput("not found online:\n" + "\n".join(str(i) for i in issues))
    found = ", all found in Slack and X" if online else ""
    click.echo(
        f"{path}: ok — brand {config.brand}, {len(config.accounts)} account(s), "
        f"{len(config.segments)} segment(s), {len(config.routing.rules)} routing rule(s){found}"
    )


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Run database migrations up to the latest."""
    from bot import migrate
    from bot.db import make_engine

    migrate.upgrade(make_engine(Settings.from_env().database_url))
    click.echo("database is up to date")


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path))
@click.option("--url", "request_url", help="Public URL of /slack/events (HTTP mode).")
@click.option("--socket", "socket_mode", is_flag=True, help="Manifest for Socket Mode.")
def manifest(config_path: Path | None, request_url: str | None, socket_mode: bool) -> None:
    """Print the Slack app manifest (YAML) for this configuration."""
    from bot.manifest import manifest_yaml

    click.echo(
        manifest_yaml(_config(config_path), request_url=request_url, socket_mode=socket_mode),
        nl=False,
    )


@main.command()
@click.option("--http", "mode", flag_value="http", help="Serve POST /slack/events.")
@click.option(
    "--socket",
    "mode",
    flag_value="socket",
    help="Socket Mode (default when SLACK_APP_TOKEN is set).",
)
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--config", "config_path", type=click.Path(path_type=Path))
def run(mode: str | None, host: str, port: int, config_path: Path | None) -> None:
    """Serve Slack, poll X and deliver cards. Migrates the database on start."""
    from bot.runtime import build_runtime
    from bot.server import HttpServer

    settings = Settings.from_env()
    socket_mode = mode == "socket" or (mode is None and bool(settings.slack_app_token))
    config = _config(config_path)
    try:
        settings.require_for_run(socket_mode=socket_mode)
    except SettingsError as exc:
        raise BadInput(str(exc)) from exc
    runtime = build_runtime(settings, config, socket_mode=socket_mode)
    runtime.start_workers()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler
        from slack_sdk.errors import SlackApiError

        handler = SocketModeHandler(runtime.bolt, settings.slack_app_token)
        try:
            handler.connect()
        except SlackApiError as exc:
            runtime.stop()
            error = exc.response.get("error")
            raise BadInput(
                f"Slack refused SLACK_APP_TOKEN (apps.connections.open: {error})"
            ) from None
        log.info("brandbot running in Socket Mode")
        stop.wait()
        handler.close()
    else:
        server = HttpServer(runtime.wsgi(), host=host, port=port).start()
        log.info("brandbot serving http://%s:%s/slack/events (health: /healthz)", host, server.port)
        stop.wait()
        server.stop()
    runtime.stop()


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 naming the first bad entry."""
    from bot import audit as audit_log
    from bot.db import make_engine, transaction

    engine = make_engine(Settings.from_env().database_url)
    with transaction(engine) as session:
        checked, broken = audit_log.verify(session)
    if broken:
        click.echo(f"audit chain BROKEN at entry {broken.seq}: {broken.reason}", err=True)
        sys.exit(1)
    click.echo(f"audit chain ok: {checked} entries verified")


@audit.command("who")
@click.argument("ref", metavar="TWEET")
def audit_who(ref: str) -> None:
    """Who drafted, edited, approved and posted a tweet (an id or an x.com URL)."""
    from bot.audit_report import parse_tweet_ref, render_who, who_tweeted
    from bot.db import make_engine, transaction

    try:
        tweet_id = parse_tweet_ref(ref)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    engine = make_engine(Settings.from_env().database_url)
    with transaction(engine) as session:
        history = who_tweeted(session, tweet_id)
    if history is None:
        click.echo(f"no tweet {tweet_id} in the audit log (brandbot did not post it)", err=True)
        sys.exit(1)
    click.echo(render_who(history), nl=False)


@audit.command("export")
@click.option(
    "--since",
    "since_text",
    metavar="WHEN",
    help="Only entries at or after WHEN: 30m, 24h, 7d, 2w, or an ISO date/datetime (UTC).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write here instead of stdout (replaced only when the export completes).",
)
def audit_export(since_text: str | None, fmt: str, output: Path | None) -> None:
    """Export audit entries in seq order, with their hashes."""
    from bot.audit_report import ExportFormat, export_entries, parse_since
    from bot.clock import utcnow
    from bot.db import make_engine

    try:
        since = parse_since(since_text, utcnow()) if since_text is not None else None
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    export_fmt: ExportFormat = "csv" if fmt == "csv" else "jsonl"
    engine = make_engine(Settings.from_env().database_url)
    if output is None:
        try:
            export_entries(engine, since=since, fmt=export_fmt, out=sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader has all it wants
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            count = export_entries(engine, since=since, fmt=export_fmt, out=out)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"exported {count} audit entries to {output}", err=True)


@main.command()
@click.option(
    "--speed", default=1.0, show_default=True, help="Slow down (<1) or speed up the script."
)
def demo(speed: float) -> None:
    """Run the whole flow against the built-in fake Slack and fake X; no credentials needed."""
    from bot.demo import run_demo

    logging.getLogger().setLevel(logging.WARNING)  # the transcript is the output
    sys.exit(run_demo(speed=speed))


if __name__ == "__main__":  # pragma: no cover
    main()
