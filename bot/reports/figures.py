"""The report's figures: a few queries over one window, into a typed Report.

What counts (docs/decisions.md, "Issue 11: reports"):
- a mention counts in the window its tweet was *tweeted* in (X's time, what the customer saw);
- first response = replied_at - tweeted_at, for mentions with a reply on X (through brandbot or
  natively); p50/p90 are nearest-rank;
- the within-target share is over mentions whose outcome is known at the window's end: handled
  (replied, or resolved/dismissed — the clock stops there too) within the target counts as met;
  handled late, or still unhandled past the target, as missed; unhandled and still inside the
  target is left out (pending);
- time to resolve = closed_at - tweeted_at of resolved mentions.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import col

from bot.core.db import transaction
from bot.core.models import AuditEntry, Draft, DraftState, Mention, MentionState, XRead
from bot.x.budget import month_spend
from policies.config import BrandConfig, XPrices
from policies.report_period import Window, bucket_edges, nearest_rank
from policies.x_budget import MonthSpend, cost_usd, price_kind

AROUND_BRANDBOT = "x.post_around_brandbot"
NEUTRAL_BAND = 0.05  # VADER's usual bounds for negative / neutral / positive (as on the cards)
_CLOSED = (MentionState.RESOLVED, MentionState.DISMISSED)


@dataclass(frozen=True)
class Spread:
    """A distribution of durations in seconds: how many, and their nearest-rank p50 and p90."""

    count: int
    p50: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        whole = [round(v) for v in values]  # X's times are whole seconds
        return cls(len(whole), nearest_rank(whole, 50), nearest_rank(whole, 90))


@dataclass(frozen=True)
class AfterReply:
    """Conversations where the customer wrote again after our reply: their mood before, after."""

    conversations: int
    before_mean: float | None
    after_mean: float | None
    improved: int  # the next message scored higher than the one we answered


@dataclass(frozen=True)
class Sentiment:
    incoming_mean: float | None
    negative: int
    neutral: int
    positive: int
    after_reply: AfterReply


@dataclass(frozen=True)
class SegmentFigures:
    """One segment (or the total) over the window."""

    mentions: int
    claimed: int
    replied: int
    replied_on_x: int  # of `replied`: the first reply was posted natively on X
    resolved: int
    resolved_without_reply: int
    dismissed: int
    dismissed_by_reason: dict[str, int]
    open: int  # neither replied nor closed at the window's end
    tags: dict[str, int]
    target_seconds: int | None  # the segment's first_response_minutes (None in the total)
    first_response: Spread
    within_target: int
    missed: int
    pending: int
    resolve: Spread
    sentiment: Sentiment
    posts_published: int
    drafts_rejected: int
    drafts_rejected_by_reason: dict[str, int]

    @property
    def within_target_share(self) -> float | None:
        judged = self.within_target + self.missed
        return self.within_target / judged if judged else None


@dataclass(frozen=True)
class EndpointReads:
    requests: int
    resources: int
    price_kind: str
    estimated_cost_usd: float


@dataclass(frozen=True)
class Report:
    brand: str
    window: Window
    segments: dict[str, SegmentFigures]
    total: SegmentFigures
    posts_by_account: dict[str, int]
    posts_by_author: dict[str, int]
    around_brandbot_by_account: dict[str, int]
    reads: dict[str, EndpointReads]
    reads_days: tuple[str, str]  # the UTC days whose reads are counted (first, last)
    x_month: MonthSpend  # the UTC month the window ends in, against the monthly X budget
    volume_edges: list[datetime]
    volume: dict[str, list[int]]  # per segment, mentions per bar of `volume_edges`
    response_times: dict[str, list[float]] = field(repr=False)  # seconds, for the chart

    @property
    def posts_published(self) -> int:
        return sum(self.posts_by_account.values())

    @property
    def around_brandbot(self) -> int:
        return sum(self.around_brandbot_by_account.values())

    @property
    def read_cost_usd(self) -> float:
        return round(sum(r.estimated_cost_usd for r in self.reads.values()), 4)


@dataclass
class _Tally:
    """Running counts for one segment while the rows stream past."""

    target: int | None
    mentions: int = 0
    claimed: int = 0
    replied: int = 0
    replied_on_x: int = 0
    resolved: int = 0
    resolved_without_reply: int = 0
    dismissed: int = 0
    open: int = 0
    within: int = 0
    missed: int = 0
    pending: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    response: list[float] = field(default_factory=list)
    resolve: list[float] = field(default_factory=list)
    moods: list[float] = field(default_factory=list)
    pairs: list[tuple[float, float]] = field(default_factory=list)  # (answered, next message)
    posts: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def add(self, other: _Tally) -> None:
        for name in [
            "mentions",
            "claimed",
            "replied",
            "replied_on_x",
            "resolved",
            "resolved_without_reply",
            "dismissed",
            "open",
            "within",
            "missed",
            "pending",
            "posts",
        ]:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)
        self.tags.update(other.tags)
        self.rejected.update(other.rejected)
        self.response += other.response
        self.resolve += other.resolve
        self.moods += other.moods
        self.pairs += other.pairs

    def figures(self) -> SegmentFigures:
        pairs = self.pairs
        return SegmentFigures(
            mentions=self.mentions,
            claimed=self.claimed,
            replied=self.replied,
            replied_on_x=self.replied_on_x,
            resolved=self.resolved,
            resolved_without_reply=self.resolved_without_reply,
            dismissed=self.dismissed,
            dismissed_by_reason=dict(self.reasons.most_common()),
            open=self.open,
            tags=dict(self.tags.most_common()),
            target_seconds=self.target,
            first_response=Spread.of(self.response),
            within_target=self.within,
            missed=self.missed,
            pending=self.pending,
            resolve=Spread.of(self.resolve),
            sentiment=Sentiment(
                incoming_mean=_mean(self.moods),
                negative=sum(1 for m in self.moods if m <= -NEUTRAL_BAND),
                neutral=sum(1 for m in self.moods if -NEUTRAL_BAND < m < NEUTRAL_BAND),
                positive=sum(1 for m in self.moods if m >= NEUTRAL_BAND),
                after_reply=AfterReply(
                    conversations=len(pairs),
                    before_mean=_mean([b for b, _ in pairs]),
                    after_mean=_mean([a for _, a in pairs]),
                    improved=sum(1 for b, a in pairs if a > b),
                ),
            ),
            posts_published=self.posts,
            drafts_rejected=sum(self.rejected.values()),
            drafts_rejected_by_reason=dict(self.rejected.most_common()),
        )


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def build_report(engine: Engine, config: BrandConfig, win: Window) -> Report:
    """Every figure of the report for `win`, from the database, against the effective config."""
    tallies = {
        name: _Tally(target=segment.first_response_minutes * 60)
        for name, segment in config.segments.items()
    }
    edges = bucket_edges(win)
    volume: dict[str, list[int]] = {name: [0] * (len(edges) - 1) for name in tallies}
    with transaction(engine) as session:
        mentions = session.execute(
            select(
                col(Mention.id),
                col(Mention.segment),
                col(Mention.state),
                col(Mention.tweeted_at),
                col(Mention.replied_at),
                col(Mention.replied_via),
                col(Mention.claimed_at),
                col(Mention.closed_at),
                col(Mention.dismiss_reason),
                col(Mention.tags),
                col(Mention.sentiment),
            ).where(col(Mention.tweeted_at) >= win.start, col(Mention.tweeted_at) < win.end)
        ).all()
        # A follow-up comes after the tweet it follows: only those tweeted since the window began.
        follow_ups = session.execute(
            select(col(Mention.follow_up_of), col(Mention.tweeted_at), col(Mention.sentiment))
            .where(col(Mention.follow_up_of).is_not(None), col(Mention.tweeted_at) >= win.start)
            .order_by(col(Mention.tweeted_at))
        ).all()
        drafts = session.execute(
            select(
                col(Draft.segment),
                col(Draft.account),
                col(Draft.author_name),
                col(Draft.state),
                col(Draft.posted_at),
            )
            .where(col(Draft.posted_at) >= win.start, col(Draft.posted_at) < win.end)
            .where(col(Draft.state).in_([DraftState.POSTED, DraftState.DELETED]))
        ).all()
        rejected = session.execute(
            select(col(Draft.segment), col(Draft.reject_reason)).where(
                col(Draft.state) == DraftState.REJECTED,
                col(Draft.updated_at) >= win.start,
                col(Draft.updated_at) < win.end,
            )
        ).all()
        around = session.execute(
            select(col(AuditEntry.after)).where(
                col(AuditEntry.action) == AROUND_BRANDBOT,
                col(AuditEntry.at) >= win.start,
                col(AuditEntry.at) < win.end,
            )
        ).all()
        # X bills by UTC day: the days the window touches (its end is exclusive)
        first_day = win.start.astimezone(UTC).date().isoformat()
        last_day = (win.end.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()
        reads = session.execute(
            select(col(XRead.endpoint), func.sum(XRead.requests), func.sum(XRead.resources))
            .where(col(XRead.day) >= first_day, col(XRead.day) <= last_day)
            .group_by(col(XRead.endpoint))
        ).all()
        x_month = month_spend(session, config, win.end - timedelta(microseconds=1))

    next_message: dict[str, float] = {}
    for parent, _, mood in follow_ups:  # oldest first: keep the first follow-up of each
        next_message.setdefault(str(parent), float(mood))
    for row in mentions:
        tally = tallies.get(row.segment)
        if tally is None:  # a segment since removed from app.yaml: still counted in the total
            tally = tallies[row.segment] = _Tally(target=None)
            volume[row.segment] = [0] * (len(edges) - 1)
        _count(tally, row, win, next_message)
        volume[row.segment][_bucket(edges, row.tweeted_at)] += 1
    for segment, _, _, _, _ in drafts:
        _tally(tallies, segment).posts += 1
    posts_by_account = Counter(str(account) for _, account, _, _, _ in drafts)
    posts_by_author = Counter(str(author) for _, _, author, _, _ in drafts)
    for segment, reason in rejected:
        _tally(tallies, segment).rejected[_reason(reason)] += 1
    total = _Tally(target=None)
    for tally in tallies.values():
        total.add(tally)
    return Report(
        brand=config.brand,
        window=win,
        segments={name: t.figures() for name, t in tallies.items()},
        total=total.figures(),
        posts_by_account=dict(posts_by_account.most_common()),
        posts_by_author=dict(posts_by_author.most_common()),
        around_brandbot_by_account=dict(_accounts(after for (after,) in around).most_common()),
        reads=_reads(reads, config.x_prices),
        reads_days=(first_day, last_day),
        x_month=x_month,
        volume_edges=edges,
        volume=volume,
        response_times={name: list(t.response) for name, t in tallies.items()},
    )


def _tally(tallies: dict[str, _Tally], segment: str) -> _Tally:
    return tallies.setdefault(segment, _Tally(target=None))


def _count(tally: _Tally, m: Any, win: Window, next_message: dict[str, float]) -> None:
    """One mention (a row of the mention query) into its segment's tally."""
    tweeted: datetime = m.tweeted_at
    replied: datetime | None = m.replied_at
    closed: datetime | None = m.closed_at
    state: str = m.state
    tally.mentions += 1
    tally.moods.append(float(m.sentiment))
    if m.claimed_at is not None:
        tally.claimed += 1
    if replied is not None:
        tally.replied += 1
        tally.replied_on_x += m.replied_via == "x"
        tally.response.append(max(0.0, (replied - tweeted).total_seconds()))
        after = next_message.get(str(m.id))
        if after is not None:
            tally.pairs.append((float(m.sentiment), after))
    if state == MentionState.RESOLVED:
        tally.resolved += 1
        tally.resolved_without_reply += replied is None
        if closed is not None:
            tally.resolve.append(max(0.0, (closed - tweeted).total_seconds()))
    elif state == MentionState.DISMISSED:
        tally.dismissed += 1
        tally.reasons[_reason(m.dismiss_reason)] += 1
    closed_first = closed if state in _CLOSED else None
    handled = min((t for t in (replied, closed_first) if t is not None), default=None)
    if handled is None:
        tally.open += 1
    if tally.target is not None:
        deadline = tweeted.timestamp() + tally.target
        if handled is not None and handled.timestamp() <= deadline:
            tally.within += 1
        elif handled is not None or win.end.timestamp() > deadline:
            tally.missed += 1
        else:
            tally.pending += 1
    for tag in json.loads(m.tags or "[]"):
        tally.tags[str(tag)] += 1


def _reason(text: str | None) -> str:
    reason = (text or "").strip().splitlines()[0:1]
    return (reason[0][:80] if reason else "") or "(no reason)"


def _bucket(edges: list[datetime], at: datetime) -> int:
    low, high = 0, len(edges) - 2
    while low < high:  # the last bar whose start is at or before `at`
        mid = (low + high + 1) // 2
        if edges[mid] <= at:
            low = mid
        else:
            high = mid - 1
    return low


def _accounts(afters: Iterable[str | None]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for after in afters:
        try:
            account = json.loads(after or "{}").get("account")
        except (ValueError, AttributeError):
            account = None
        counts[str(account or "?")] += 1
    return counts


def _reads(rows: Iterable[tuple[str, int, int]], prices: XPrices) -> dict[str, EndpointReads]:
    out: dict[str, EndpointReads] = {}
    by_endpoint: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for endpoint, requests, resources in rows:
        by_endpoint[str(endpoint)][0] += int(requests or 0)
        by_endpoint[str(endpoint)][1] += int(resources or 0)
    for endpoint, (requests, resources) in sorted(by_endpoint.items()):
        cost = cost_usd(endpoint, resources, prices)
        out[endpoint] = EndpointReads(requests, resources, price_kind(endpoint), cost)
    return out
