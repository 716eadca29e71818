"""Generated mention traffic for the spike detector's tests, the bench and the demo: days of
ordinary mentions with a realistic daily curve, and synthetic storms.

The curve (per local hour) is quiet at night, climbs through the morning, peaks at lunch and in
the evening, and is lighter at weekends; minute by minute the count is Poisson-distributed around
it, so some ten minutes are busier than others as in real traffic. About a quarter of ordinary
mentions of a care account are complaints. A storm is a burst of mostly negative tweets about
one thing, from many people. Everything is seeded: the same arguments give the same tweets.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, select

from bot.core.db import transaction
from bot.core.models import Mention
from bot.mentions import sentiment

# Share of a weekday's mentions in each local hour, 00:00 … 23:00 (sums to 1).
_HOURLY = [
    0.012, 0.008, 0.006, 0.005, 0.005, 0.008, 0.015, 0.030,
    0.045, 0.055, 0.060, 0.068, 0.078, 0.070, 0.058, 0.052,
    0.050, 0.052, 0.060, 0.072, 0.075, 0.060, 0.034, 0.022,
]  # fmt: skip
DAILY_CURVE = [h / sum(_HOURLY) for h in _HOURLY]
WEEKEND = 0.7  # Saturdays and Sundays carry this share of a weekday's volume

NEGATIVE_TEXTS = [
    "@{account} outage again, nothing loads",
    "@{account} still waiting for my refund, this is awful",
    "@{account} worst support ever, nobody answers",
    "@{account} app keeps crashing, so frustrating",
    "@{account} charged twice and no reply, terrible",
    "@{account} my order never arrived, really disappointed",
]
ORDINARY_TEXTS = [
    "@{account} how do I change my delivery address?",
    "@{account} thanks for the quick help yesterday!",
    "@{account} do you ship to Ireland?",
    "@{account} love the new update, great work",
    "@{account} what time does the store open on Sunday?",
    "@{account} is there a student discount?",
    "@{account} just ordered, excited to try it",
    "@{account} can I return an item bought online in store?",
]
STORM_TEXTS = [
    "@{account} you got hacked?? my account was emptied, this is a disgrace",
    "@{account} data breach and not a word from you, disgusting",
    "@{account} hacked accounts everywhere, worst company, I want answers",
    "@{account} my card was charged by hackers after your breach, furious",
    "@{account} breach confirmed? terrible, shameful handling",
]


@dataclass(frozen=True)
class GeneratedTweet:
    at: datetime
    author: str
    text: str


def ordinary_day_rate(per_day: float, at: datetime, time_zone: str = "UTC") -> float:
    """Expected mentions per minute at `at` on an ordinary day of `per_day` (weekday) mentions."""
    local = at.astimezone(ZoneInfo(time_zone))
    weekend = WEEKEND if local.weekday() >= 5 else 1.0
    return per_day * weekend * DAILY_CURVE[local.hour] / 60


def ordinary_traffic(
    *,
    account: str,
    start: datetime,
    days: float,
    per_day: float,
    negative_share: float = 0.25,
    time_zone: str = "UTC",
    seed: int = 0,
) -> list[GeneratedTweet]:
    """Ordinary mentions of `account` from `start`, minute by minute, for `days` days."""
    rng = random.Random(f"{account}:{seed}")
    tweets = []
    for minute in _minutes(start, days):
        for _ in range(_poisson(rng, ordinary_day_rate(per_day, minute, time_zone))):
            negative = rng.random() < negative_share
            texts = NEGATIVE_TEXTS if negative else ORDINARY_TEXTS
            tweets.append(
                GeneratedTweet(
                    at=minute + timedelta(seconds=rng.randrange(60)),
                    author=f"user{rng.randrange(100_000)}",
                    text=rng.choice(texts).format(account=account),
                )
            )
    return tweets


def storm(
    *,
    account: str,
    start: datetime,
    minutes: int,
    per_minute: float,
    seed: int = 0,
) -> list[GeneratedTweet]:
    """A storm: `per_minute` angry tweets a minute (Poisson) about one thing, from many people."""
    rng = random.Random(f"storm:{account}:{seed}")
    tweets = []
    for minute in _minutes(start, minutes / (24 * 60)):
        for _ in range(_poisson(rng, per_minute)):
            tweets.append(
                GeneratedTweet(
                    at=minute + timedelta(seconds=rng.randrange(60)),
                    author=f"angry{rng.randrange(100_000)}",
                    text=rng.choice(STORM_TEXTS).format(account=account),
                )
            )
    return tweets


def _minutes(start: datetime, days: float) -> Iterator[datetime]:
    for minute in range(round(days * 24 * 60)):
        yield start + timedelta(minutes=minute)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of one minute's mentions."""
    if mean <= 0:
        return 0
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def store(
    engine: Engine,
    tweets: Iterable[GeneratedTweet],
    *,
    account: str,
    ingested_at: datetime | None = None,
    first_id: int = 1_800_000_000_000_000_000,
) -> int:
    """Put generated tweets straight into the mention table (no cards, no audit), scored as
    ingest scores them: for tests and benchmarks of what reads mentions, at thousands a second.
    `ingested_at` None: each was read the moment it was tweeted. Returns how many were stored."""
    scores: dict[str, float] = {}
    rows = []
    with transaction(engine) as session:
        taken = session.scalar(select(func.count()).select_from(Mention)) or 0
    for n, tweet in enumerate(sorted(tweets, key=lambda t: t.at)):
        tweet_id = str(first_id + taken + n)
        if tweet.text not in scores:
            scores[tweet.text] = sentiment.score(tweet.text)
        rows.append(
            {
                "id": tweet_id,
                "account": account,
                "author_id": str(zlib.crc32(tweet.author.encode())),
                "author_handle": tweet.author,
                "author_name": "",
                "text": tweet.text,
                "url": f"https://x.com/{tweet.author}/status/{tweet_id}",
                "tweeted_at": tweet.at,
                "conversation_id": tweet_id,
                "lang": "en",
                "sentiment": scores[tweet.text],
                "found_by": f"mentions:{account}",
                "segment": "customer_relations",
                "route_reason": "generated traffic",
                "state": "open",
                "version": 1,
                "ingested_at": ingested_at or tweet.at,
                "summoned": True,
            }
        )
    for start in range(0, len(rows), 5000):
        with transaction(engine) as session:
            session.execute(insert(Mention), rows[start : start + 5000])
    return len(rows)
