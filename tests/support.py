"""Shared test data and helpers (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import requests
from sqlalchemy import select
from sqlmodel import col

from bot.core.audit_report import entries_of
from bot.core.clock import FakeClock
from bot.core.db import make_engine, transaction
from bot.core.models import AuditEntry, Mention, MentionState, SlackMessage

if TYPE_CHECKING:  # policies' tests use the data here without starting a world
    from bot.fakes.slack_api import FakeSlack, SlackCall
    from bot.fakes.world import FakeWorld


def card_recorded(database_url: str, ts: str) -> bool:
    """Has the app recorded the Slack message with this ts (it learns the ts just after Slack)?"""
    engine = make_engine(database_url)
    try:
        with transaction(engine) as session:
            found = session.scalars(select(SlackMessage).where(col(SlackMessage.ts) == ts)).first()
            return found is not None
    finally:
        engine.dispose()


def audit_entries(
    world: FakeWorld, *, action: str | None = None, subject: str | None = None
) -> list[AuditEntry]:
    """The world's audit log in order; only the entries of `action` and of `subject`, if given."""
    with transaction(world.db) as session:
        return entries_of(session, action=action, subject=subject)


def carded(world: FakeWorld, text: str = "@acme outage in Leeds", *, author: str = "dana") -> str:
    """A tweet on X, polled once it is due and its card delivered; the mention's id."""
    tweet = world.x.add_tweet(author=author, text=text)
    assert isinstance(world.clock, FakeClock)  # the world fixture runs on the test's clock
    world.clock.advance(seconds=world.config.poll_seconds)
    world.poll()
    world.deliver()
    return str(tweet["id"])


def answered_mention(
    tweeted: datetime, *, ingested_after: timedelta, replied_after: timedelta, via: str
) -> Mention:
    """@dana's "@acme outage", tweeted at `tweeted`, ingested and answered (through brandbot or
    on X directly, `via`) so long after it: the reports' fixtures, whose ingest time differs from
    the tweet's so a figure taken from the wrong one shows."""
    return Mention(
        id="1790000000000000001",
        account="acme",
        author_id="200001",
        author_handle="dana",
        text="@acme outage",
        url="https://x.com/dana/status/1790000000000000001",
        tweeted_at=tweeted,
        ingested_at=tweeted + ingested_after,
        conversation_id="1790000000000000001",
        sentiment=-0.5,
        found_by="mentions:acme",
        segment="customer_relations",
        route_reason="test",
        state=MentionState.REPLIED,
        replied_at=tweeted + replied_after,
        replied_via=via,
    )


class PostedCard(NamedTuple):
    """A mention's card as it is in Slack: the channel and ts a click on it carries."""

    channel: str
    ts: str


def posted_card(world: FakeWorld, mention_id: str) -> PostedCard:
    """The live card of a mention, which the outbox has posted to Slack."""
    card = world.card(mention_id)
    assert card.ts is not None, f"the card of mention {mention_id} is not in Slack yet"
    return PostedCard(card.channel, card.ts)


TEST_CONFIG = """
brand: Acme
admins: ["U0ADMIN"]
accounts:
  - {handle: acme, credentials_env: ACME}
poll_seconds: 15
segments:
  customer_relations:
    channel: C0CUSTOMER
    approvers: ["S0CARE"]
    first_response_minutes: 15
    follow: {keywords: [outage, refund]}
    create: {banned_terms: [guarantee], allowed_link_domains: [acme.com]}
  crisis_management:
    channel: C0CRISIS
    approvers: ["S0CRISIS"]
    responders: ["S0CRISIS"]
    first_response_minutes: 10
    follow: {keywords: [breach]}
  reputation_management:
    channel: C0REPUTATION
    follow: {sentiment_below: -0.5}
  event_coverage:
    channel: C0EVENTS
    follow: {hashtags: ["#acmeconf"]}
  product_promotion:
    channel: C0PROMO
    follow: {keywords: [promo]}
  issue_advocacy:
    channel: C0ADVOCACY
    follow: {keywords: [privacy]}
routing:
  default_segment: customer_relations
  rules:
    - {segment: crisis_management, keywords: [hacked, lawsuit], sentiment_below: -0.3}
"""


def run_env(
    slack_url: str, x_url: str, database_url: str, config: Path, **secrets: str
) -> dict[str, str]:
    """The environment `brandbot run` is started with against the fakes, plus `secrets` (the
    tokens, keys and signing secret a test's mode needs, by their variable names)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SLACK_API_URL": slack_url,
        "X_API_URL": x_url,
        "DATABASE_URL": database_url,
        "BRANDBOT_CONFIG": str(config),
        **secrets,
    }


def first_card(slack: FakeSlack, database_url: str) -> SlackCall:
    """The first chat.postMessage call, once the app has recorded the message's ts too: a person
    sees the card once Slack has it, the app learns its ts a moment later, and any human click
    comes after that."""
    slack.wait_for(lambda s: s.calls_to("chat.postMessage"), timeout=30)
    posted = slack.calls_to("chat.postMessage")[0]
    slack.wait_for(lambda _: card_recorded(database_url, posted.response["ts"]), timeout=30)
    return posted


def copies_in_slack(slack: FakeSlack, card: SlackMessage) -> list[dict[str, Any]]:
    """Every message in the card's channel that carries the card's outbox id."""
    from bot.core.outbox import METADATA_EVENT

    return slack.find_messages(
        lambda m: (
            m["channel"] == card.channel
            and (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
            and m["metadata"]["event_payload"] == {"id": card.id}
        )
    )


SERVING_LINE = re.compile(rb"brandbot serving http://[^\s/]+:(\d+)/slack/events")


def served_port(log: Path) -> int | None:
    """The port a `brandbot run --http --port 0` process bound, from its own log line (None
    until it serves). A test never picks a "free" port itself: between its check and the
    process's bind, another server (CI runs the SQLite and PostgreSQL suites side by side) can
    take that port and answer /healthz in the process's place."""
    found = SERVING_LINE.search(log.read_bytes()) if log.exists() else None
    return int(found.group(1)) if found else None


def healthy_port(log: Path) -> int | None:
    """The port of the process behind `log`, once its /healthz answers 200 (else None)."""
    port = served_port(log)
    try:
        ok = port is not None and requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
    except requests.ConnectionError:
        return None
    return port if ok else None


@contextmanager
def brandbot_run(*args: str, env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`brandbot run ARGS` as a process, its output in cwd/run.log. On the way out it is sent
    SIGTERM, as a supervisor stops it, and must exit 0 within 30 s."""
    log = cwd / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", *args],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(
                    f"brandbot run {' '.join(args)} ignored SIGTERM:\n" + log.read_text()[-3000:]
                ) from None
    assert code == 0, log.read_text()[-3000:]
