"""Spike detector cost per poll: what the poller adds after each pass, on a database holding
weeks of mentions of several busy accounts (generated traffic, bot/fakes/traffic.py).

Each pass reads, for every account, the window, the baseline days and the recent hours (one
UNION ALL over the covering index), when its history begins and its open storm, and decides.
Run: python bench/spike_detector.py [--passes 1000] [--days 14] [--accounts 3] [--per-day 4000]
     [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest_throughput import scratch_database  # bench/ is on sys.path when run

from bot.core.clock import FakeClock
from bot.fakes import traffic
from bot.fakes.world import FakeWorld
from policies.config import parse_config

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def config_text(accounts: int) -> str:
    base = (Path(__file__).parents[1] / "app.yaml").read_text()
    handles = [f"acme{i}" if i else "acme" for i in range(accounts)]
    lines = "".join(
        f"  - {{handle: {h}, credentials_env: ACME{i}}}\n" for i, h in enumerate(handles)
    )
    head, _, rest = base.partition("accounts:\n")
    _, _, tail = rest.partition("\npoll_seconds")
    return f"{head}accounts:\n{lines}poll_seconds{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=4000)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server URL; a scratch database is made"
    )
    args = parser.parse_args()
    config = parse_config(config_text(args.accounts))
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        clock = FakeClock(start=START + timedelta(days=args.days, hours=12))
        world = FakeWorld(config=config, database_url=url, clock=clock).start()
        try:
            stored = 0
            for n, account in enumerate(config.accounts):
                tweets = traffic.ordinary_traffic(
                    account=account.handle,
                    start=START,
                    days=args.days + 0.5,
                    per_day=args.per_day,
                    seed=n,
                )
                stored += traffic.store(world.db, tweets, account=account.handle)
            spikes = world.runtime.services.spikes
            timings = []
            for _ in range(args.passes):
                clock.advance(seconds=config.poll_seconds)
                started = time.perf_counter()
                spikes.check()
                timings.append(time.perf_counter() - started)
        finally:
            world.stop()
    timings.sort()
    mean = statistics.fmean(timings) * 1000
    p95 = timings[int(len(timings) * 0.95)] * 1000
    print(f"backend: {url.split(':')[0]}")
    print(f"mentions stored: {stored:,} ({args.accounts} accounts, {args.days} days of history)")
    print(f"passes: {args.passes} (one per poll, {config.poll_seconds} s apart, from 12:00)")
    print(
        f"per pass: mean {mean:.2f} ms, p95 {p95:.2f} ms ({mean / args.accounts:.2f} ms an account)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
