"""Benchmark (5), a viral storm: 10,000 mentions into one channel while the fake Slack enforces
about one message a second per channel (a token bucket, answering 429 with Retry-After).

The real app runs its outbox worker on its own thread against the fake Slack over loopback HTTP,
paced by slack_pacing (1/s, bursts of 3) as `brandbot run` paces it; this script feeds the fake X
in bursts of 500 (X's mentions timeline serves ~800 at most) and polls back to back, as fast as X
serves them — the poller's schedule is not what is measured. After the storm it polls quietly until
the surge ends, then sends 20 more mentions, which get their own cards again. It prints: Slack
calls made (by method), 429s received and their share of posts, the most calls per second in one
channel, mentions lost (in neither a posted card nor a posted summary), the time until every
mention is visible in Slack (in a card, or counted by a summary as Slack shows it), and whether the
channel's own cards came in the order their tweets were written.
Run: .venv/bin/python bench/storm.py [--mentions 10000] [--database-url URL]
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from datetime import timedelta

from ingest_throughput import arguments, scratch_database
from sqlalchemy import func, select, update
from sqlmodel import col

from bot.core.clock import SystemClock, utcnow
from bot.core.db import transaction
from bot.core.models import Mention, PollCursor, SlackMessage, Surge, SurgeMention
from bot.fakes.slack_api import FakeSlack
from bot.fakes.world import FakeWorld
from bot.mentions.service import MENTION_CARD
from policies.config import parse_config

CHANNEL = "C0CUSTOMER"
BURST = 500
RATE, BUCKET = 1.0, 3  # what the fake Slack enforces per channel: 1 a second, bursts of 3
TAIL = 20  # mentions after the storm: their own cards again, in order
DEADLINE = 300.0  # give up after this long (the target is 120 s)
CONFIG = f"""
brand: Acme
admins: ["U0ADMIN"]
accounts:
  - {{handle: acme, credentials_env: ACME}}
poll_seconds: 5
segments:
  customer_relations:
    channel: {CHANNEL}
    approvers: ["U0LEAD"]
    first_response_minutes: 15
routing:
  default_segment: customer_relations
"""
TEXTS = [
    "@acme outage again, nothing loads #{n}",
    "@acme is the app down? checkout fails #{n}",
    "@acme thanks for fixing it so fast #{n}",
    "@acme my order {n} is stuck, awful",
]


def _author(offset: int) -> Callable[[int], str]:
    return lambda i: f"fan{offset + i}"


def _text(offset: int) -> Callable[[int], str]:
    return lambda i: TEXTS[(offset + i) % len(TEXTS)].format(n=offset + i)


def _visible(slack: FakeSlack, world: FakeWorld) -> int:
    """Mentions Slack shows now: own cards posted, plus what each summary says it counts."""
    with transaction(world.db) as session:
        summaries = {s.card_id for s in session.scalars(select(Surge)) if s.card_id is not None}
        ids = {
            m.id: m.kind
            for m in session.scalars(select(SlackMessage).where(col(SlackMessage.ts).is_not(None)))
        }
    shown = 0
    for message in list(slack.messages.get(CHANNEL, [])):
        meta = (message.get("metadata") or {}).get("event_payload") or {}
        subject = meta.get("id")
        if subject in summaries:
            found = re.match(r"(\d+) new mentions", message.get("text") or "")
            shown += int(found.group(1)) if found else 0
        elif ids.get(subject) == MENTION_CARD and not message.get("thread_ts"):
            shown += 1
    return shown


def _max_per_second(times: list[float]) -> int:
    window: deque[float] = deque()
    most = 0
    for at in sorted(times):
        window.append(at)
        while window and at - window[0] >= 1.0:
            window.popleft()
        most = max(most, len(window))
    return most


def main() -> int:
    args = arguments(__doc__, "mentions", 10_000)
    config = parse_config(CONFIG, filename="storm.yaml")
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        # The outbox paces itself by slack_pacing as `brandbot run` does (a FakeWorld does not
        # unless asked), and the fake Slack enforces the same bucket, as Slack would.
        world = FakeWorld(config=config, database_url=url, clock=SystemClock(), paced=True)
        world.start()
        world.slack.enforce_channel_rate(per_second=RATE, burst=BUCKET)
        try:
            return _run(world, args.mentions, url, TAIL)
        finally:
            world.stop()


def _tail(world: FakeWorld, count: int) -> float | None:
    """After the storm: quiet polls (every poll_seconds) until its surge ends, then `count`
    mentions; seconds until each has its own card in the channel (None: not in time)."""
    waited = time.monotonic()
    while time.monotonic() - waited < DEADLINE:
        with transaction(world.db) as session:
            surging = session.scalars(select(Surge).where(col(Surge.open_for).is_not(None)))
            if surging.first() is None:
                break
            session.execute(update(PollCursor).values(next_poll_at=utcnow()))
        world.runtime.ingestor.poll_due()
        time.sleep(world.config.poll_seconds)
    print(f"the surge ended {time.monotonic() - waited:.0f} s after every mention was visible")
    began = time.monotonic()
    world.x.add_tweets(count, author=_author(90_000), text=_text(90_000), start=utcnow())
    with transaction(world.db) as session:
        session.execute(update(PollCursor).values(next_poll_at=utcnow()))
    world.runtime.ingestor.poll_due()
    world.runtime.outbox.wake()
    while time.monotonic() - began < DEADLINE:
        with transaction(world.db) as session:
            posted = session.execute(
                select(func.count())
                .select_from(SlackMessage)
                .join(Mention, col(Mention.id) == col(SlackMessage.subject_id))
                .where(
                    col(SlackMessage.kind) == MENTION_CARD,
                    col(SlackMessage.ts).is_not(None),
                    col(Mention.author_handle).like("fan9____"),
                )
            ).scalar_one()
        if posted >= count:
            return time.monotonic() - began
        time.sleep(0.25)
    return None


def _run(world: FakeWorld, total: int, url: str, tail: int) -> int:
    slack = world.slack
    source = next(s for s in world.runtime.ingestor.sources() if s.kind == "mentions")
    world.runtime.start_workers(poll=False, deliver=True, publish=False, homes=False, digests=False)
    began = time.monotonic()
    first_tweet = utcnow()
    ingested_at = 0.0
    for start in range(0, total, BURST):
        count = min(BURST, total - start)
        world.x.add_tweets(
            count,
            author=_author(start),
            text=_text(start),
            start=first_tweet + timedelta(milliseconds=start + 1),
            step=timedelta(milliseconds=1),
        )
        with transaction(world.db) as session:  # due now: polled as fast as X serves them
            session.execute(update(PollCursor).values(next_poll_at=utcnow()))
        result = world.runtime.ingestor.poll(source)
        assert result is not None and result.error is None, result
        world.runtime.outbox.wake()
    ingested_at = time.monotonic() - began
    visible_at = None
    while time.monotonic() - began < DEADLINE:
        if _visible(slack, world) >= total:
            visible_at = time.monotonic() - began
            break
        time.sleep(0.25)
    time.sleep(2.0)  # let the last update land before counting
    storm_calls = len(slack.calls)
    tail_at = _tail(world, tail) if tail and visible_at is not None else None
    world.runtime.stop()

    every = list(slack.calls)
    calls, after = every[:storm_calls], every[storm_calls:]
    by_method = Counter(c.method for c in calls)
    posts = [c for c in calls if c.method == "chat.postMessage"]
    limited = [c for c in calls if c.http_status == 429]
    per_channel: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        if call.method.startswith("chat.") and call.args.get("channel"):
            per_channel[str(call.args["channel"])].append(call.at)
    posts_per_channel = defaultdict(list)
    for call in posts:
        if call.ok:
            posts_per_channel[str(call.args["channel"])].append(call.at)
    with transaction(world.db) as session:
        stored = session.execute(select(func.count()).select_from(Mention)).scalar_one()
        summarised = session.execute(
            select(func.count())
            .select_from(SurgeMention)
            .join(Surge, col(Surge.id) == col(SurgeMention.surge_id))
            .join(SlackMessage, col(SlackMessage.id) == col(Surge.card_id))
            .where(col(SlackMessage.ts).is_not(None))
        ).scalar_one()
        carded = session.execute(
            select(col(SlackMessage.subject_id), col(Mention.tweeted_at), col(SlackMessage.ts))
            .join(Mention, col(Mention.id) == col(SlackMessage.subject_id))
            .where(
                col(SlackMessage.kind) == MENTION_CARD,
                col(SlackMessage.ts).is_not(None),
                col(SlackMessage.thread_root_id).is_(None),
            )
        ).all()
        surges = session.execute(select(func.count()).select_from(Surge)).scalar_one()
    in_order = [r.subject_id for r in sorted(carded, key=lambda r: float(r.ts))] == [
        r.subject_id for r in sorted(carded, key=lambda r: (r.tweeted_at, int(r.subject_id)))
    ]
    lost = total + tail - summarised - len(carded)  # the tail's cards are counted too
    print(f"backend: {url.split(':')[0]}; storm: {total:,} mentions into one channel, then {tail}")
    print(f"fake Slack: chat.postMessage limited to {RATE:g}/s per channel (bursts of {BUCKET})")
    pace = world.runtime.outbox.pacing  # unpaced, the outbox learns the rate from 429s only
    paced = f"{pace.per_second:g}/s per channel (bursts of {pace.burst})" if pace else "NOT paced"
    print(f"outbox: {paced}")
    print(f"ingested (stored {stored:,}) in {ingested_at:.1f} s")
    methods = ", ".join(f"{m} {n}" for m, n in by_method.most_common())
    print(f"Slack calls: {len(calls):,} ({methods})")
    share = len(limited) / len(posts) if posts else 0.0
    print(f"429s received: {len(limited)} ({share:.1%} of {len(posts)} posts)")
    most = max((_max_per_second(t) for t in per_channel.values()), default=0)
    most_posts = max((_max_per_second(t) for t in posts_per_channel.values()), default=0)
    print(f"max calls per second in one channel: {most} (accepted posts: {most_posts})")
    print(
        f"surge summaries: {surges}; mentions in a posted summary: {summarised:,}; "
        f"own cards: {len(carded):,}"
    )
    print(f"mentions lost: {lost}")
    shown = f"{visible_at:.1f} s" if visible_at is not None else f"not within {DEADLINE:.0f} s"
    print(f"every mention visible in Slack after: {shown} (from the first burst on X)")
    print(f"channel cards in the order the tweets were written: {'yes' if in_order else 'NO'}")
    if tail:
        tail_posts = [c for c in after if c.method == "chat.postMessage"]
        tail_429 = sum(1 for c in tail_posts if c.http_status == 429)
        tail_times = [c.at for c in tail_posts if c.ok and c.args.get("channel") == CHANNEL]
        took = f"{tail_at:.1f} s" if tail_at is not None else "not in time"
        print(
            f"after the surge ended: {tail} mentions got their own cards in {took}; "
            f"{len(tail_posts)} posts, {tail_429} answered 429; "
            f"max accepted posts per second: {_max_per_second(tail_times)}"
        )
    return 0 if lost == 0 and visible_at is not None else 1


if __name__ == "__main__":
    sys.exit(main())
