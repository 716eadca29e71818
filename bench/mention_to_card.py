"""Mention → card: a tweet naming the account appears on the fake X → its card is posted on the
fake Slack, with the real poller and outbox threads on the system clock (benchmark 2 of issue 12).

Mentions arrive at random (exponential gaps, mean --gap seconds: traffic that flows, so the poller
stays at poll_seconds), each with a unique text; the figure is from the moment the fake X holds
the tweet to the fake Slack's chat.postMessage carrying it. It also prints the poll period the
fake X saw on the mentions timeline (the next poll is timed from the last one's start).
Target: p95 ≤ poll_seconds + 1 s.
Run: python bench/mention_to_card.py [--mentions 40] [--gap 2] [--poll-seconds 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from approve_latency import percentile  # bench/ is on sys.path when run
from ingest_throughput import scratch_database

from bot.core.clock import SystemClock
from bot.fakes.slack_api import SlackCall
from bot.fakes.world import FakeWorld
from policies.config import parse_config

TIMEOUT = 60.0


class CardWatch:
    """Fake Slack ``on_call`` hook: when the card carrying each marker was posted."""

    def __init__(self) -> None:
        self.posted: dict[str, float] = {}
        self.markers: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, call: SlackCall) -> None:
        if call.method != "chat.postMessage" or not call.response.get("ok"):
            return
        body = str(call.args)
        with self._cond:
            for marker in self.markers - set(self.posted):
                if marker in body:
                    self.posted[marker] = call.at
            self._cond.notify_all()

    def expect(self, marker: str) -> None:
        with self._cond:
            self.markers.add(marker)

    def wait_all(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.markers <= set(self.posted), timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mentions", type=int, default=40)
    parser.add_argument("--gap", type=float, default=2.0, help="mean seconds between mentions")
    parser.add_argument("--poll-seconds", type=int, default=5)
    parser.add_argument("--database-url", help="a PostgreSQL server URL; a scratch database")
    args = parser.parse_args()
    text = (Path(__file__).parents[1] / "app.yaml").read_text()
    config = parse_config(
        text.replace("poll_seconds: 15", f"poll_seconds: {args.poll_seconds}"), filename="app.yaml"
    )
    assert config.poll_seconds == args.poll_seconds, "app.yaml no longer says poll_seconds: 15"
    rng = random.Random(12)
    added: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        world = FakeWorld(config=config, database_url=url, clock=SystemClock()).start()
        watch = CardWatch()
        world.slack.on_call = watch
        try:
            world.runtime.start_workers(publish=False, homes=False, digests=False)
            time.sleep(args.poll_seconds + 1)  # the first passes (backfill, user lookups) done
            for n in range(args.mentions):
                marker = f"bench-{n:04d}"
                watch.expect(marker)
                world.x.add_tweet(author=f"fan{n % 7}", text=f"@acme quick question {marker}")
                added[marker] = time.time()
                time.sleep(rng.expovariate(1 / args.gap))
            watch.wait_all(TIMEOUT)
            polls = [c.at for c in world.x.calls if c.path.endswith("/mentions")]
        finally:
            world.stop()
    missing = sorted(set(added) - set(watch.posted))
    latencies = [watch.posted[m] - added[m] for m in added if m in watch.posted]
    periods = [b - a for a, b in itertools.pairwise(polls)]
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"mention → card, {backend}, poll_seconds {args.poll_seconds}, {len(added)} mentions")
    if latencies:
        print(
            f"  p50 {statistics.median(latencies):5.2f} s   p95 {percentile(latencies, 95):5.2f} s"
            f"   max {max(latencies):5.2f} s   (target p95 ≤ {args.poll_seconds + 1} s)"
        )
    if periods:
        print(
            f"  mentions-timeline poll period: median {statistics.median(periods):5.2f} s"
            f" over {len(periods)} polls"
        )
    if missing:
        print(f"  {len(missing)} mention(s) never carded: {missing[:5]}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
