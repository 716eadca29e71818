"""Resident memory of the app after ingesting 100,000 mentions (benchmark 6 of issue 12).

The fake X and fake Slack run in this process; the app runs in a child process of its own (the
real runtime, built as `brandbot run` builds it, over a scratch database) and polls the fake X
when told to, so the figure is the app's memory alone: the fake X holds every tweet it serves,
which in one process would be most of the total. Tweets are fed in bursts of 500 between polls,
as bench/ingest_throughput.py does.
Run: python bench/memory.py [--mentions 100000] [--database-url URL]
"""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from ingest_throughput import BURST, TEXTS, arguments, resident_mb, scratch_database

from bot.core.clock import FakeClock, utcnow
from bot.core.settings import Secret, Settings
from bot.fakes.slack_api import FakeSlack
from bot.fakes.world import BOT_TOKEN, X_BEARER, register_accounts
from bot.fakes.x_api import FakeX
from bot.runtime import build_runtime
from policies.config import BrandConfig, parse_config

CONFIG = Path(__file__).parents[1] / "app.yaml"


def child(setup: dict[str, str]) -> int:
    """The app: build the runtime, then poll the mentions timeline once per line on stdin."""
    config = parse_config(CONFIG.read_text())
    settings = Settings(
        slack_bot_token=Secret(BOT_TOKEN),
        slack_signing_secret=Secret(secrets.token_hex(16)),
        slack_api_url=setup["slack_url"],
        x_api_url=setup["x_url"],
        x_bearer_token=Secret(X_BEARER),
        audit_key=Secret(secrets.token_hex(32)),
        database_url=setup["database_url"],
    )
    clock = FakeClock(start=utcnow())
    env = json.loads(setup["env"])
    runtime = build_runtime(settings, config, clock=clock, env=env)
    source = next(s for s in runtime.ingestor.sources() if s.kind == "mentions")
    print(json.dumps({"started_mb": resident_mb()[0]}), flush=True)
    try:
        for _ in sys.stdin:
            clock.advance(seconds=config.poll_seconds)
            result = runtime.ingestor.poll(source)
            assert result is not None and result.error is None, result
            now, peak = resident_mb()
            print(json.dumps({"fetched": result.fetched, "mb": now, "peak_mb": peak}), flush=True)
    finally:
        runtime.stop()
    return 0


def _ask(app: subprocess.Popen[str]) -> dict[str, float]:
    stdout: IO[str] | None = app.stdout
    assert stdout is not None
    line = stdout.readline()
    if not line:
        raise SystemExit(f"the app exited ({app.wait()})")
    return dict(json.loads(line))


def parent(config: BrandConfig, mentions: int, database_url: str) -> int:
    slack, x = FakeSlack(bot_token=BOT_TOKEN), FakeX(bearer_token=X_BEARER)
    slack.start()
    x.start()
    rng = random.Random(42)
    try:
        setup = {
            "slack_url": slack.url,
            "x_url": x.url,
            "database_url": database_url,
            "env": json.dumps(register_accounts(x, config)),
        }
        app = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(setup)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        assert app.stdin is not None
        started = _ask(app)["started_mb"]
        fetched, report = 0, {}
        for start in range(0, mentions, BURST):
            for n in range(start, min(start + BURST, mentions)):
                x.add_tweet(author=f"user{rng.randrange(5000)}", text=rng.choice(TEXTS).format(n=n))
            app.stdin.write("poll\n")
            app.stdin.flush()
            report = _ask(app)
            fetched += int(report["fetched"])
            if fetched % 10_000 == 0:
                print(f"  after {fetched:>7,} mentions: {report['mb']:,.0f} MB resident")
        app.stdin.close()
        app.wait(timeout=60)
    finally:
        x.stop()
        slack.stop()
    print(f"backend: {database_url.split(':')[0]}")
    print(f"app process: {started:,.0f} MB resident once started")
    print(
        f"after {fetched:,} mentions: {report['mb']:,.0f} MB resident, "
        f"{report['peak_mb']:,.0f} MB peak (the app alone; the fakes run in another process)"
    )
    return 0 if fetched == mentions else 1


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        return child(json.loads(sys.argv[2]))
    args = arguments(__doc__, "mentions", 100_000)
    config = parse_config(CONFIG.read_text())
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        return parent(config, args.mentions, url)


if __name__ == "__main__":
    sys.exit(main())
