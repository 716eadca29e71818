"""Click → ack: how long Slack waits for the app's answer to a burst of concurrent clicks.

Two apps, each in a process of its own under the same server (waitress, 8 threads, on
loopback), measured interleaved in one run: the real app as a user runs it (`brandbot run
--http`: fake Slack and fake X, a seeded database, every worker running) and a bare Bolt app
with one listener that acks. This process holds only what stands for Slack and X: the fakes,
and the people clicking. (Before stop 20 all three shared one interpreter, so the fakes' work —
the fake Slack checks every call against Slack's OpenAPI spec — and the clients' were billed to
the app that had work, and the bare app's figures moved with our workers.)

Each burst fires N signed Claim clicks (Release on the next round) at N different mention cards
at once, each from its own thread; the figure is the time from sending a click to its HTTP
answer. A warm-up burst of 10 clicks per app comes first and is not counted (Bolt's first
request asks Slack `auth.test`; SQLAlchemy compiles each statement once). After each burst on
the real app its claims (or releases) are waited for, then for Slack to have had no call from
it for a moment (the rest of the clicks' work: telling the clicker, the card redraws), so every
burst of either app starts from the same idle state and only its own work runs under its acks.
Run: python bench/click_ack.py [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from ingest_throughput import scratch_database  # bench/ is on sys.path when run
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import Engine, func, select
from sqlmodel import col

from bot.core.db import make_engine, transaction
from bot.core.models import Mention, SlackMessage
from bot.fakes.slack_api import FakeSlack
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import BOT_TOKEN, X_BEARER, register_accounts
from bot.fakes.x_api import FakeX
from bot.slack.cards.mention_card import MentionAction
from bot.slack.server import EVENTS_PATH, HttpServer
from policies.config import parse_config

BURSTS = (50, 200)
WARM_UP = 10  # clicks per app before the rounds, not counted: Bolt's first auth.test, SQL compiles
CARDS = sum(BURSTS) + WARM_UP  # each burst size clicks its own cards: 0-49, then 50-249
TIMEOUT = 120.0
SETTLED = 0.3  # seconds without a Slack call from the app: its clicks' work is done
APP_YAML = Path(__file__).parents[1] / "app.yaml"
# Seeded into three segments' channels, so the cards (and their redraws after each burst) reach
# the fake Slack three times as fast at the pace below.
TEXTS = ("@acme outage in Leeds #{n}", "@acme any promo for store {n}?", "@acme #AcmeConf talk {n}")
# 260 cards seeded at once would be a surge (one summary, cards on demand): this measures acks,
# so every mention keeps its own card to click; and Slack's pace as high as app.yaml allows, so
# the redraws between bursts take seconds, not minutes (the fake Slack does not enforce it here).
BENCH_YAML = "\nsurge: {enabled: false}\nslack_pacing: {messages_per_second: 10, burst: 10}\n"
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


def serve_bare_bolt(slack_url: str, signing_secret: str, port: int) -> int:
    """The bare app (a child process): Bolt as its docs show it, one listener that acks, its
    default (threaded) runner, under the server ours runs under."""
    client = WebClient(token=BOT_TOKEN, base_url=slack_url)
    app = App(client=client, signing_secret=signing_secret)

    @app.action(re.compile(".*"))
    def acknowledge(ack: Ack) -> None:
        ack()

    server = HttpServer(SlackRequestHandler(app, path=EVENTS_PATH), host="127.0.0.1", port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    stop.wait()
    server.stop()
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path, up: Callable[[], bool]
) -> Iterator[None]:
    """A child process, its output in `log`, waited for until `up()`; SIGTERM on the way out."""
    with log.open("wb") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: child.poll() is not None or up(), f"{command[:3]} up")
        if child.poll() is not None:
            raise SystemExit(f"{command[:3]} exited {child.returncode}:\n{log.read_text()[-3000:]}")
        yield
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()


def answers(url: str) -> bool:
    """The server at `url` answers HTTP at all (any status)."""
    try:
        requests.get(url, timeout=1)
        return True
    except requests.ConnectionError:
        return False


def seed(slack: FakeSlack, x: FakeX, engine: Engine) -> list[tuple[str, str, str]]:
    """CARDS mentions on X, polled and carded by the running app; (mention id, channel, ts) of
    each card. Every user group app.yaml names exists (empty: the clickers are plain channel
    members)."""
    for group in sorted(set(re.findall(r"S0[A-Z]+", APP_YAML.read_text()))):
        slack.set_usergroup(group, ["U0ADMIN"])
    ids = [
        str(x.add_tweet(author=f"fan{n}", text=TEXTS[n % len(TEXTS)].format(n=n))["id"])
        for n in range(CARDS)
    ]

    def cards() -> list[tuple[str, str, str]]:
        with transaction(engine, read_only=True) as session:
            rows = session.execute(
                select(col(Mention.id), col(SlackMessage.channel), col(SlackMessage.ts))
                .join(SlackMessage, col(SlackMessage.id) == col(Mention.card_id))
                .where(col(Mention.id).in_(ids), col(SlackMessage.ts).is_not(None))
            ).all()
        by_id = {str(r[0]): (str(r[0]), str(r[1]), str(r[2])) for r in rows}
        return [by_id[i] for i in ids] if len(by_id) == len(ids) else []

    wait_for(lambda: bool(cards()), "every seeded mention carded")
    return cards()


def prepare(
    slack: FakeSlack, signing_secret: str, cards: list[tuple[str, str, str]], action: str
) -> list[Prepared]:
    """A signed click of `action` on each card, one person per card."""
    prepared: list[Prepared] = []
    for i, (_, channel, ts) in enumerate(cards):
        user = Recorder(
            slack=slack, user_id=f"U0BENCH{i:04d}", name=f"bench{i}", signing_secret=signing_secret
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


def shown(slack: FakeSlack, cards: list[tuple[str, str, str]], action: str) -> bool:
    """Every card, as Slack shows it now, offers `action` (the outbox has updated it)."""
    for _, channel, ts in cards:
        message = slack.message(channel, ts)
        if f'"action_id": "{action}"' not in json.dumps(message.get("blocks")):
            return False
    return True


def unsent(engine: Engine) -> int:
    """Messages the outbox has yet to send (card updates of the last burst, alerts)."""
    with transaction(engine, read_only=True) as session:
        query = select(func.count()).where(col(SlackMessage.pending))
        return int(session.scalar(query) or 0)


def claimed(engine: Engine) -> int:
    with transaction(engine, read_only=True) as session:
        query = select(func.count()).where(col(Mention.claimed_by).is_not(None))
        return int(session.scalar(query) or 0)


def settled(slack: FakeSlack) -> Callable[[], bool]:
    """True once the fake Slack has had no call for SETTLED seconds."""
    seen = [len(slack.calls), time.monotonic()]

    def check() -> bool:
        calls = len(slack.calls)
        if calls != seen[0]:
            seen[:] = [calls, time.monotonic()]
        return time.monotonic() - seen[1] >= SETTLED

    return check


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server URL; a scratch database is made"
    )
    parser.add_argument(
        "--bare", nargs=3, metavar=("SLACK_URL", "SECRET", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.bare:
        return serve_bare_bolt(args.bare[0], args.bare[1], int(args.bare[2]))
    config_text = APP_YAML.read_text() + BENCH_YAML
    signing_secret = secrets.token_hex(16)
    # waitress says "Task queue depth is 15" and, past its 100 connections, that it waits.
    logging.getLogger("waitress").setLevel(logging.ERROR)
    rows: list[tuple[int, int, str, list[float], float]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.database_url, tmp) as url,
        FakeSlack(bot_token=BOT_TOKEN) as slack,
        FakeX(bearer_token=X_BEARER) as x,
    ):
        config_file = Path(tmp) / "app.yaml"
        config_file.write_text(config_text)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SLACK_API_URL": slack.url,
            "X_API_URL": x.url,
            "DATABASE_URL": url,
            "BRANDBOT_CONFIG": str(config_file),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": signing_secret,
            "X_BEARER_TOKEN": X_BEARER,
            "BRANDBOT_AUDIT_KEY": secrets.token_hex(32),
            **register_accounts(x, parse_config(config_text, filename="app.yaml")),
        }
        ours_port, bare_port = free_port(), free_port()
        ours_url = f"http://127.0.0.1:{ours_port}{EVENTS_PATH}"
        bare_url = f"http://127.0.0.1:{bare_port}{EVENTS_PATH}"
        run = [sys.executable, "-m", "bot.cli", "run", "--http", "--host", "127.0.0.1"]
        bare_command = [
            sys.executable,
            __file__,
            "--bare",
            slack.url,
            signing_secret,
            str(bare_port),
        ]
        healthz = f"http://127.0.0.1:{ours_port}/healthz"
        engine = make_engine(url)
        with (
            process(
                [*run, "--port", str(ours_port)],
                env,
                Path(tmp) / "run.log",
                lambda: answers(healthz),
            ),
            process(bare_command, env, Path(tmp) / "bare.log", lambda: answers(bare_url)),
        ):
            cards = seed(slack, x, engine)
            for i in range(CARDS):
                slack.add_user(f"U0BENCH{i:04d}", f"bench{i}")
            warm = cards[-WARM_UP:]
            wait_for(lambda: shown(slack, warm, MentionAction.CLAIM), "cards posted")
            burst(bare_url, prepare(slack, signing_secret, warm, MentionAction.CLAIM))
            burst(ours_url, prepare(slack, signing_secret, warm, MentionAction.CLAIM))
            wait_for(lambda: claimed(engine) == WARM_UP, "warm-up claims")
            wait_for(settled(slack), "warm-up work")
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
                    wait_for(lambda m=mine, a=action: shown(slack, m, a), "cards updated")
                    prepared = {
                        app: prepare(slack, signing_secret, mine, action)
                        for app in ("bare", "ours")
                    }
                    for app in ("bare", "ours") if first_bare else ("ours", "bare"):
                        wait_for(lambda: unsent(engine) == 0, "the outbox idle")
                        wait_for(settled(slack), "the app idle")
                        before = claimed(engine)
                        latencies, rate = burst(
                            bare_url if app == "bare" else ours_url, prepared[app]
                        )
                        rows.append((round_no, n, app, latencies, rate))
                        if app == "ours":  # its clicks' work, before the next burst
                            expected = before + n if claim else before - n
                            wait_for(lambda e=expected: claimed(engine) == e, "claims")
                            wait_for(settled(slack), "the clicks' work")
        engine.dispose()
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
        ours = [ms for _, m, a, lat, _ in rows if m == n and a == "ours" for ms in lat]
        bare = [ms for _, m, a, lat, _ in rows if m == n and a == "bare" for ms in lat]
        print(
            f"  {n:>3} clicks: ours p50 {statistics.median(ours):.1f} p99 {percentile(ours, 99):.1f}"
            f" | bare p50 {statistics.median(bare):.1f} p99 {percentile(bare, 99):.1f}"
            f" | ratio {percentile(ours, 99) / percentile(bare, 99):.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
