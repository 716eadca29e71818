"""Ingest throughput: 100,000 mentions from the fake X → routed, stored, card queued.

Measures the real path: tweepy over HTTP to the fake X (pages of 100), VADER sentiment,
policies.routing, INSERT … ON CONFLICT, card rows in the outbox and audit entries.
Prints the rate of each 10,000-mention slice (so a slowdown as the tables grow shows), and the
process's resident memory at the end.
Run: python bench/ingest_throughput.py [--mentions 100000] [--slice 10000] [--database-url URL]
[--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
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
from bot.core.db import is_postgres, make_engine, normalise_url, transaction
from bot.core.models import Mention, SlackMessage
from bot.fakes.world import FakeWorld
from policies.config import parse_config

BURST = 500
# Every text distinct ({n}): the scorer caches repeated texts, and a bench of six repeated
# texts would measure the cache rather than VADER.
TEXTS = [
    "@acme outage in my area again, nothing loads since {n} minutes",
    "@acme how do I get a refund for order {n}?",
    "@acme loving the new launch, any promo codes for store {n}? #AcmeConf",
    "@acme you got hacked? my account {n} shows a lawsuit notice",
    "@acme what is your stance on privacy and sustainability? asking for {n} friends",
    "@acme thanks for the quick help yesterday, ticket {n}!",
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


def resident_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak, in MB (Linux /proc)."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    now, peak = (int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    return now, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--slice", type=int, default=10_000, help="report a rate per this many")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server URL; a scratch database is made"
    )
    parser.add_argument("--profile", help="write a cProfile of the polls to this file")
    args = parser.parse_args()
    config = parse_config((Path(__file__).parents[1] / "app.yaml").read_text())
    rng = random.Random(42)
    profile = cProfile.Profile() if args.profile else None
    # (mentions stored by the end of it, its seconds, its CPU seconds in this thread)
    slices: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        clock = FakeClock(start=utcnow())
        world = FakeWorld(config=config, database_url=url, clock=clock).start()
        try:
            mentions_source = next(
                s for s in world.runtime.ingestor.sources() if s.kind == "mentions"
            )
            elapsed = slice_elapsed = slice_cpu = 0.0
            fetched = polls = 0
            # X's mentions timeline serves at most ~800 recent mentions, so feed them in bursts
            # of 500 between polls, as a busy account would see them.
            for start in range(0, args.mentions, BURST):
                for n in range(start, min(start + BURST, args.mentions)):
                    tweet_text = rng.choice(TEXTS).format(n=n)
                    world.x.add_tweet(author=f"user{rng.randrange(5000)}", text=tweet_text)
                clock.advance(seconds=config.poll_seconds)
                if profile:
                    profile.enable()
                started, cpu_started = time.perf_counter(), time.thread_time()
                result = world.runtime.ingestor.poll(mentions_source)
                took = time.perf_counter() - started
                slice_cpu += time.thread_time() - cpu_started
                if profile:
                    profile.disable()
                assert result is not None and result.error is None, result
                elapsed, slice_elapsed = elapsed + took, slice_elapsed + took
                fetched, polls = fetched + result.fetched, polls + 1
                if fetched % args.slice == 0 or fetched == args.mentions:
                    slices.append((fetched, slice_elapsed, slice_cpu))
                    slice_elapsed = slice_cpu = 0.0
                    if is_postgres(world.db):
                        # What autovacuum does on a production server (the test server runs
                        # without it): the planner then knows every card is a mention card.
                        with world.db.connect() as conn:
                            conn.execute(text("ANALYZE"))
                            conn.commit()
            with transaction(world.db) as session:
                stored = session.execute(select(func.count()).select_from(Mention)).scalar_one()
                cards = session.execute(select(func.count()).select_from(SlackMessage)).scalar_one()
            rss, peak = resident_mb()
        finally:
            world.stop()
    if profile:
        profile.dump_stats(args.profile)
    print(f"backend: {url.split(':')[0]}")
    print(f"polls: {polls}, mentions fetched: {fetched}, stored: {stored}, card intents: {cards}")
    previous = 0
    # The CPU rate counts only this thread's work (tweepy, scoring, routing, SQLite, which runs in
    # it), not waits for other processes: steadier than wall time on a shared machine.
    for upto, seconds, cpu in slices:
        count = upto - previous
        print(
            f"  mentions {previous + 1:>7,} to {upto:>7,}: {count / seconds:>6,.0f}/s "
            f"(per CPU second of this thread: {count / cpu:>6,.0f})"
        )
        previous = upto
    print(f"elapsed: {elapsed:.2f} s")
    print(f"throughput: {stored / elapsed:,.0f} mentions/s (ingest → route → stored card intent)")
    if len(slices) > 1:
        first, last = slices[0], (slices[-1][0] - slices[-2][0], *slices[-1][1:])
        print(
            f"last slice / first slice: {(last[0] / last[1]) / (first[0] / first[1]):.2f} "
            f"(per CPU second: {(last[0] / last[2]) / (first[0] / first[2]):.2f})"
        )
    # One process holds the app and the fake X (every tweet it serves) and the fake Slack.
    print(f"resident memory: {rss:,.0f} MB now, {peak:,.0f} MB peak (app + fakes, one process)")
    return 0 if stored == args.mentions == cards else 1


if __name__ == "__main__":
    sys.exit(main())
