"""Surge summaries: when a channel holds more unsent mention cards than Slack's pace could deliver
within `surge.max_wait_seconds`, one summary card stands for them (policies/surge.py decides).

Folding runs before each outbox pass, outside any transaction, and makes no Slack call: in one
transaction it retires the channel's unsent mention cards (a conditional UPDATE of rows nobody has
leased or may have posted), links each mention to the surge, and marks the summary for an update
in place. A card is therefore either posted or summarised, never both; and a mention is in one
summary at most (the link's primary key). Show next 10 and Claim next give mentions new cards in
the summary's thread, where claim and reply work as on any card (MentionService)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.context import ServiceContext
from bot.core.db import insert_ignoring_conflicts, row_id, rowcount, table_of, transaction
from bot.core.errors import ActionRefused
from bot.core.guard import Checkpoint
from bot.core.models import Mention, MentionState, SlackMessage, Surge, SurgeMention
from bot.mentions.service import MENTION_CARD, MentionService
from bot.slack.cards.surge_summary import SHOW_BATCH, SurgeLine
from bot.slack.clicks import Click, Person
from bot.slack.directory import SLACK_UNAVAILABLE, DirectoryUnavailable
from policies import permissions
from policies.permissions import Actor
from policies.surge import SurgeStep, next_step, threshold

log = logging.getLogger(__name__)

SURGE_SUMMARY = "surge_summary"
FOLDED_CARD = "folded_card"  # a mention card retired by a fold: never sent, kept for its id
CHUNK = 500  # ids per statement: a storm folds thousands at once
CLAIM_TRIES = 20  # Claim next moves on to the next mention when someone was faster
SHOWN_ON_HOME = 5
REFRESH_SECONDS = 3  # a growing summary is redrawn at most this often
NOT_MINE = "That summary isn't one of mine; nothing was changed."


def _chunks(items: list[str] | list[int]) -> list[list[str] | list[int]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


class SurgeService:
    def __init__(self, ctx: ServiceContext, *, mentions: MentionService) -> None:
        self._ctx = ctx
        self._mentions = mentions

    # -- folding (the outbox's before_pass hook) ---------------------------------------------

    def before_pass(self) -> None:
        """The outbox's hook: fold before anything of this pass is sent."""
        self.fold()

    def after_poll(self, results: object) -> None:
        """The ingestor's hook: fold what the poll queued, end a surge the poll found quiet."""
        self.fold()

    def fold(self) -> int:
        """Open, grow or end each channel's surge; return how many cards were folded."""
        config = self._ctx.segments.config
        settings = config.surge
        limit = threshold(
            max_wait_seconds=settings.max_wait_seconds,
            messages_per_second=config.slack_pacing.messages_per_second,
        )
        now = self._ctx.clock.now()
        since = now - timedelta(seconds=settings.max_wait_seconds)
        with transaction(self._ctx.engine, read_only=True) as session:
            backlog: dict[str, int] = {
                channel: count
                for channel, count in session.execute(
                    select(col(SlackMessage.channel), func.count())
                    .where(_foldable(now))
                    .group_by(col(SlackMessage.channel))
                )
            }
            surges = {
                s.channel: s
                for s in session.scalars(select(Surge).where(col(Surge.open_for).is_not(None)))
            }
            recent: dict[int, int] = {
                surge_id: count
                for surge_id, count in session.execute(
                    select(col(SurgeMention.surge_id), func.count())
                    .where(
                        col(SurgeMention.surge_id).in_([s.id for s in surges.values()]),
                        col(SurgeMention.folded_at) >= since,
                    )
                    .group_by(col(SurgeMention.surge_id))
                )
            }
        folded = 0
        for channel in sorted(set(backlog) | set(surges)):
            surge = surges.get(channel)
            step = (
                SurgeStep.END
                if not settings.enabled and surge is not None
                else next_step(
                    surging=surge is not None,
                    backlog=backlog.get(channel, 0),
                    recent=recent.get(surge.id, 0) if surge and surge.id else 0,
                    limit=limit,
                )
            )
            if step == SurgeStep.OPEN and not settings.enabled:
                continue
            try:
                if step in (SurgeStep.OPEN, SurgeStep.FOLD):
                    folded += self._fold_channel(channel, now)
                elif step == SurgeStep.END and surge is not None:
                    self._end(surge, now)
            except IntegrityError:  # another replica opened this channel's surge first
                log.info("surge for %s opened elsewhere; folding next pass", channel)
        return folded

    def _fold_channel(self, channel: str, now: datetime) -> int:
        with transaction(self._ctx.engine) as session:
            surge = session.scalars(select(Surge).where(col(Surge.open_for) == channel)).first()
            opened = surge is None
            if surge is None:
                surge = Surge(channel=channel, open_for=channel, started_at=now, last_folded_at=now)
                session.add(surge)
                session.flush()
                assert surge.id is not None
                summary = outbox.NewMessage(
                    kind=SURGE_SUMMARY, subject_id=str(surge.id), channel=channel
                )
                surge.card_id = outbox.enqueue(session, [summary], now=now)[str(surge.id)]
            assert surge.id is not None and surge.card_id is not None
            # Only what is not in Slack and nobody is sending: a leased card may be on its way,
            # one whose outcome is unknown may be there already. Those are posted as cards.
            # Retired, not deleted: SQLite reuses the highest deleted ids, and an outbox pass
            # holding the old ids would then lease and post the new cards behind the fold.
            # Threaded under the summary: a message a concurrent writer queues under a retired
            # card after this commits is sent there by the outbox (which follows a root that
            # will never be posted), rather than waiting for it forever.
            retired = session.execute(
                update(SlackMessage)
                .where(col(SlackMessage.channel) == channel, _foldable(now))
                .values(kind=FOLDED_CARD, pending=False, thread_root_id=surge.card_id)
                .returning(col(SlackMessage.id), col(SlackMessage.subject_id))
                .execution_options(synchronize_session=False)
            ).all()
            if not retired and not opened:
                return 0
            card_ids = [card_id for card_id, _ in retired]
            mention_ids = [mention_id for _, mention_id in retired]
            links = insert_ignoring_conflicts(self._ctx.engine, table_of(SurgeMention))
            for ids in _chunks(mention_ids):
                session.execute(
                    links,
                    [{"mention_id": m, "surge_id": surge.id, "folded_at": now} for m in ids],
                )
            for ids in _chunks(card_ids):
                session.execute(
                    update(Mention)
                    .where(col(Mention.card_id).in_(ids))
                    .values(card_id=None, version=col(Mention.version) + 1)
                    .execution_options(synchronize_session=False)
                )
                # A reminder, note or follow-up waiting under a retired card goes in the
                # summary's thread instead.
                session.execute(
                    update(SlackMessage)
                    .where(col(SlackMessage.thread_root_id).in_(ids))
                    .values(thread_root_id=surge.card_id)
                    .execution_options(synchronize_session=False)
                )
            # Added in SQL, not from the row read above: another replica may have folded other
            # cards into this surge since (PostgreSQL reads committed rows per statement).
            total = session.execute(
                update(Surge)
                .where(col(Surge.id) == surge.id)
                .values(mentions=col(Surge.mentions) + len(retired), last_folded_at=now)
                .returning(col(Surge.mentions))
                .execution_options(synchronize_session=False)
            ).scalar_one()
            before = total - len(retired)
            _grown(session, surge.card_id, now=now)
            audit.record(
                session,
                actor=audit.SYSTEM,
                action="surge.opened" if opened else "surge.folded",
                subject=f"surge:{surge.id}",
                at=now,
                before={"mentions": before},
                after={"channel": channel, "mentions": total, "folded": len(retired)},
            )
        self._ctx.hooks.cards_changed()  # the summary, and every App Home listing surges
        return len(retired)

    def _end(self, surge: Surge, now: datetime) -> None:
        with transaction(self._ctx.engine) as session:
            ended = session.execute(
                update(Surge)
                .where(col(Surge.id) == surge.id, col(Surge.open_for).is_not(None))
                .values(open_for=None, ended_at=now)
            )
            if rowcount(ended) != 1:
                return
            outbox.mark_changed(session, surge.card_id, now=now)
            audit.record(
                session,
                actor=audit.SYSTEM,
                action="surge.ended",
                subject=f"surge:{surge.id}",
                at=now,
                after={"channel": surge.channel, "mentions": surge.mentions},
            )
        self._ctx.hooks.cards_changed()

    # -- the summary's buttons ---------------------------------------------------------------

    def show_next(self, click: Click) -> str:
        """Post the next ten of the surge's mentions not in its thread yet, oldest first."""
        surge, summary = self._located(click, "show_next")
        check = self._checkpoint(click.person, click.channel, surge, "show_next")
        check.require(permissions.may_show_surge_cards(actor=self._channel_actor(check, surge)))
        now = self._ctx.clock.now()
        shown: list[str] = []
        for _ in range(CLAIM_TRIES):  # someone showing the same ones at once: the next ones
            with self._ctx.transaction() as session:
                next_ids = list(
                    session.scalars(
                        select(col(Mention.id))
                        .join(SurgeMention, col(SurgeMention.mention_id) == col(Mention.id))
                        .where(
                            col(SurgeMention.surge_id) == surge.id,
                            col(SurgeMention.shown_at).is_(None),
                        )
                        .order_by(col(Mention.tweeted_at), col(Mention.id))
                        .limit(SHOW_BATCH - len(shown))
                    )
                )
                shown += self._show(session, surge, summary, next_ids, now)
            if not next_ids or len(shown) >= SHOW_BATCH:
                break
        if not shown:
            return "Every mention of this surge is in its thread already."
        self._ctx.hooks.cards_changed()
        return f"Posting the next {len(shown)} in this summary's thread, oldest first."

    def claim_next(self, click: Click) -> str:
        """Claim the oldest mention of the surge nobody has claimed, for the clicker."""
        surge, summary = self._located(click, "claim_next")
        return self._claim_next(click, surge, summary)

    def claim_next_from_home(self, person: Person, value: str | None) -> str:
        """Claim next from the App Home: the surge by its id, acting on its summary."""
        surge_id = value or ""
        with self._ctx.transaction() as session:
            number = row_id(surge_id)
            surge = session.get(Surge, number) if number is not None else None
            summary = session.get(SlackMessage, surge.card_id) if surge and surge.card_id else None
        if surge is None or summary is None:
            Checkpoint(
                self._ctx, person, "app_home", "surge", f"surge:{surge_id[:20]}", "claim_next"
            ).refuse(NOT_MINE)
        assert surge is not None and summary is not None
        if summary.ts is None:
            raise ActionRefused("Its summary isn't in Slack yet; try again in a moment.")
        # Checked as on its summary, which only someone in its channel can click: every App
        # Home lists the surges, and a segment naming no responders lets anyone in its channel
        # claim, not anyone in the workspace. Fail closed when Slack can't say.
        check = self._checkpoint(person, "app_home", surge, "claim_next")
        if not check.is_admin():
            try:
                member = person.user_id in self._ctx.directory.channel_members(summary.channel)
            except DirectoryUnavailable:
                check.refuse(SLACK_UNAVAILABLE)
            if not member:
                check.refuse(f"Only members of <#{summary.channel}> can claim its mentions.")
        click = Click(person, summary.channel, summary.ts, action_id="claim_next")
        return self._claim_next(click, surge, summary)

    def _claim_next(self, click: Click, surge: Surge, summary: SlackMessage) -> str:
        passed: set[str] = set()
        waiting = and_(
            col(SurgeMention.surge_id) == surge.id,
            col(Mention.state) == MentionState.OPEN,
            col(Mention.claimed_by).is_(None),
        )
        # A surge may hold mentions of segments the clicker doesn't answer for (two segments
        # sharing a channel, a mention rerouted from the summary's thread): skip those rather
        # than refuse while theirs wait. None they may claim: the oldest is refused, as before.
        mine = self._claimable_segments(click, surge, waiting)
        if mine:
            waiting = and_(waiting, col(Mention.segment).in_(mine))
        for _ in range(CLAIM_TRIES):
            now = self._ctx.clock.now()
            with self._ctx.transaction() as session:
                mention = session.scalars(
                    select(Mention)
                    .join(SurgeMention, col(SurgeMention.mention_id) == col(Mention.id))
                    .where(waiting, col(Mention.id).not_in(passed))
                    .order_by(col(Mention.tweeted_at), col(Mention.id))
                    .limit(1)
                ).first()
            if mention is None:
                raise ActionRefused(
                    "Nobody is waiting: every mention of this surge is claimed or closed."
                )
            # Refused before its card is shown: a refusal changes nothing.
            self._mentions.permit(click, "claim", mention)
            if mention.card_id is None:
                with self._ctx.transaction() as session:
                    self._show(session, surge, summary, [mention.id], now)
            if self._mentions.claim_if_free(click, mention.id):
                return (
                    f"You claimed @{mention.author_handle}'s mention ({mention.url}); its card is "
                    "in the summary's thread, where you can reply."
                )
            passed.add(mention.id)  # someone was faster: the next one
        raise ActionRefused("Everyone is claiming at once; try again in a moment.")

    def _claimable_segments(
        self, click: Click, surge: Surge, waiting: ColumnElement[bool]
    ) -> list[str]:
        """The segments of the surge's waiting mentions the clicker may claim in."""
        with self._ctx.transaction(read_only=True) as session:
            segments = list(
                session.scalars(
                    select(col(Mention.segment))
                    .join(SurgeMention, col(SurgeMention.mention_id) == col(Mention.id))
                    .where(waiting)
                    .distinct()
                )
            )
        check = self._checkpoint(click.person, click.channel, surge, "claim_next")
        return [
            segment
            for segment in sorted(segments)
            if permissions.may_act_on_mention(
                "claim", actor=check.segment_actor(segment), claimed_by=None
            ).allowed
        ]

    def _show(
        self,
        session: Session,
        surge: Surge,
        summary: SlackMessage,
        mention_ids: list[str],
        now: datetime,
    ) -> list[str]:
        """Give these mentions cards in the summary's thread, each once (a conditional UPDATE
        of `shown_at`: two clicks at once never post a card twice)."""
        if not mention_ids:
            return []
        taken = set(
            session.scalars(
                update(SurgeMention)
                .where(
                    col(SurgeMention.mention_id).in_(mention_ids),
                    col(SurgeMention.surge_id) == surge.id,
                    col(SurgeMention.shown_at).is_(None),
                )
                .values(shown_at=now)
                .returning(col(SurgeMention.mention_id))
                .execution_options(synchronize_session=False)
            )
        )
        mentions = {
            m.id: m for m in session.scalars(select(Mention).where(col(Mention.id).in_(taken)))
        }
        ordered = [mentions[m] for m in mention_ids if m in mentions]
        cards = outbox.enqueue(
            session,
            [
                outbox.NewMessage(
                    kind=MENTION_CARD,
                    subject_id=m.id,
                    channel=summary.channel,
                    thread_root_id=summary.id,
                    conversation_key=m.conversation_id,
                )
                for m in ordered
            ],
            now=now,
        )
        for mention_id, card_id in cards.items():
            session.execute(
                update(Mention)
                .where(col(Mention.id) == mention_id, col(Mention.card_id).is_(None))
                .values(card_id=card_id)
                .execution_options(synchronize_session=False)
            )
        outbox.mark_changed(session, summary.id, now=now)  # its "in the thread" count
        return [m.id for m in ordered]

    def _located(self, click: Click, action: str) -> tuple[Surge, SlackMessage]:
        with self._ctx.transaction() as session:
            summary = self._ctx.card_at(session, SURGE_SUMMARY, click)
            surge = session.get(Surge, int(summary.subject_id)) if summary else None
        if summary is None or surge is None:
            Checkpoint(
                self._ctx, click.person, click.channel, "surge", "surge:unknown", action
            ).refuse(NOT_MINE)
        assert summary is not None and surge is not None
        if click.value is not None and click.value != str(surge.id):
            self._checkpoint(click.person, click.channel, surge, action).refuse(
                "That button doesn't match its card; nothing was changed."
            )
        return surge, summary

    def _checkpoint(self, person: Person, channel: str, surge: Surge, action: str) -> Checkpoint:
        return Checkpoint(self._ctx, person, channel, "surge", f"surge:{surge.id}", action)

    def _channel_actor(self, check: Checkpoint, surge: Surge) -> Actor:
        """The person as the rules of the segments this channel serves see them: a responder of
        any of them counts."""
        config = self._ctx.segments.config
        served = [n for n, s in config.segments.items() if s.channel == surge.channel]
        actors = [check.segment_actor(n) for n in served]
        return Actor(
            check.person.user_id,
            is_admin=any(a.is_admin for a in actors) or (not actors and check.is_admin()),
            is_responder=any(a.is_responder for a in actors),
        )


def _grown(session: Session, summary_id: int, *, now: datetime) -> None:
    """The summary must show more: redrawn at most every REFRESH_SECONDS once it is in Slack
    (chat.update is Tier 3, about 50 a minute; a storm folds on every outbox pass), at once
    before that. An update already waiting keeps its time, so a steady storm still shows."""
    session.execute(
        update(SlackMessage)
        .where(col(SlackMessage.id) == summary_id)
        .values(
            revision=col(SlackMessage.revision) + 1,
            due_at=case(
                (col(SlackMessage.pending), col(SlackMessage.due_at)),
                (col(SlackMessage.ts).is_(None), now),
                else_=now + timedelta(seconds=REFRESH_SECONDS),
            ),
            pending=True,
        )
    )


def surges_waiting(session: Session) -> list[SurgeLine]:
    """Surges with mentions nobody has claimed, newest first (in the caller's read): the App
    Home lists them with Claim next, so every surge mention is reachable from there too."""
    waiting = (
        select(col(SurgeMention.surge_id), func.count().label("waiting"))
        .join(Mention, col(Mention.id) == col(SurgeMention.mention_id))
        .where(col(Mention.state) == MentionState.OPEN, col(Mention.claimed_by).is_(None))
        .group_by(col(SurgeMention.surge_id))
        .subquery()
    )
    rows = session.execute(
        select(Surge, waiting.c.waiting)
        .join(waiting, waiting.c.surge_id == col(Surge.id))
        .order_by(col(Surge.id).desc())
        .limit(SHOWN_ON_HOME)
    ).all()
    return [SurgeLine(surge, int(count)) for surge, count in rows]


def _foldable(now: datetime) -> ColumnElement[bool]:
    """Unsent mention cards a fold may retire: not in Slack, not possibly in Slack, not being
    sent, and of a mention no summary holds already (a card shown in a summary's thread)."""
    in_a_summary = exists().where(col(SurgeMention.mention_id) == col(SlackMessage.subject_id))
    return and_(
        col(SlackMessage.kind) == MENTION_CARD,
        col(SlackMessage.ts).is_(None),
        col(SlackMessage.pending),
        not_(col(SlackMessage.outcome_unknown)),
        or_(col(SlackMessage.lease_until).is_(None), col(SlackMessage.lease_until) < now),
        not_(in_a_summary),
    )
