"""Click → ack: how long Slack waits for the app's answer to a burst of concurrent clicks.

Two apps under the same server (waitress, 8 threads, on loopback) in the same process, measured
interleaved: the real app (fake Slack and fake X, a seeded database, every worker running) and a
bare Bolt app with one listener that acks. Each burst fires N signed Claim clicks (Release on
the next round) at N different mention cards at once, each from its own thread; the figure is
the time from sending a click to its HTTP answer. A warm-up burst of 10 clicks per app
comes first and is not counted (Bolt's first request asks Slack `auth.test`; SQLAlchemy compiles
each statement once). After each burst on the real app its claims (or
releases) and the rest of its clicks' work are waited for, and before each burst the outbox's
card updates, so every burst (of
either app) starts from the same idle state and only its own work runs under its acks.
Run: python bench/click_ack.py [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from ingest_throughput import scratch_database  # bench/ is on sys.path when run
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import func, select
from sqlmodel import col

from bot.core.clock import SystemClock
from bot.core.db import transaction
from bot.core.models import Mention, SlackMessage
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import BOT_TOKEN, FakeWorld
from bot.slack.cards.mention_card import MentionAction
from bot.slack.server import EVENTS_PATH, HttpServer
from policies.config import parse_config

BURSTS = (50, 200)
WARM_UP = 10  # clicks per app before the rounds, not counted: Bolt's first auth.test, SQL compiles
CARDS = sum(BURSTS) + WARM_UP  # each burst size clicks its own cards: 0-49, then 50-249
TIMEOUT = 120.0
APP_YAML = Path(__file__).parents[1] / "app.yaml"
Prepared = tuple[bytes, dict[str, str]]


class Recorder(SlackUser):
    """A person whose clicks are signed and kept, not sent: the burst sends them together."""

    prepared: list[Prepared]

    def send_raw(self, body: bytes | str, **_: Any) -> requests.Response:
        raw = body.encode() if isinstance(body, str) else body
        stamp = str(int(time.time()))
        assert self._verifier is not None
        headers: dict[str, str] = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": str(self._verifier.generate_signature(timestamp=stamp, body=raw)),
        }
        self.prepared.append((raw, headers))
        return requests.Response()


def bare_bolt(world: FakeWorld) -> HttpServer:
    """Bolt as its docs show it: one listener that acks, its default (threaded) runner."""
    client = WebClient(token=BOT_TOKEN, base_url=world.slack.url)
    app = App(client=client, signing_secret=world.signing_secret)

    @app.action(re.compile(".*"))
    def acknowledge(ack: Ack) -> None:
        ack()

    return HttpServer(SlackRequestHandler(app, path=EVENTS_PATH), host="127.0.0.1", port=0)


def seed(world: FakeWorld) -> list[tuple[str, str, str]]:
    """CARDS mentions on X, polled and carded; (mention id, channel, ts) of each card. Every
    user group app.yaml names exists (empty: the clickers are plain channel members)."""
    for group in sorted(set(re.findall(r"S0[A-Z]+", APP_YAML.read_text()))):
        world.slack.set_usergroup(group, ["U0ADMIN"])
    ids = [
        str(world.x.add_tweet(author=f"fan{n}", text=f"@acme outage in Leeds #{n}")["id"])
        for n in range(CARDS)
    ]
    world.poll()
    world.deliver()
    cards = []
    for mention_id in ids:
        card = world.card(mention_id)
        assert card.ts is not None
        cards.append((mention_id, card.channel, card.ts))
    return cards


def prepare(world: FakeWorld, cards: list[tuple[str, str, str]], action: str) -> list[Prepared]:
    """A signed click of `action` on each card, one person per card."""
    prepared: list[Prepared] = []
    for i, (_, channel, ts) in enumerate(cards):
        user = Recorder(
            slack=world.slack,
            user_id=f"U0BENCH{i:04d}",
            name=f"bench{i}",
            signing_secret=world.signing_secret,
        )
        user.prepared = prepared
        user.click(channel=channel, ts=ts, action_id=action)
    return prepared


def burst(url: str, clicks: list[Prepared]) -> tuple[list[float], float]:
    """Send every click at once; each one's ack latency (ms) and the burst's requests/s."""
    start = threading.Barrier(len(clicks))
    statuses: list[int] = []

    def send(click: Prepared) -> float:
        body, headers = click
        with requests.Session() as session:
            start.wait()
            sent = time.perf_counter()
            response = session.post(url, data=body, headers=headers, timeout=TIMEOUT)
            elapsed = (time.perf_counter() - sent) * 1000
        statuses.append(response.status_code)
        return elapsed

    began = time.perf_counter()
    with ThreadPoolExecutor(len(clicks)) as pool:
        latencies = list(pool.map(send, clicks))
    took = time.perf_counter() - began
    assert statuses == [200] * len(clicks), f"not every click was answered 200: {statuses}"
    return latencies, len(clicks) / took


def shown(world: FakeWorld, cards: list[tuple[str, str, str]], action: str) -> bool:
    """Every card, as Slack shows it now, offers `action` (the outbox has updated it)."""
    for _, channel, ts in cards:
        message = world.slack.message(channel, ts)
        if f'"action_id": "{action}"' not in json.dumps(message.get("blocks")):
            return False
    return True


def unsent(world: FakeWorld) -> int:
    """Messages the outbox has yet to send (card updates of the last burst, alerts)."""
    with transaction(world.db, read_only=True) as session:
        query = select(func.count()).where(col(SlackMessage.pending))
        return int(session.scalar(query) or 0)


def claimed(world: FakeWorld) -> int:
    with transaction(world.db, read_only=True) as session:
        query = select(func.count()).where(col(Mention.claimed_by).is_not(None))
        return int(session.scalar(query) or 0)


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


@contextmanager
def serving(server: HttpServer) -> Iterator[str]:
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server URL; a scratch database is made"
    )
    args = parser.parse_args()
    # 260 cards seeded at once into one channel would be a surge (one summary, cards on demand):
    # this measures acks, so every mention keeps its own card to click.
    config = parse_config(APP_YAML.read_text() + "\nsurge: {enabled: false}\n", filename="app.yaml")
    # waitress says "Task queue depth is 15" and, past its 100 connections, that it waits.
    logging.getLogger("waitress").setLevel(logging.ERROR)
    rows: list[tuple[int, int, str, list[float], float]] = []
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        world = FakeWorld(config=config, database_url=url, clock=SystemClock()).start()
        try:
            cards = seed(world)
            for i in range(CARDS):
                world.slack.add_user(f"U0BENCH{i:04d}", f"bench{i}")
            world.runtime.start_workers()  # as a replica runs: poller, outbox, publisher...
            with serving(bare_bolt(world)) as bare_url:
                warm = cards[-WARM_UP:]
                burst(bare_url, prepare(world, warm, MentionAction.CLAIM))
                burst(world.app_url, prepare(world, warm, MentionAction.CLAIM))
                wait_for(lambda: claimed(world) == WARM_UP, "warm-up claims")
                wait_for(lambda: world.runtime.answers.unfinished() == 0, "warm-up work")
                for round_no in range(1, args.rounds + 1):
                    # Claim on odd rounds, Release on even ones: every click does real work.
                    claim = round_no % 2 == 1
                    action = MentionAction.CLAIM if claim else MentionAction.RELEASE
                    offset = 0
                    for n in BURSTS:
                        mine, offset = cards[offset : offset + n], offset + n
                        first_bare = (round_no + n) % 2 == 0  # alternate who goes first
                        # Both sets signed before either app runs: a card shows Release once
                        # claimed, and the clicks are made on the card as it is now.
                        wait_for(lambda m=mine, a=action: shown(world, m, a), "cards updated")
                        prepared = {app: prepare(world, mine, action) for app in ("bare", "ours")}
                        for app in ("bare", "ours") if first_bare else ("ours", "bare"):
                            wait_for(lambda: unsent(world) == 0, "the outbox idle")
                            clicks = prepared[app]
                            before = claimed(world)
                            target = bare_url if app == "bare" else world.app_url
                            latencies, rate = burst(target, clicks)
                            rows.append((round_no, n, app, latencies, rate))
                            if app == "ours":  # the queued work, before the next burst
                                expected = before + n if claim else before - n
                                wait_for(lambda e=expected: claimed(world) == e, "claims")
                                # ... all of it: after its claim commits, a click's work still
                                # tells the clicker and redraws the card
                                wait_for(lambda: world.runtime.answers.unfinished() == 0, "work")
        finally:
            world.stop()
    backend = url.split(":")[0].split("+")[0]
    print(f"backend: {backend}; server: waitress, 8 threads; rounds: {args.rounds}")
    print(
        f"{'round':>5} {'clicks':>6} {'app':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>7}"
    )
    for round_no, n, app, latencies, rate in rows:
        print(
            f"{round_no:>5} {n:>6} {app:>5} {statistics.median(latencies):8.1f} "
            f"{percentile(latencies, 99):8.1f} {max(latencies):8.1f} {rate:7.0f}"
        )
    print("pooled over rounds, p99 ours / bare:")
    for n in BURSTS:
        ours = [x for _, m, a, lat, _ in rows if m == n and a == "ours" for x in lat]
        bare = [x for _, m, a, lat, _ in rows if m == n and a == "bare" for x in lat]
        print(
            f"  {n:>3} clicks: ours p50 {statistics.median(ours):.1f} p99 {percentile(ours, 99):.1f}"
            f" | bare p50 {statistics.median(bare):.1f} p99 {percentile(bare, 99):.1f}"
            f" | ratio {percentile(ours, 99) / percentile(bare, 99):.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
