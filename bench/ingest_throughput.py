"""Ingest throughput: 10,000 mentions from the fake X → routed, stored, card queued (SQLite).

Measures the real path: tweepy over HTTP to the fake X (pages of 100), VADER sentiment,
policies.routing, INSERT … ON CONFLICT, card rows in the outbox and audit entries.
Run: python bench/ingest_throughput.py [--mentions 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, make_url, select, text

from bot.core.clock import FakeClock, utcnow
from bot.core.db import make_engine, normalise_url, transaction
from bot.core.models import Mention, SlackMessage
from bot.fakes.world import FakeWorld
from policies.config import parse_config

BURST = 500
TEXTS = [
    "@acme outage in my area again, nothing loads",
    "@acme how do I get a refund for order {n}?",
    "@acme loving the new launch, any promo codes? #AcmeConf",
    "@acme you got hacked? my account shows a lawsuit notice",
    "@acme what is your stance on privacy and sustainability?",
    "@acme thanks for the quick help yesterday!",
]


@contextmanager
def scratch_database(server_url: str | None, tmp: str) -> Iterator[str]:
    """A throwaway database: a SQLite file, or a new database on the given PostgreSQL server."""
    if not server_url:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    name = f"brandbot_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(server_url)).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def arguments(description: str | None, count: str, default: int) -> argparse.Namespace:
    """`--<count> N` and `--database-url URL`, as every benchmark here takes them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(f"--{count}", type=int, default=default)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server URL; a scratch database is made"
    )
    return parser.parse_args()


def main() -> int:
    args = arguments(__doc__, "mentions", 10_000)
    config = parse_config((Path(__file__).parents[1] / "app.yaml").read_text())
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        clock = FakeClock(start=utcnow())
        world = FakeWorld(config=config, database_url=url, clock=clock).start()
        try:
            mentions_source = next(
                s for s in world.runtime.ingestor.sources() if s.kind == "mentions"
            )
            elapsed, fetched, polls = 0.0, 0, 0
            # X's mentions timeline serves at most ~800 recent mentions, so feed them in bursts
            # of 500 between polls, as a busy account would see them.
            for start in range(0, args.mentions, BURST):
                for n in range(start, min(start + BURST, args.mentions)):
                    text = rng.choice(TEXTS).format(n=n)
                    world.x.add_tweet(author=f"user{rng.randrange(5000)}", text=text)
                clock.advance(seconds=config.poll_seconds)
                started = time.perf_counter()
                result = world.runtime.ingestor.poll(mentions_source)
                elapsed += time.perf_counter() - started
                assert result is not None and result.error is None, result
                fetched, polls = fetched + result.fetched, polls + 1
            with transaction(world.db) as session:
                stored = session.execute(select(func.count()).select_from(Mention)).scalar_one()
                cards = session.execute(select(func.count()).select_from(SlackMessage)).scalar_one()
        finally:
            world.stop()
    print(f"backend: {url.split(':')[0]}")
    print(f"polls: {polls}, mentions fetched: {fetched}, stored: {stored}, card intents: {cards}")
    print(f"elapsed: {elapsed:.2f} s")
    print(f"throughput: {stored / elapsed:,.0f} mentions/s (ingest → route → stored card intent)")
    return 0 if stored == args.mentions == cards else 1


if __name__ == "__main__":
    sys.exit(main())
