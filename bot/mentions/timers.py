"""Response targets that nag until someone acts: each mention's timer warns on its card at half
its segment's target, reminds its owner in the card's thread at the target, escalates to the
approvers at twice it and repeats every `remind_every_minutes` (policies/response_schedule.py),
until a reply reaches X, the mention is closed, or someone clicks Acknowledge.

The pass (`ResponseTimers.run_due`) runs in the publisher's loop and touches only the database:
one transaction per due mention re-reads the mention (answered? closed?), claims the step with a
conditional UPDATE on the timer's version — so two processes never both fire it — and queues the
thread message through the outbox, which posts it once. Timers live in `response_timer`, so a
restart picks up where the last process stopped; missed steps collapse into one message.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, not_, select, update
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.context import ServiceContext
from bot.core.db import insert_page, rowcount, skip_locked, table_of
from bot.core.guard import Checkpoint
from bot.core.models import (
    Mention,
    MentionReminder,
    MentionState,
    ResponseTimer,
    SlackMessage,
)
from bot.slack.cards.response_reminder import HERE
from bot.slack.clicks import Click
from policies import permissions
from policies.config import BrandConfig
from policies.response_schedule import MESSAGES, Due, Plan, Step, as_utc, next_due

log = logging.getLogger(__name__)

RESPONSE_REMINDER = "response_reminder"  # the outbox kind of a reminder in a card's thread
REPLAN_EVERY = timedelta(seconds=60)  # also catches a reroute into a segment with other settings
CLOSED = (MentionState.RESOLVED, MentionState.DISMISSED)


def plan_for(config: BrandConfig, segment: str) -> Plan | None:
    """The segment's timer settings now (None: the segment left the config)."""
    settings = config.segments.get(segment)
    if settings is None:
        return None
    return Plan(
        target_minutes=settings.first_response_minutes,
        remind_every_minutes=settings.remind_every_minutes,
        quiet_hours=settings.quiet_hours,
        time_zone=config.time_zone,
    )


def arm(
    session: Session,
    mentions: list[dict[str, Any]],
    *,
    config: BrandConfig,
    now: datetime,
) -> None:
    """The timers of newly stored mentions (ingest's rows), in the caller's transaction: one bulk
    INSERT, idempotent on the mention id."""
    rows = []
    for mention in mentions:
        plan = plan_for(config, mention["segment"])
        due = (
            next_due(
                tweeted_at=mention["tweeted_at"], plan=plan, last=None, last_sent_at=None, now=now
            )
            if plan is not None
            else None
        )
        rows.append(
            {
                "mention_id": mention["id"],
                "step": due.step.value if due else None,
                "due_at": due.at if due else None,
                "last_step": None,
                "last_sent_at": None,
                "reminders": 0,
                "plan": plan.key if plan else "",
                "stopped": None if due else "never",
                "version": 1,
            }
        )
    if rows:
        insert_page(session, table_of(ResponseTimer), rows, ignore_conflicts=True)


def stop_reason(mention: Mention | None, timer: ResponseTimer) -> str | None:
    """Why the timer has nothing more to do, read at fire time (never cached): the mention's first
    reply reached X (through brandbot or natively), it was closed, or someone acknowledged."""
    if mention is None:
        return "gone"
    if mention.replied_at is not None or mention.state == MentionState.REPLIED:
        return "answered"
    if mention.state in CLOSED or mention.closed_at is not None:
        return "closed"
    if timer.acknowledged_at is not None:
        return "acknowledged"
    return None


def owners(mention: Mention, responders: list[str]) -> list[str]:
    """Who a reminder names: the claimer; else whom it was assigned to (asked to take it); else
    the segment's responders; else, a segment naming none, whoever is around in its channel."""
    if mention.claimed_by:
        return [mention.claimed_by]
    if mention.assigned_to:
        return [mention.assigned_to]
    return list(responders) or [HERE]


class ResponseTimers:
    def __init__(self, ctx: ServiceContext, *, batch: int = 100) -> None:
        self._ctx = ctx
        self._batch = batch
        self._planned: tuple[int, datetime] | None = None  # (config revision, when) last replanned

    # -- the pass ----------------------------------------------------------------------------

    def run_due(self) -> int:
        """Fire every step that is due (a publisher timer: database only). Returns how many."""
        now = self._ctx.clock.now()
        try:
            self._replan(now)
        except Exception:  # planning again can wait for the next pass; due steps still fire
            log.exception("re-planning response timers failed")
        with self._ctx.transaction(read_only=True) as session:
            due = list(
                session.scalars(
                    select(col(ResponseTimer.mention_id))
                    .where(col(ResponseTimer.due_at) <= now)
                    .order_by(col(ResponseTimer.due_at))
                    .limit(self._batch)
                )
            )
        fired = 0
        for mention_id in due:
            try:
                fired += self._fire(mention_id, now)
            except Exception:  # this timer stays due; the others, and the publisher, go on
                log.exception("response timer of mention %s failed", mention_id)
        if due:
            self._ctx.hooks.cards_changed()
        return fired

    def _replan(self, now: datetime) -> None:
        """Timers planned under other settings (an admin changed the target, the quiet hours; the
        mention was rerouted) are due now, so the pass plans them again under the current ones.
        On a change of the config's revision, and once a minute."""
        config = self._ctx.segments.config
        revision = self._ctx.segments.revision
        if (
            self._planned is not None
            and self._planned[0] == revision
            and now - self._planned[1] < REPLAN_EVERY
        ):
            return
        with self._ctx.transaction() as session:
            for name in config.segments:
                plan = plan_for(config, name)
                assert plan is not None
                in_segment = select(col(Mention.id)).where(col(Mention.segment) == name)
                session.execute(
                    update(ResponseTimer)
                    .where(
                        col(ResponseTimer.due_at).is_not(None),
                        col(ResponseTimer.due_at) > now,
                        col(ResponseTimer.plan) != plan.key,
                        col(ResponseTimer.mention_id).in_(in_segment),
                    )
                    .values(due_at=now)
                    .execution_options(synchronize_session=False)
                )
            gone = select(col(Mention.id)).where(
                not_(col(Mention.segment).in_(list(config.segments)))
            )
            session.execute(
                update(ResponseTimer)
                .where(col(ResponseTimer.due_at) > now, col(ResponseTimer.mention_id).in_(gone))
                .values(due_at=now)
                .execution_options(synchronize_session=False)
            )
        self._planned = (revision, now)

    def _fire(self, mention_id: str, now: datetime) -> bool:
        """One due timer, in one transaction: stop it, plan it again, or take its step."""
        config = self._ctx.segments.config
        with self._ctx.transaction() as session:
            # Locked by another replica firing it: skip it rather than wait to lose the claim.
            timer = session.scalars(
                skip_locked(
                    select(ResponseTimer).where(col(ResponseTimer.mention_id) == mention_id),
                    self._ctx.engine,
                )
            ).first()
            if timer is None or timer.due_at is None or as_utc(timer.due_at) > now:
                return False  # another process got here first
            mention = session.get(Mention, mention_id)
            plan = plan_for(config, mention.segment) if mention is not None else None
            reason = stop_reason(mention, timer) or (None if plan else "gone")
            if reason is not None or mention is None or plan is None:
                self._stop(session, timer, reason or "gone", now)
                return False
            last = Step(timer.last_step) if timer.last_step else None
            due = next_due(
                tweeted_at=mention.tweeted_at,
                plan=plan,
                last=last,
                last_sent_at=timer.last_sent_at,
                now=now,
            )
            if due is None:
                self._stop(session, timer, "never", now)
                return False
            if due.at > now:  # planned again (new settings, or quiet hours): not yet
                self._claim(
                    session, timer, {"step": due.step.value, "due_at": due.at, "plan": plan.key}
                )
                return False
            return self._take(session, timer, mention, plan, due, now)

    def _take(
        self,
        session: Session,
        timer: ResponseTimer,
        mention: Mention,
        plan: Plan,
        due: Due,
        now: datetime,
    ) -> bool:
        message = due.step in MESSAGES
        sent_at = now if message else timer.last_sent_at
        following = next_due(
            tweeted_at=mention.tweeted_at, plan=plan, last=due.step, last_sent_at=sent_at, now=now
        )
        values: dict[str, Any] = {
            "step": following.step.value if following else None,
            "due_at": following.at if following else None,
            "stopped": None if following else "never",
            "last_step": due.step.value,
            "plan": plan.key,
        }
        if message:
            values |= {"last_sent_at": now, "reminders": col(ResponseTimer.reminders) + 1}
        if not self._claim(session, timer, values):
            return False
        outbox.mark_changed(session, mention.card_id, now=now)  # its state line: warning, overdue
        if message:
            self._remind(session, mention, due.step, plan, now)
        return True

    def _claim(self, session: Session, timer: ResponseTimer, values: dict[str, Any]) -> bool:
        """Move the timer only from the version we read: of two processes, one wins."""
        result = session.execute(
            update(ResponseTimer)
            .where(
                col(ResponseTimer.mention_id) == timer.mention_id,
                col(ResponseTimer.version) == timer.version,
            )
            .values(**values, version=col(ResponseTimer.version) + 1)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    def _stop(self, session: Session, timer: ResponseTimer, reason: str, now: datetime) -> None:
        if self._claim(session, timer, {"step": None, "due_at": None, "stopped": reason}):
            redraw_reminders(session, timer.mention_id, now=now)  # their Acknowledge goes

    def _remind(
        self, session: Session, mention: Mention, step: Step, plan: Plan, now: datetime
    ) -> None:
        segment = self._ctx.segments.config.segments[mention.segment]
        named = owners(mention, list(segment.responders))
        if step != Step.REMIND:  # escalations name the approvers too (the admins, when none)
            named += list(segment.approvers) or list(self._ctx.segments.admins)
        named = list(dict.fromkeys(named))
        reminder = MentionReminder(
            mention_id=mention.id,
            step=step.value,
            notified=json.dumps(named),
            target_minutes=plan.target_minutes,
            created_at=now,
        )
        session.add(reminder)
        session.flush()
        card = session.get(SlackMessage, mention.card_id) if mention.card_id else None
        if card is not None:
            # Slack threads are one level deep: under the conversation's first card.
            root = card.thread_root_id or card.id
            new = outbox.NewMessage(RESPONSE_REMINDER, str(reminder.id), card.channel, root)
            outbox.enqueue(session, [new], now=now)
        waited = int((now - as_utc(mention.tweeted_at)).total_seconds() // 60)
        audit.record(
            session,
            actor=audit.SYSTEM,
            action="mention.escalated" if step == Step.ESCALATE else "mention.reminded",
            subject=f"mention:{mention.id}",
            at=now,
            after={
                "step": step.value,
                "notified": named,
                "target_minutes": plan.target_minutes,
                "waited_minutes": waited,
                "reminder": reminder.id,
            },
        )

    # -- Acknowledge --------------------------------------------------------------------------

    def acknowledge(self, click: Click) -> str:
        """Stop the reminders of the mention whose reminder was clicked (found by where the click
        happened, never by what the button says); the note for the clicker. Who may: the
        segment's responders, its approvers, admins. A second click changes nothing."""
        with self._ctx.transaction(read_only=True) as session:
            message = self._ctx.card_at(session, RESPONSE_REMINDER, click)
            reminder = session.get(MentionReminder, int(message.subject_id)) if message else None
            mention = session.get(Mention, reminder.mention_id) if reminder else None
            timer = session.get(ResponseTimer, mention.id) if mention else None
        subject = f"mention:{mention.id if mention else click.value or 'unknown'}"
        check = Checkpoint(
            self._ctx, click.person, click.channel, "mention", subject, "acknowledge"
        )
        if mention is None or timer is None:
            check.refuse("That message isn't one of mine.")
        assert mention is not None and timer is not None
        if click.value is not None and click.value != mention.id:
            check.refuse("That button doesn't match its message; nothing was changed.")
        segment = self._ctx.segments.config.segments.get(mention.segment)
        approvers = list(segment.approvers) if segment is not None else []
        actor = check.segment_actor(mention.segment)
        # Slack is asked about the approvers only when the other rules don't already allow it.
        is_approver = (
            bool(approvers)
            and not (actor.is_admin or actor.is_responder)
            and check.includes(approvers)
        )
        check.require(permissions.may_acknowledge(actor=actor, is_approver=is_approver))
        if timer.acknowledged_by is not None:
            return f"<@{timer.acknowledged_by}> already acknowledged it; nothing changed."
        ended = stop_reason(mention, timer)
        if ended in ("answered", "closed"):
            with self._ctx.transaction() as session:  # its reminders drop the stale button
                redraw_reminders(session, mention.id, now=self._ctx.clock.now())
            self._ctx.hooks.cards_changed()
            return f"It is already {ended}: there is nothing to acknowledge."
        person, now = self._ctx.actor(click.person), self._ctx.clock.now()
        with self._ctx.transaction() as session:
            result = session.execute(
                update(ResponseTimer)
                .where(
                    col(ResponseTimer.mention_id) == mention.id,
                    col(ResponseTimer.acknowledged_at).is_(None),
                )
                .values(
                    acknowledged_by=person.id,
                    acknowledged_by_name=person.name,
                    acknowledged_at=now,
                    step=None,
                    due_at=None,
                    stopped="acknowledged",
                    version=col(ResponseTimer.version) + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if rowcount(result) != 1:  # a double click: the other one won
                current = session.get(ResponseTimer, mention.id)
                who = current.acknowledged_by if current else None
                return f"<@{who}> already acknowledged it; nothing changed."
            redraw_reminders(session, mention.id, now=now)
            outbox.mark_changed(session, mention.card_id, now=now)
            audit.record(
                session,
                actor=person,
                action="mention.acknowledged",
                subject=f"mention:{mention.id}",
                at=now,
                after={"reminder": reminder.id if reminder else None, "last_step": timer.last_step},
            )
        self._ctx.hooks.cards_changed()
        return (
            "Acknowledged: no more reminders about this mention. Its response time still counts "
            "until a reply reaches X."
        )


def redraw_reminders(session: Session, mention_id: str, *, now: datetime) -> None:
    """Every reminder of the mention shows its new standing (acknowledged, answered, closed)."""
    ids = [
        str(i)
        for i in session.scalars(
            select(col(MentionReminder.id)).where(col(MentionReminder.mention_id) == mention_id)
        )
    ]
    if not ids:
        return
    for message_id in session.scalars(
        select(col(SlackMessage.id)).where(
            and_(col(SlackMessage.kind) == RESPONSE_REMINDER, col(SlackMessage.subject_id).in_(ids))
        )
    ):
        outbox.mark_changed(session, message_id, now=now)
