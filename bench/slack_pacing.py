"""Slack pacing: a storm of mentions into one channel, with the fake Slack enforcing Slack's rate.

The real path with real outbox threads (the system clock): the fake X serves N mentions, one poll
stores them and queues their cards, and the outbox posts them to the fake Slack, which refuses
more than about one message a second per channel (bursts of 3) with 429 and Retry-After, as
Slack does. Two outboxes share the database (as two replicas would). Printed per run: Slack calls,
429s answered, the most posts accepted in any one second, the gap between accepted posts after
the burst, whether the cards arrived in the order the tweets were written, mentions lost or
doubled, and the time until every card was in Slack. `--unpaced` runs the outbox as it was
before pacing (it learns the rate from 429s only), interleaved with the paced run.
Run: python bench/slack_pacing.py [--mentions 40] [--database-url URL] [--replicas 2]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from ingest_throughput import scratch_database  # bench/ is on sys.path when run
from sqlalchemy import select
from sqlmodel import col

from bot.core.clock import SystemClock
from bot.core.db import transaction
from bot.core.models import Mention, SlackMessage
from bot.core.outbox import METADATA_EVENT
from bot.fakes.world import FakeWorld
from bot.mentions.service import MENTION_CARD
from policies.config import parse_config

TIMEOUT = 300.0


def storm(url: str, *, mentions: int, replicas: int, paced: bool) -> dict[str, object]:
    config = parse_config((Path(__file__).parents[1] / "app.yaml").read_text())
    world = FakeWorld(config=config, database_url=url, clock=SystemClock(), paced=paced).start()
    stop = threading.Event()
    try:
        world.slack.enforce_channel_rate(per_second=1.0, burst=3)
        channel = config.segments[config.routing.default_segment].channel
        handle = config.accounts[0].handle
        world.x.add_tweets(mentions, text=f"@{handle} a question about my order number {{i}}")
        world.poll()
        with transaction(world.db) as session:
            cards = dict(
                session.execute(
                    select(col(SlackMessage.id), col(SlackMessage.subject_id)).where(
                        col(SlackMessage.kind) == MENTION_CARD,
                        col(SlackMessage.channel) == channel,
                    )
                ).all()
            )
            stored = len(session.scalars(select(col(Mention.id))).all())
        outboxes = [world.runtime.outbox] + [
            replace(world.runtime.outbox, owner=f"replica-{n}") for n in range(2, replicas + 1)
        ]
        started = time.time()
        threads = [threading.Thread(target=o.run, args=(stop,), daemon=True) for o in outboxes]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + TIMEOUT
        while _unsent(world) and time.monotonic() < deadline:
            time.sleep(0.1)
        finished = time.time()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        posts = [
            c for c in world.slack.calls_to("chat.postMessage") if c.args["channel"] == channel
        ]
        accepted = [c.at for c in posts if c.http_status == 200]
        in_slack = [
            cards[m["metadata"]["event_payload"]["id"]]
            for m in world.slack.messages.get(channel, [])
            if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
            and m["metadata"]["event_payload"]["id"] in cards
        ]
        gaps = [b - a for a, b in itertools.pairwise(accepted[3:])]
        return {
            "outbox": "paced" if paced else "unpaced (429-driven)",
            "cards": len(cards),
            "mentions stored": stored,
            "chat.postMessage calls": len(posts),
            "429s": sum(c.http_status == 429 for c in posts),
            "max accepted in 1 s": _max_in_window(accepted, 1.0),
            "gap after burst (median s)": round(statistics.median(gaps), 3) if gaps else None,
            "gap after burst (mean s)": round(statistics.fmean(gaps), 3) if gaps else None,
            "in tweet order": in_slack == sorted(in_slack, key=int),
            "lost": len(set(cards.values()) - set(in_slack)),
            "doubled": len(in_slack) - len(set(in_slack)),
            "all visible after (s)": round(finished - started, 1),
        }
    finally:
        stop.set()
        world.stop()


def _unsent(world: FakeWorld) -> int:
    with transaction(world.db, read_only=True) as session:
        pending = select(col(SlackMessage.id)).where(col(SlackMessage.pending))
        return len(session.execute(pending).all())


def _max_in_window(times: list[float], width: float) -> int:
    best, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= width:
            first += 1
        best = max(best, last - first + 1)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mentions", type=int, default=40)
    parser.add_argument("--replicas", type=int, default=2, help="outboxes sharing the database")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server URL; a scratch database is made"
    )
    parser.add_argument("--unpaced", action="store_true", help="also run the 429-driven outbox")
    args = parser.parse_args()
    runs = [True, False] if args.unpaced else [True]
    for paced in runs:
        with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
            figures = storm(url, mentions=args.mentions, replicas=args.replicas, paced=paced)
        print(", ".join(f"{key}: {value}" for key, value in figures.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
