"""The crisis switch: freeze publishing for one account or all, and release what was held.

A freeze stops the publisher at its last check before calling X, so nothing posts after the
command returns — scheduled and in-flight posts included, whoever approved them. Drafting and
approving go on. Lifting a freeze does not dump the backlog: drafts that came due while frozen
are HELD, and an approver releases or cancels each (a promotion approved before a crisis may be
tone-deaf after it).

`/brand unfreeze` also posts the held queue: one message (outbox kind `held_queue`, subject the
id of the lifted freeze) listing the held posts with Release / Cancel each and Release all /
Cancel all. Which posts are in a queue is fixed when it is posted and kept in the audit log (a
`freeze.held_queue` entry with subject `held_queue:<id>`), so a click is checked against the
server's own record, never against what the button claims. Releasing and cancelling go through
DraftService (on each draft's own approval card), which re-checks who may do it and audits it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.audit_report import parse_tweet_ref, render_who, who_tweeted
from bot.core.clock import Clock, iso
from bot.core.db import transaction
from bot.core.errors import ActionRefused
from bot.core.models import AuditEntry, Draft, DraftState, Freeze, SlackMessage
from bot.core.segments import SegmentCatalog
from bot.drafts import machine as draft_machine
from bot.drafts.publisher import FROZEN, active_freeze, publish_gate
from bot.drafts.service import DraftService, approvals_of
from bot.slack.cards.held_queue import CANCEL_REASON, MAX_LISTED, HeldPost, HeldQueueView
from bot.slack.clicks import Click, Person
from bot.slack.directory import SLACK_UNAVAILABLE, DirectoryUnavailable, SlackDirectory
from policies import permissions

HELD_QUEUE = "held_queue"  # outbox kind: the one message an unfreeze posts about what it held
HELD_QUEUE_ENTRY = "freeze.held_queue"  # the audit entry that fixes which drafts are in a queue

IN_FLIGHT_WAIT = 12.0  # seconds: longer than the X gateway's default request timeout
MAX_FREEZE = timedelta(days=30)
_DURATION = re.compile(
    r"(?:^|\s+)for\s+(\d+)\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?)\s*$", re.IGNORECASE
)
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}


def parse_freeze_args(text: str, accounts: list[str]) -> tuple[str, str, timedelta | None]:
    """`[account|all] <reason> [for 2h]` → (scope, reason, duration). Raises ActionRefused."""
    rest = text.strip()
    scope = "all"
    first, _, after = rest.partition(" ")
    if first.lower().lstrip("@") in accounts or first.lower() == "all":
        scope, rest = first.lower().lstrip("@"), after.strip()
    duration = None
    match = _DURATION.search(rest)
    if match:
        minutes = int(match[1]) * _UNIT_MINUTES[match[2][0].lower()]
        if minutes < 1 or minutes > MAX_FREEZE.total_seconds() // 60:
            raise ActionRefused(
                f"A timed freeze lasts from 1 minute to {MAX_FREEZE.days} days "
                "(e.g. `for 90m`, `for 2h`, `for 3d`); leave `for …` out to freeze until "
                "`/brand unfreeze`."
            )
        duration = timedelta(minutes=minutes)
        rest = rest[: match.start()]
    reason = rest.strip()
    if not reason:
        raise ActionRefused(
            "Say why: `/brand freeze [account|all] <reason> [for 2h]` — the reason is shown on every held draft."
        )
    return scope, reason, duration


@dataclass(frozen=True)
class OnTheirWay:
    """Posts that had passed the publish gate when a freeze committed (they cannot be recalled).

    `unknown`: still without an outcome when the confirmation is sent (in flight, or X's answer
    never came) — each will show on its card. `posted`: reached X while the freeze was set."""

    unknown: list[Draft]
    posted: list[Draft]


@dataclass(frozen=True)
class Unfrozen:
    """What lifting a freeze left for people to decide."""

    scope: str
    held: int  # drafts waiting for an approver to release or cancel them
    listed: int  # how many of them the held-queue message lists (the rest: on their cards)
    queue_id: str | None  # subject of the held-queue message, when one was posted


class FreezeService:
    def __init__(
        self,
        *,
        engine: Engine,
        segments: SegmentCatalog,
        directory: SlackDirectory,
        clock: Clock,
        on_change: Callable[[], None] = lambda: None,
        in_flight_wait: float = IN_FLIGHT_WAIT,
    ) -> None:
        self._engine = engine
        self._segments = segments
        self._directory = directory
        self._clock = clock
        self._on_change = on_change
        self._in_flight_wait = in_flight_wait

    def accounts(self) -> list[str]:
        return [a.handle.lower() for a in self._segments.config.accounts]

    def freeze(self, *, person: Person, text: str, channel: str | None = None) -> Freeze:
        actor = self._admin(person, "freeze", channel)
        scope, reason, duration = parse_freeze_args(text, self.accounts())
        with transaction(self._engine) as session:
            # Exclusive: no post attempt is between its last check and X while this commits.
            publish_gate(session, exclusive=True)
            now = self._clock.now()
            freeze = Freeze(
                scope=scope,
                reason=reason,
                frozen_by=actor.id,
                frozen_by_name=actor.name,
                frozen_at=now,
                until=now + duration if duration else None,
                channel=channel,
            )
            session.add(freeze)
            self._touch_cards(session, scope, now)
            audit.record(
                session,
                actor=actor,
                action="freeze",
                subject=f"account:{scope}",
                at=now,
                after={
                    "reason": reason,
                    "until": freeze.until.isoformat() if freeze.until else None,
                },
            )
        self._on_change()
        return freeze

    def posts_on_their_way(self, freeze: Freeze, *, timeout: float | None = None) -> OnTheirWay:
        """Posts that passed the publish gate before the freeze committed cannot be recalled.
        Wait (a little longer than an X request may take) for those in flight to finish, then
        name every post of the scope whose outcome is still unknown."""
        deadline = time.monotonic() + (self._in_flight_wait if timeout is None else timeout)
        seen: set[int] = set()
        while True:
            posting = self._posting(freeze.scope)
            now = self._clock.now()
            seen |= {d.id for d in posting if d.id is not None}
            in_flight = [d for d in posting if d.lease_until is not None and d.lease_until > now]
            if not in_flight or time.monotonic() >= deadline:
                break
            time.sleep(0.05)  # other processes' rows; bounded by the deadline
        with transaction(self._engine) as session:
            finished = session.scalars(
                select(Draft).where(col(Draft.id).in_(seen), col(Draft.state) == DraftState.POSTED)
            ).all()
        return OnTheirWay(unknown=posting, posted=list(finished))

    def _posting(self, scope: str) -> list[Draft]:
        with transaction(self._engine) as session:
            query = (
                select(Draft).where(col(Draft.state) == DraftState.POSTING).order_by(col(Draft.id))
            )
            if scope != "all":
                query = query.where(func.lower(col(Draft.account)) == scope)
            return list(session.scalars(query))

    def unfreeze(self, *, person: Person, text: str, channel: str | None = None) -> Unfrozen:
        """Lift freezes for the scope. Drafts that came due while frozen (and any still held from
        an earlier freeze) wait for release; with `channel`, one held-queue message lists them
        there."""
        actor = self._admin(person, "unfreeze", channel)
        scope = (text.strip().split() or ["all"])[0].lower().lstrip("@")
        if scope != "all" and scope not in self.accounts():
            raise ActionRefused(f"No account @{scope}. Use `/brand unfreeze [account|all]`.")
        scopes = ["all", *self.accounts()] if scope == "all" else [scope]
        unfrozen = self._lift(
            and_(col(Freeze.scope).in_(scopes), col(Freeze.lifted_at).is_(None)),
            scope=scope,
            actor=actor,
            channel=channel,
        )
        if unfrozen is None:
            raise ActionRefused("Nothing is frozen there.")
        return unfrozen

    def lapse_expired(self) -> int:
        """Freezes whose `for 2h` ran out end like an unfreeze: what came due is held, and the
        held queue is posted where the freeze was ordered."""
        now = self._clock.now()
        with transaction(self._engine) as session:
            expired = session.scalars(
                select(Freeze).where(col(Freeze.lifted_at).is_(None), col(Freeze.until) <= now)
            ).all()
        for freeze in expired:
            self._lift(
                and_(col(Freeze.id) == freeze.id, col(Freeze.lifted_at).is_(None)),
                scope=freeze.scope,
                actor=audit.SYSTEM,
                channel=freeze.channel,
            )
        return len(expired)

    def _lift(
        self, which: Any, *, scope: str, actor: audit.Actor, channel: str | None
    ) -> Unfrozen | None:
        now = self._clock.now()
        queue_id = None
        with transaction(self._engine) as session:
            lifted = (
                session.execute(
                    update(Freeze)
                    .where(which)
                    .values(lifted_at=now, lifted_by=actor.id)
                    .returning(col(Freeze.id))
                )
                .scalars()
                .all()
            )
            if not lifted:
                return None
            self._hold_backlog(session, scope, now, actor)
            held = self._held_in_scope(session, scope, now)
            listed = [d.id for d in held[:MAX_LISTED]]
            self._touch_cards(session, scope, now)
            audit.record(
                session,
                actor=actor,
                action="unfreeze",
                subject=f"account:{scope}",
                at=now,
                after={"held_for_release": len(held)},
            )
            if held and channel:
                queue_id = str(max(lifted))
                message_ids = outbox.enqueue(
                    session, [outbox.NewMessage(HELD_QUEUE, queue_id, channel)], now=now
                )
                audit.record(
                    session,
                    actor=actor,
                    action=HELD_QUEUE_ENTRY,
                    subject=f"held_queue:{queue_id}",
                    at=now,
                    after={
                        "drafts": listed,
                        "unlisted": len(held) - len(listed),
                        "channel": channel,
                        "message": message_ids[queue_id],
                        "lifted": sorted(lifted),
                    },
                )
        self._on_change()
        return Unfrozen(scope=scope, held=len(held), listed=len(listed), queue_id=queue_id)

    def is_frozen(self, account: str) -> Freeze | None:
        with transaction(self._engine) as session:
            return active_freeze(session, account, self._clock.now())

    def held_queue(self, drafts: DraftService) -> HeldQueueService:
        """The Release / Cancel buttons of held-queue messages, acting through `drafts`."""
        return HeldQueueService(
            engine=self._engine,
            directory=self._directory,
            clock=self._clock,
            drafts=drafts,
            on_change=self._on_change,
        )

    def who(self, ref: str) -> str | None:
        """Who drafted, edited, approved and posted a tweet (a URL or an id), as `brandbot audit
        who` prints it; None if brandbot did not post it. ValueError if `ref` is no tweet."""
        tweet_id = parse_tweet_ref(ref)
        with transaction(self._engine) as session:
            history = who_tweeted(session, tweet_id)
            return render_who(history) if history is not None else None

    def _hold_backlog(self, session: Any, scope: str, now: datetime, actor: audit.Actor) -> int:
        """Drafts that came due while frozen wait for a person to release them."""
        still_frozen = self._still_frozen(session, now)
        came_due = or_(col(Draft.due_at) <= now, col(Draft.held_reason).startswith(FROZEN))
        waiting = and_(col(Draft.state) == DraftState.APPROVED, came_due)
        # a "maybe posted" draft the freeze held: held too (releasing it searches X first)
        maybe_posted = and_(
            col(Draft.state) == DraftState.POSTING, col(Draft.held_reason).startswith(FROZEN)
        )
        held = 0
        for draft in session.scalars(select(Draft).where(or_(waiting, maybe_posted))).all():
            account = draft.account.lower()
            if scope not in ("all", account) or account in still_frozen:
                continue
            held += draft_machine.move(
                session,
                draft,
                "hold",
                actor=actor,
                at=now,
                values={
                    "held_reason": "held when the freeze was lifted: release it or reject it",
                    "lease_owner": None,
                    "lease_until": None,
                },
                after={"why": f"freeze on {scope} ended", "came_due": iso(draft.due_at)},
            )
        return held

    def _held_in_scope(self, session: Any, scope: str, now: datetime) -> list[Draft]:
        """Every held draft of the scope's accounts that are no longer frozen, oldest due first
        (including any a timed freeze held earlier that nobody has decided on yet)."""
        still_frozen = self._still_frozen(session, now)
        query = (
            select(Draft)
            .where(col(Draft.state) == DraftState.HELD)
            .order_by(col(Draft.due_at), col(Draft.id))
        )
        return [
            d
            for d in session.scalars(query)
            if scope in ("all", d.account.lower()) and d.account.lower() not in still_frozen
        ]

    def _still_frozen(self, session: Any, now: datetime) -> set[str]:
        return {a for a in self.accounts() if active_freeze(session, a, now) is not None}

    def _touch_cards(self, session: Any, scope: str, now: datetime) -> None:
        """Every open draft's card shows (or drops) the freeze banner."""
        open_states = [DraftState.PENDING, DraftState.APPROVED, DraftState.HELD]
        query = select(col(Draft.card_id), col(Draft.account)).where(
            col(Draft.state).in_(open_states)
        )
        for card_id, account in session.execute(query):
            if card_id is not None and scope in ("all", account.lower()):
                outbox.mark_changed(session, card_id, now=now)

    def _admin(self, person: Person, action: str, channel: str | None) -> audit.Actor:
        actor = audit.Actor(
            person.user_id, self._directory.display_name(person.user_id, person.user_name)
        )
        try:
            decision = permissions.may_freeze(
                is_admin=self._directory.includes(person.user_id, self._segments.admins)
            )
        except DirectoryUnavailable:
            decision = permissions.Decision(False, SLACK_UNAVAILABLE)
        if not decision.allowed:
            audit.refuse(
                self._engine,
                actor=actor,
                action="freeze.refused",
                subject="account:all",
                at=self._clock.now(),
                attempted=action,
                channel=channel or "",
                reason=decision.reason,
            )
        return actor


# -- the held queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Queue:
    message_id: int
    queue_id: str
    draft_ids: list[int]


class HeldQueueService:
    """Release or cancel what an unfreeze held, from the held-queue message.

    The queue is found by where the click came from; a post must be in that queue (per the audit
    entry written when it was posted) and still HELD. Each release or cancel is a call to
    DraftService on the draft's own approval card, so the same rules decide — an eligible approver
    of its segment who is neither its author nor an editor of its text; an admin is not one by
    being an admin — and the same audit entries and author DMs follow.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        directory: SlackDirectory,
        clock: Clock,
        drafts: DraftService,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._clock = clock
        self._drafts = drafts
        self._on_change = on_change

    def release(self, click: Click) -> str:
        queue, draft = self._one(click, "release")
        with self._refreshing(queue):
            self._act(click.person, draft, "release")
        return f"Released #{draft.id}: it goes to the publish queue now."

    def cancel(self, click: Click) -> str:
        queue, draft = self._one(click, "cancel")
        with self._refreshing(queue):
            self._act(click.person, draft, "cancel")
        told = "" if draft.author_id == click.person.user_id else "; its author is told why"
        return f"Cancelled #{draft.id}{told}."

    def release_all(self, click: Click) -> str:
        return self._all(click, "release")

    def cancel_all(self, click: Click) -> str:
        return self._all(click, "cancel")

    # -- helpers ----------------------------------------------------------------------------

    def _all(self, click: Click, verb: str) -> str:
        queue = self._locate(click, f"{verb} all")
        if click.value and click.value != queue.queue_id:
            self._refuse(click, queue, f"{verb} all", "That button doesn't match its message.")
        held = [d for d in self._drafts_of(queue.draft_ids) if d.state == DraftState.HELD]
        if not held:
            self._refresh(queue)  # the message may be showing buttons that are gone
            return "Nothing listed in this queue is still held."
        done: list[int] = []
        skipped: dict[str, list[int]] = {}
        with self._refreshing(queue):
            for draft in held:
                assert draft.id is not None  # a stored draft
                try:
                    self._act(click.person, draft, verb)
                except ActionRefused as refused:
                    skipped.setdefault(str(refused), []).append(draft.id)
                else:
                    done.append(draft.id)
        past = "Released" if verb == "release" else "Cancelled"
        lines = [f"{past} {len(done)} of {len(held)} held post(s){_ids(done, ': ')}."]
        if skipped:
            count = sum(len(ids) for ids in skipped.values())
            lines.append(f"Skipped {count}:")
            lines += [f"• {_ids(ids)} — {reason}" for reason, ids in skipped.items()]
        return "\n".join(lines)

    def _one(self, click: Click, verb: str) -> tuple[_Queue, Draft]:
        queue = self._locate(click, verb)
        claimed = (click.value or "").strip()
        suffix = click.action_id.partition(":")[2]
        if not claimed.isdigit() or (suffix and suffix != claimed):
            self._refuse(click, queue, verb, "That button doesn't match its message.")
        if int(claimed) not in queue.draft_ids:
            self._refuse(
                click,
                queue,
                f"{verb} draft {claimed[:20]}",
                "That post isn't in this held queue; nothing was changed.",
            )
        draft = self._drafts_of([int(claimed)])
        if not draft:
            self._refuse(click, queue, verb, "That draft no longer exists.")
        if draft[0].state != DraftState.HELD:
            self._refresh(queue)
            raise ActionRefused(f"#{claimed} is no longer held (it is {draft[0].state}).")
        return queue, draft[0]

    def _act(self, person: Person, draft: Draft, verb: str) -> None:
        """Release or cancel one held draft through DraftService, on its own approval card."""
        if draft.state != DraftState.HELD:
            raise ActionRefused(f"It is {draft.state}, no longer held.")
        with transaction(self._engine) as session:
            card = session.get(SlackMessage, draft.card_id) if draft.card_id else None
            where = (card.channel, card.ts) if card is not None else (None, None)
        if where[0] is None or where[1] is None:
            raise ActionRefused("Its approval card isn't in Slack yet; try again in a moment.")
        click = Click(person, str(where[0]), str(where[1]), value=f"{draft.id}:{draft.text_hash}")
        if verb == "release":
            self._drafts.release(click)
        else:
            self._drafts.reject(click, reason=CANCEL_REASON)

    def _locate(self, click: Click, verb: str) -> _Queue:
        with transaction(self._engine) as session:
            message = outbox.message_at(
                session, kind=HELD_QUEUE, channel=click.channel, ts=click.message_ts
            )
            entry = _queue_entry(session, message.subject_id) if message is not None else None
        if message is None or entry is None or message.id is None:
            self._refuse(click, None, verb, "That message isn't one of my held queues.")
        assert message is not None and message.id is not None and entry is not None
        ids = [int(i) for i in _json(entry.after).get("drafts", [])]
        return _Queue(message.id, message.subject_id, ids)

    def _drafts_of(self, ids: Iterable[int]) -> list[Draft]:
        ids = list(ids)
        with transaction(self._engine) as session:
            found = {d.id: d for d in session.scalars(select(Draft).where(col(Draft.id).in_(ids)))}
        return [found[i] for i in ids if i in found]

    @contextmanager
    def _refreshing(self, queue: _Queue) -> Iterator[None]:
        """Whatever happens to the drafts, the held-queue message is re-rendered afterwards."""
        try:
            yield
        finally:
            self._refresh(queue)

    def _refresh(self, queue: _Queue) -> None:
        with transaction(self._engine) as session:
            outbox.mark_changed(session, queue.message_id, now=self._clock.now())
        self._on_change()

    def _refuse(self, click: Click, queue: _Queue | None, attempted: str, reason: str) -> None:
        actor = audit.Actor(
            click.person.user_id,
            self._directory.display_name(click.person.user_id, click.person.user_name),
        )
        audit.refuse(
            self._engine,
            actor=actor,
            action="held_queue.refused",
            subject=f"held_queue:{queue.queue_id if queue else 'unknown'}",
            at=self._clock.now(),
            attempted=attempted,
            channel=click.channel,
            reason=reason,
        )


def load_held_queue(session: Session, queue_id: str) -> HeldQueueView | None:
    """What a held-queue message shows now: its posts as they are in the database."""
    entry = _queue_entry(session, queue_id)
    if entry is None:
        return None
    after = _json(entry.after)
    ids = [int(i) for i in after.get("drafts", [])]
    drafts = {d.id: d for d in session.scalars(select(Draft).where(col(Draft.id).in_(ids)))}
    released = {
        subject: actor
        for subject, actor in session.execute(
            select(col(AuditEntry.subject), col(AuditEntry.actor_id))
            .where(
                col(AuditEntry.action) == "draft.release",
                col(AuditEntry.subject).in_([f"draft:{i}" for i in ids]),
            )
            .order_by(col(AuditEntry.seq))
        )
    }  # the latest release of each draft wins
    posts = []
    for draft_id in ids:
        draft = drafts.get(draft_id)
        if draft is None:
            continue
        approvers = [
            a.approver_name for a in approvals_of(session, draft) if a.text_hash == draft.text_hash
        ]
        posts.append(HeldPost(draft, approvers, released.get(f"draft:{draft_id}")))
    freeze = session.get(Freeze, int(queue_id)) if queue_id.isdigit() else None
    return HeldQueueView(
        queue_id=queue_id,
        freeze=freeze,
        lifted_by=entry.actor_id,
        posts=posts,
        unlisted=int(after.get("unlisted") or 0),
    )


def _queue_entry(session: Session, queue_id: str) -> AuditEntry | None:
    return session.scalars(
        select(AuditEntry)
        .where(
            col(AuditEntry.action) == HELD_QUEUE_ENTRY,
            col(AuditEntry.subject) == f"held_queue:{queue_id}",
        )
        .order_by(col(AuditEntry.seq))
        .limit(1)
    ).first()


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _ids(ids: list[int], lead: str = "") -> str:
    if not ids:
        return ""
    shown = ", ".join(f"#{i}" for i in ids[:15])
    more = f" and {len(ids) - 15} more" if len(ids) > 15 else ""
    return f"{lead}{shown}{more}"
