"""Report speed: a generated week of mentions (10,000 a day by default, on a daily curve, across
the segments, most answered within minutes) and the time `brandbot report --period week` takes
to compute its figures, render its text and JSON, and draw its chart.
Run: python bench/report_speed.py [--per-day 10000] [--database-url URL] [--png FILE]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bot.core import migrate
from bot.core.db import make_engine, table_of, transaction
from bot.core.models import Mention, MentionState
from bot.reports.chart import render_png
from bot.reports.figures import build_report
from bot.reports.rendering import to_json, to_text
from policies.config import parse_config
from policies.report_period import last_complete

sys.path.insert(0, str(Path(__file__).parent))
from ingest_throughput import scratch_database

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday: last week is complete


def generate(url: str, per_day: int, segments: list[str]) -> int:
    """A week of mentions; returns how many were written."""
    rng = random.Random(11)
    engine = make_engine(url)
    migrate.upgrade(engine)
    start = NOW.replace(hour=0) - timedelta(days=7)
    rows = []
    for n in range(per_day * 7):
        day = n // per_day
        # more by day than by night: a sine over the day, peaking mid-afternoon
        fraction = rng.random()
        while rng.random() > 0.5 + 0.45 * math.sin(math.pi * (fraction * 24 - 9) / 12):
            fraction = rng.random()
        tweeted = start + timedelta(days=day, seconds=int(fraction * 86400))
        answered = rng.random() < 0.8
        replied = (
            tweeted + timedelta(seconds=int(rng.lognormvariate(6.3, 1.0))) if answered else None
        )
        state = MentionState.REPLIED if answered else rng.choice(list(MentionState))
        rows.append(
            {
                "id": str(1_800_000_000_000_000_000 + n),
                "account": "acme",
                "author_id": str(rng.randrange(1, 50_000)),
                "author_handle": "someone",
                "author_name": "",
                "text": "@acme generated",
                "url": "https://x.com/someone/status/1",
                "tweeted_at": tweeted,
                "conversation_id": str(n),
                "sentiment": round(rng.uniform(-1, 1), 3),
                "found_by": "mentions:acme",
                "segment": segments[min(len(segments) - 1, int(rng.expovariate(1.2)))],
                "route_reason": "bench",
                "state": state,
                "version": 1,
                "ingested_at": tweeted + timedelta(seconds=20),
                "summoned": True,
                "replied_at": replied,
                "replied_via": "brandbot" if replied else None,
                "closed_at": tweeted + timedelta(hours=2) if state == "resolved" else None,
                "dismiss_reason": "spam" if state == "dismissed" else None,
            }
        )
    with transaction(engine) as session:
        for i in range(0, len(rows), 5000):
            session.execute(insert(table_of(Mention)), rows[i : i + 5000])
    engine.dispose()
    return len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--database-url", help="a PostgreSQL server URL; a scratch database")
    parser.add_argument("--png", type=Path, help="also keep the chart here")
    args = parser.parse_args()
    config = parse_config((Path(__file__).parents[1] / "app.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        written = generate(url, args.per_day, list(config.segments))
        engine = make_engine(url)
        started = time.perf_counter()
        report = build_report(engine, config, last_complete("week", NOW, config.time_zone))
        figures = time.perf_counter() - started
        to_text(report), to_json(report)
        rendered = time.perf_counter() - started
        png = render_png(report)
        charted = time.perf_counter() - started
        engine.dispose()
    if args.png:
        args.png.write_bytes(png)
    print(f"{written:,} mentions over a week ({report.total.mentions:,} in the report)")
    print(f"figures {figures:.2f} s; + text and JSON {rendered:.2f} s; + chart {charted:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
