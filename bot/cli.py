"""`brandbot` command line. Exit codes: 0 ok, 2 bad input or config, 1 any other failure."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.core.settings import Settings, SettingsError, load_config
from policies.config import BrandConfig, ConfigError

if TYPE_CHECKING:
    from bot.core.audit import VerifyReport

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
@click.option(
    "--effective",
    is_flag=True,
    help="Print the configuration in force: app.yaml with the overrides admins set from Slack "
    "(read from $DATABASE_URL).",
)
def check(config_path: Path | None, online: bool, effective: bool) -> None:
    """Validate app.yaml; errors name file, line and key."""
    settings = Settings.from_env()
    path = config_path or settings.config_path
    config = _config(path)
    if effective:
        from bot.steering.effective import effective_report

        click.echo(effective_report(config, settings.database_url), nl=False)
    if online:
        from bot.online_check import check_online

        issues = check_online(config, settings, config_path=path, env=dict(os.environ))
        if issues:
            raise BadInput("not found online:\n" + "\n".join(str(i) for i in issues))
    found = ", all found in Slack and X" if online else ""
    click.echo(
        ("# " if effective else "")  # keeps the printed configuration plain YAML
        + f"{path}: ok — brand {config.brand}, {len(config.accounts)} account(s), "
        f"{len(config.segments)} segment(s), {len(config.routing.rules)} routing rule(s){found}"
    )


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Run database migrations up to the latest."""
    from bot.core import migrate
    from bot.core.db import make_engine

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
@click.option(
    "--port",
    default=3000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTP port; 0 picks a free one, named in the 'serving' log line.",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path))
def run(mode: str | None, host: str, port: int, config_path: Path | None) -> None:
    """Serve Slack, poll X and deliver cards. Migrates the database on start."""
    settings = Settings.from_env()
    socket_mode = mode == "socket" or (mode is None and bool(settings.slack_app_token))
    config = _config(config_path)
    try:
        settings.require_for_run(socket_mode=socket_mode)
    except SettingsError as exc:
        raise BadInput(str(exc)) from exc
    from bot.core.leader import AlreadyRunning, single_process_guard

    try:
        with single_process_guard(settings.database_url):
            _serve(settings, config, socket_mode=socket_mode, host=host, port=port)
    except AlreadyRunning as exc:
        raise BadInput(str(exc)) from None


def settle_the_heap() -> None:
    """Move everything the start made (modules, the config, Bolt's listeners, SQLAlchemy's
    tables) out of the garbage collector's sight. A full collection scans every tracked object:
    over this start-up heap it paused the process about 150 ms, answers to Slack included, a
    few times a minute under clicks (bench/click_ack.py). These objects live as long as the
    process anyway; what is made later is still collected as usual."""
    gc.collect()
    gc.freeze()


def _serve(
    settings: Settings, config: BrandConfig, *, socket_mode: bool, host: str, port: int
) -> None:
    from bot.runtime import build_runtime
    from bot.slack.server import HttpServer

    runtime = build_runtime(settings, config, socket_mode=socket_mode)
    settle_the_heap()
    runtime.start_workers()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if socket_mode:
        from slack_sdk.errors import SlackApiError

        handler = runtime.socket_mode(settings.slack_app_token)
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


def _audit_key() -> bytes:
    try:
        return Settings.from_env().audit_key_bytes()
    except SettingsError as exc:
        raise BadInput(str(exc)) from exc


def _verified(anchor_text: str | None) -> VerifyReport:
    """Verify the chain, and that it reaches the anchor if one is given."""
    from bot.core import audit as audit_log
    from bot.core.db import make_engine, transaction

    try:
        anchor = audit_log.Anchor.parse(anchor_text) if anchor_text is not None else None
    except ValueError as exc:
        raise BadInput(f"--anchor: {exc}") from exc
    key = _audit_key()
    engine = make_engine(Settings.from_env().database_url)
    with transaction(engine) as session:
        report = audit_log.verify_all(session, key=key, anchor=anchor)
    return report


def _legacy_note(report: VerifyReport) -> str:
    if not report.legacy:
        return ""
    return (
        f" ({report.legacy} legacy unkeyed entr{'y' if report.legacy == 1 else 'ies'} from "
        "before BRANDBOT_AUDIT_KEY: protected by the keyed entry after them or by an anchor)"
    )


def _echo_breaks(report: VerifyReport) -> None:
    for broken in report.breaks:
        click.echo(f"audit chain BROKEN at entry {broken.seq}: {broken.reason}", err=True)
    click.echo(
        f"{len(report.breaks)} break(s) in {report.entries} entries; "
        f"{report.intact} verified before the first{_legacy_note(report)}",
        err=True,
    )


@audit.command("verify")
@click.option(
    "--anchor",
    "anchor_text",
    metavar="HASH:COUNT",
    help="An anchor from `brandbot audit anchor`: also detect deleted or rewritten history.",
)
def audit_verify(anchor_text: str | None) -> None:
    """Recompute the keyed hash chain; exit 1 listing every bad entry.

    Needs BRANDBOT_AUDIT_KEY. Without --anchor, deleting the newest entries is not detectable.
    """
    report = _verified(anchor_text)
    if not report.ok:
        _echo_breaks(report)
        sys.exit(1)
    anchored = f", reaching anchor {report.anchor.count}" if report.anchor else ""
    click.echo(f"audit chain ok: {report.entries} entries verified{anchored}{_legacy_note(report)}")


@audit.command("anchor")
@click.option("--config", "config_path", type=click.Path(path_type=Path))
@click.option(
    "--allow-broken",
    is_flag=True,
    help="Anchor even though the chain has breaks (they are printed; exit 1 after anchoring).",
)
def audit_anchor(config_path: Path | None, allow_broken: bool) -> None:
    """Print the chain's head as HASH:COUNT (and post it to app.yaml's audit.anchor_channel).

    Keep it outside the database; `brandbot audit verify --anchor HASH:COUNT` then detects
    entries up to COUNT being deleted or rewritten. Needs BRANDBOT_AUDIT_KEY.
    """
    config = _config(config_path)
    report = _verified(None)
    if not report.ok:
        _echo_breaks(report)
        if not allow_broken:
            # An anchor vouches for the chain it fixes; never hand one out for a broken chain
            # unless asked (a known old break must not stop anchoring forever).
            click.echo("not anchored (use --allow-broken to anchor anyway)", err=True)
            sys.exit(1)
    anchor = str(report.head)
    click.echo(anchor)  # alone on stdout, so `brandbot audit anchor > somewhere` keeps it
    channel = config.audit.anchor_channel
    if channel:
        _post_anchor(channel, anchor)
        click.echo(f"posted the anchor to {channel}", err=True)
    if not report.ok:
        sys.exit(1)


def _post_anchor(channel: str, anchor: str) -> None:
    from slack_sdk.errors import SlackApiError, SlackRequestError

    from bot.core.clock import utcnow
    from bot.slack.client import interactive_client

    settings = Settings.from_env()
    if not settings.slack_bot_token:
        raise BadInput("SLACK_BOT_TOKEN is required to post the anchor to audit.anchor_channel")
    client = interactive_client(token=settings.slack_bot_token, base_url=settings.slack_api_base())
    taken = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    try:
        client.chat_postMessage(
            channel=channel,
            text=f"brandbot audit anchor {anchor} (taken {taken}); check with "
            f"`brandbot audit verify --anchor {anchor}`",
        )
    except SlackApiError as exc:
        raise click.ClickException(
            f"Slack refused the anchor post to {channel}: {exc.response.get('error')} "
            "(the anchor above is still valid: keep it)"
        ) from None
    except (SlackRequestError, OSError) as exc:
        raise click.ClickException(
            f"could not reach Slack to post the anchor ({type(exc).__name__}); "
            "the anchor above is still valid: keep it"
        ) from None


@audit.command("who")
@click.argument("ref", metavar="TWEET|SEGMENT")
def audit_who(ref: str) -> None:
    """Who drafted, edited, approved and posted a tweet (an id or an x.com URL); or, given a
    segment name (or `routing`), who changed its settings from Slack, from what to what."""
    from bot.core.audit_report import (
        config_subject,
        entries_of,
        parse_tweet_ref,
        render_config_history,
        render_who,
        who_tweeted,
    )
    from bot.core.db import make_engine, transaction

    engine = make_engine(Settings.from_env().database_url)
    try:
        tweet_id = parse_tweet_ref(ref)
    except ValueError as exc:
        subject = config_subject(ref)
        if subject is None:
            raise BadInput(f"{exc}; or name a segment, or `routing`") from exc
        with transaction(engine) as session:
            entries = [
                e for e in entries_of(session, subject=subject) if e.action.startswith("config.")
            ]
        click.echo(render_config_history(subject, entries), nl=False)
        return
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
    from bot.core.audit_report import ExportFormat, export_entries, parse_since
    from bot.core.clock import utcnow
    from bot.core.db import make_engine

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
    "--period",
    type=click.Choice(["hour", "day", "week"]),
    default="day",
    show_default=True,
    help="Without --since: the last complete hour, day or week in the config's time_zone.",
)
@click.option(
    "--since",
    "since_text",
    metavar="WHEN",
    help="From WHEN until now instead: 30m, 24h, 7d, 2w, or an ISO date/datetime "
    "(in the config's time_zone unless it gives an offset).",
)
@click.option(
    "--png", type=click.Path(dir_okay=False, path_type=Path), help="Write the chart here."
)
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a CSV here."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (keys: docs/report-keys.md).")
@click.option("--config", "config_path", type=click.Path(path_type=Path))
def report(
    period: str,
    since_text: str | None,
    png: Path | None,
    csv_path: Path | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Response times against target, volume, sentiment, posts and X reads, per segment."""
    from bot.core.clock import utcnow
    from bot.reports.service import NoDatabase, open_report
    from policies.report_period import Period, window

    config = _config(config_path)
    chosen: Period = "hour" if period == "hour" else "week" if period == "week" else "day"
    try:
        win = window(chosen, utcnow(), config.time_zone, since_text)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    try:
        built = open_report(config, Settings.from_env().database_url, win)
    except NoDatabase as exc:
        raise click.ClickException(str(exc)) from exc
    from bot.reports.rendering import to_csv, to_json, to_text

    if png is not None:
        from bot.reports.chart import render_png

        _write_atomically(png, render_png(built))
    if csv_path is not None:
        _write_atomically(csv_path, to_csv(built).encode())
    click.echo(to_json(built) if as_json else to_text(built), nl=False)
    for path, what in ((png, "chart"), (csv_path, "CSV")):
        if path is not None:
            click.echo(f"{what} written to {path}", err=True)


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` only once all of it is written (a half chart is worse than none)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


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
