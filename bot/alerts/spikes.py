"""Crisis spike alerts: after every poll, each account's last minutes of mentions against what is
normal at that time (`policies/spike.py`); a storm posts one alert in the alert channel, whose
**Freeze scheduled posts** button freezes publishing like `/brand freeze all`.

Counting is by the tweet's own time on X, in one indexed query per account and pass (the
window, the baseline days and the recent hours as buckets of one GROUP BY). A storm is one
`spike_alert` row: opening it is an INSERT that the unique `open_for` lets only one process win,
and the alert is queued in the outbox in that same transaction, so two pollers or two passes
never post two alerts for one storm. Its end is a conditional UPDATE that clears `open_for`; the
next storm opens a new row and alerts again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn

from sqlalchemy import (
    CompoundSelect,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.clock import iso
from bot.core.context import ServiceContext
from bot.core.db import insert_ignoring_conflicts, rowcount, table_of
from bot.core.guard import Checkpoint
from bot.core.models import Freeze, Mention, SlackMessage, SpikeAlert
from bot.freeze.gate import active_freeze
from bot.freeze.service import FreezeService, OnTheirWay
from bot.slack.cards.mention_card import escape
from bot.slack.clicks import Click
from policies import permissions
from policies.spike import (
    Baseline,
    Counts,
    Decision,
    Levels,
    Span,
    Storm,
    Thresholds,
    Verdict,
    baseline,
    baseline_spans,
    decide,
    recent_span,
    usable,
    window_span,
)
from policies.spike_terms import top_terms

log = logging.getLogger(__name__)

SPIKE_ALERT = "spike_alert"  # outbox kind: the one message a storm posts
EXAMPLES = 5
TERMS = 5
TEXTS_FOR_TERMS = 500  # the window's most negative tweets the top terms are read from


@dataclass(frozen=True)
class Measured:
    """One account's counts as the detector needs them."""

    counts: Counts
    base: Baseline
    storm: SpikeAlert | None


@dataclass(frozen=True)
class FrozenFromAlert:
    """What the Freeze button did: the freeze, and the posts already on their way to X."""

    freeze: Freeze
    on_their_way: OnTheirWay


class SpikeService:
    def __init__(self, ctx: ServiceContext, *, freeze: FreezeService) -> None:
        self._ctx = ctx
        self._freeze = freeze

    # -- the detector, after every poll ------------------------------------------------------

    def check(self, _polled: object = None) -> list[SpikeAlert]:
        """Run the detector for every account; return the spikes this pass opened."""
        config = self._ctx.segments.config
        settings = config.alerts.spike
        if not settings.enabled:
            return []
        thresholds = Thresholds(
            window_minutes=settings.window_minutes,
            baseline_days=settings.baseline_days,
            factor=settings.factor,
            min_negative=settings.min_negative,
            min_mentions=settings.min_mentions,
        )
        now = self._ctx.clock.now()
        opened, changed = [], False
        handles = [a.handle for a in config.accounts]
        measured_all = self.measure(handles, now, thresholds, settings.negative_below)
        for handle in handles:
            measured = measured_all[handle]
            storm = measured.storm
            decision = decide(
                now=now,
                counts=measured.counts,
                base=measured.base,
                thresholds=thresholds,
                storm=_storm(storm) if storm else None,
            )
            if decision.verdict == Verdict.FIRE:
                spike = self._open(handle, now, thresholds, measured, decision)
                if spike is not None:
                    opened.append(spike)
                    changed = True
            elif storm is not None and decision.verdict == Verdict.RAGING:
                self._still_raging(storm, now, measured.counts)
            elif storm is not None and decision.verdict == Verdict.ENDED:
                changed |= self._end(storm, now)
        if changed:
            self._ctx.hooks.cards_changed()
        return opened

    def measure(
        self, accounts: list[str], now: datetime, thresholds: Thresholds, negative_below: float
    ) -> dict[str, Measured]:
        """Each account's window, baseline and open storm, read in one transaction of three
        statements, however many accounts there are."""
        window = window_span(now, thresholds)
        days = baseline_spans(now, thresholds, self._ctx.segments.config.time_zone)
        recent = recent_span(now, thresholds)
        spans = [window, recent, *days]
        earliest = min(s.start for s in spans)
        with self._ctx.transaction(read_only=True) as session:
            buckets = _bucket_counts(session, accounts, spans, negative_below)
            history = _history_starts(session, accounts)
            spikes = session.scalars(
                select(SpikeAlert).where(
                    col(SpikeAlert.account).in_(accounts),
                    or_(col(SpikeAlert.ended_at).is_(None), col(SpikeAlert.ended_at) > earliest),
                )
            ).all()
        measured = {}
        for account in accounts:
            mine = [s for s in spikes if s.account == account]
            storms = [Span(s.started_at, s.ended_at or now) for s in mine]
            counts = buckets[account]
            fits = {
                i: usable(span, history_from=history[account], storms=storms)
                for i, span in enumerate(spans)
            }
            usable_days = [counts[i] for i in range(2, len(spans)) if fits[i]]
            measured[account] = Measured(
                counts=counts[0],
                base=baseline(usable_days, thresholds, recent=counts[1] if fits[1] else None),
                storm=next((s for s in mine if s.open_for is not None), None),
            )
        return measured

    def _open(
        self,
        account: str,
        now: datetime,
        thresholds: Thresholds,
        measured: Measured,
        decision: Decision,
    ) -> SpikeAlert | None:
        """Open the storm and queue its alert, once across every process."""
        config = self._ctx.segments.config
        window = window_span(now, thresholds)
        with self._ctx.transaction() as session:
            negative, others = _window_mentions(
                session, account, window, config.alerts.spike.negative_below
            )
            own = [config.brand, *(a.handle for a in config.accounts)]
            texts = (
                [m.text for m in negative]
                if len(negative) >= 3
                else [m.text for m in negative + others]
            )
            counts, base, levels = measured.counts, measured.base, decision.levels
            row = {
                "account": account,
                "open_for": account,
                "started_at": now,
                "last_hot_at": now,
                "trigger": decision.trigger,
                "window_minutes": thresholds.window_minutes,
                "negative": counts.negative,
                "mentions": counts.mentions,
                "negative_baseline": base.negative,
                "mentions_baseline": base.mentions,
                "baseline_days": base.days,
                "negative_level": levels.negative,
                "mentions_level": levels.mentions,
                "peak_negative": counts.negative,
                "peak_mentions": counts.mentions,
                "terms": json.dumps(top_terms(texts, own_names=own, limit=TERMS)),
                "examples": json.dumps([m.id for m in _examples(negative, others)]),
            }
            stmt = insert_ignoring_conflicts(self._ctx.engine, table_of(SpikeAlert)).returning(
                col(SpikeAlert.id)
            )
            spike_id = session.execute(stmt, [row]).scalar()
            if spike_id is None:
                return None  # another process opened this storm first: its alert is queued
            channel = config.alert_channel
            ids = outbox.enqueue(
                session, [outbox.NewMessage(SPIKE_ALERT, str(spike_id), channel)], now=now
            )
            spike = session.get(SpikeAlert, spike_id)
            assert spike is not None
            spike.card_id = ids[str(spike_id)]
            session.add(spike)
            audit.record(
                session,
                actor=audit.SYSTEM,
                action="spike.alert",
                subject=f"account:{account}",
                at=now,
                after={
                    "spike": spike_id,
                    "trigger": decision.trigger,
                    "window_minutes": thresholds.window_minutes,
                    "negative": counts.negative,
                    "mentions": counts.mentions,
                    "negative_baseline": round(base.negative, 2),
                    "mentions_baseline": round(base.mentions, 2),
                    "baseline_days": base.days,
                    "channel": channel,
                },
            )
        log.warning(
            "spike of mentions of @%s: %d negative, %d in all (%s)",
            account,
            counts.negative,
            counts.mentions,
            decision.trigger,
        )
        return spike

    def _still_raging(self, storm: SpikeAlert, now: datetime, counts: Counts) -> None:
        with self._ctx.transaction() as session:
            session.execute(
                update(SpikeAlert)
                .where(col(SpikeAlert.id) == storm.id, col(SpikeAlert.open_for).is_not(None))
                .values(
                    last_hot_at=now,
                    peak_negative=max(storm.peak_negative, counts.negative),
                    peak_mentions=max(storm.peak_mentions, counts.mentions),
                )
            )

    def _end(self, storm: SpikeAlert, now: datetime) -> bool:
        """The storm calmed down: once (a conditional UPDATE), the alert says so."""
        with self._ctx.transaction() as session:
            ended = session.execute(
                update(SpikeAlert)
                .where(col(SpikeAlert.id) == storm.id, col(SpikeAlert.open_for).is_not(None))
                .values(open_for=None, ended_at=now)
            )
            if rowcount(ended) != 1:
                return False
            outbox.mark_changed(session, storm.card_id, now=now)
            audit.record(
                session,
                actor=audit.SYSTEM,
                action="spike.ended",
                subject=f"account:{storm.account}",
                at=now,
                after={
                    "spike": storm.id,
                    "started_at": iso(storm.started_at),
                    "peak_negative": storm.peak_negative,
                    "peak_mentions": storm.peak_mentions,
                },
            )
        return True

    # -- the alert's Freeze button -----------------------------------------------------------

    def freeze(self, click: Click) -> FrozenFromAlert | str:
        """Freeze publishing for every account from a spike alert (admins). A second click, or a
        freeze of every account already in force, changes nothing and says so."""
        spike = self._locate(click)
        check = Checkpoint(
            self._ctx, click.person, click.channel, "spike", f"spike:{spike.id}", "freeze"
        )
        check.require(permissions.may_freeze(is_admin=check.is_admin()))
        if spike.freeze_id is not None:
            return _already(spike)
        with self._ctx.transaction(read_only=True) as session:
            in_force = active_freeze(session, "all", self._ctx.clock.now())
        if in_force is not None and in_force.scope == "all":
            return (
                f"Publishing is already frozen for every account (by "
                f"{escape(in_force.frozen_by_name)}: {escape(in_force.reason)})."
            )
        reason = (
            f"spike alert on @{spike.account}: {spike.negative} negative mentions in "
            f"{spike.window_minutes} minutes"
        )
        actor = self._ctx.actor(click.person)  # asks Slack: outside the transaction

        def claim(session: Session, freeze: Freeze) -> bool:
            """Only the first click freezes: the alert records its freeze, once."""
            taken = session.execute(
                update(SpikeAlert)
                .where(col(SpikeAlert.id) == spike.id, col(SpikeAlert.freeze_id).is_(None))
                .values(
                    freeze_id=freeze.id,
                    frozen_by=actor.id,
                    frozen_by_name=actor.name,
                    frozen_at=freeze.frozen_at,
                )
            )
            if rowcount(taken) != 1:
                return False
            outbox.mark_changed(session, spike.card_id, now=freeze.frozen_at)
            return True

        frozen = self._freeze.freeze_once(
            person=click.person, scope="all", reason=reason, channel=click.channel, claim=claim
        )
        if frozen is None:
            return _already(self._spike(spike.id))
        return FrozenFromAlert(frozen, self._freeze.posts_on_their_way(frozen))

    def _locate(self, click: Click) -> SpikeAlert:
        with self._ctx.transaction(read_only=True) as session:
            message = self._ctx.card_at(session, SPIKE_ALERT, click)
            spike = _spike_of(session, message)
        if spike is None:
            self._refuse(click, "unknown", "That message isn't one of my spike alerts.")
        if click.value is not None and click.value != str(spike.id):
            self._refuse(click, str(spike.id), "That button doesn't match its message.")
        return spike

    def _spike(self, spike_id: int | None) -> SpikeAlert:
        with self._ctx.transaction(read_only=True) as session:
            spike = session.get(SpikeAlert, spike_id)
            assert spike is not None
            return spike

    def _refuse(self, click: Click, spike: str, reason: str) -> NoReturn:
        Checkpoint(
            self._ctx, click.person, click.channel, "spike", f"spike:{spike}", "freeze"
        ).refuse(reason)


def _storm(spike: SpikeAlert) -> Storm:
    return Storm(
        spike.started_at,
        spike.last_hot_at,
        Levels(negative=spike.negative_level, mentions=spike.mentions_level),
    )


def _already(spike: SpikeAlert) -> str:
    when = f"{spike.frozen_at:%H:%M} UTC" if spike.frozen_at else "earlier"
    return (
        f"{escape(spike.frozen_by_name or 'Someone')} already froze publishing from this alert "
        f"({when}). `/brand unfreeze` lifts it."
    )


def _spike_of(session: Session, message: SlackMessage | None) -> SpikeAlert | None:
    if message is None or not message.subject_id.isdigit():
        return None
    return session.get(SpikeAlert, int(message.subject_id))


def _bucket_counts(
    session: Session, accounts: list[str], spans: Sequence[Span], negative_below: float
) -> dict[str, list[Counts]]:
    """Each account's (negative, all) mentions tweeted in each span, in one statement."""
    params: dict[str, object] = {"accounts": accounts, "negative_below": negative_below}
    for i, span in enumerate(spans):
        params |= {f"start_{i}": span.start, f"end_{i}": span.end}
    found: dict[tuple[str, int], Counts] = {
        (str(account), int(b)): Counts(int(n or 0), int(m or 0))
        for account, b, m, n in session.execute(_bucket_statement(len(spans)), params)
    }
    return {a: [found.get((a, i), Counts(0, 0)) for i in range(len(spans))] for a in accounts}


@lru_cache(maxsize=8)
def _bucket_statement(spans: int) -> CompoundSelect[Any]:
    """A UNION ALL of one range scan per span of the covering index on (account, tweeted_at,
    sentiment); built once (it runs after every poll), bound per call."""
    account, tweeted = col(Mention.account), col(Mention.tweeted_at)
    negative = func.sum(case((col(Mention.sentiment) < bindparam("negative_below"), 1), else_=0))
    parts = [
        select(account, literal(i).label("bucket"), func.count().label("mentions"), negative)
        .where(
            account.in_(bindparam("accounts", expanding=True)),
            tweeted >= bindparam(f"start_{i}"),
            tweeted < bindparam(f"end_{i}"),
        )
        .group_by(account)
        for i in range(spans)
    ]
    return union_all(*parts)


def _history_starts(session: Session, accounts: list[str]) -> dict[str, datetime | None]:
    """When each account's history in brandbot begins: its oldest mention by tweet time (one
    index probe each)."""
    firsts = [
        select(func.min(col(Mention.tweeted_at)))
        .where(col(Mention.account) == account)
        .scalar_subquery()
        for account in accounts
    ]
    row = session.execute(select(*firsts)).one()
    return dict(zip(accounts, row, strict=True))


def _window_mentions(
    session: Session, account: str, window: Span, negative_below: float
) -> tuple[list[Mention], list[Mention]]:
    """The window's negative mentions (most negative first) and a few of its newest others."""
    in_window = and_(
        col(Mention.account) == account,
        col(Mention.tweeted_at) >= window.start,
        col(Mention.tweeted_at) < window.end,
    )
    negative = session.scalars(
        select(Mention)
        .where(in_window, col(Mention.sentiment) < negative_below)
        .order_by(col(Mention.sentiment), col(Mention.tweeted_at).desc())
        .limit(TEXTS_FOR_TERMS)
    ).all()
    others = session.scalars(
        select(Mention)
        .where(in_window, col(Mention.sentiment) >= negative_below)
        .order_by(col(Mention.tweeted_at).desc())
        .limit(TEXTS_FOR_TERMS)
    ).all()
    return list(negative), list(others)


def _examples(negative: list[Mention], others: list[Mention]) -> list[Mention]:
    """Five tweets that show the storm: the most negative, one per author; topped up with the
    newest others when a storm of volume has few negative ones."""
    chosen: list[Mention] = []
    authors: set[str] = set()
    for mention in [*negative, *others]:
        if mention.author_id in authors:
            continue
        chosen.append(mention)
        authors.add(mention.author_id)
        if len(chosen) == EXAMPLES:
            break
    return chosen
