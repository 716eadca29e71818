"""The held queue: the one message an unfreeze posts, listing what it held, with Release /
Cancel each and Release all / Cancel all.

Which posts are in a queue is fixed when it is posted and kept in the audit log (a
`freeze.held_queue` entry with subject `held_queue:<id>`), so a click is checked against the
server's own record, never against what the button claims. Releasing and cancelling go through
DraftService (on each draft's own approval card), which re-checks who may do it and audits it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import select
from sqlmodel import Session, col

from bot.core import outbox
from bot.core.audit_report import fields_of
from bot.core.context import ServiceContext
from bot.core.errors import ActionRefused
from bot.core.guard import Checkpoint
from bot.core.models import AuditEntry, Draft, DraftState, Freeze, SlackMessage
from bot.drafts.service import DraftService
from bot.drafts.standing import approvals_of
from bot.slack.cards.held_queue import (
    CANCEL_REASON,
    HeldPost,
    HeldQueueView,
    build_held_queue,
    fallback_text,
)
from bot.slack.clicks import Click, Person

HELD_QUEUE = "held_queue"  # outbox kind: the one message an unfreeze posts about what it held
HELD_QUEUE_ENTRY = "freeze.held_queue"  # the audit entry that fixes which drafts are in a queue


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

    def __init__(self, ctx: ServiceContext, *, drafts: DraftService) -> None:
        self._ctx = ctx
        self._drafts = drafts

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
        with self._ctx.transaction() as session:
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
        with self._ctx.transaction(read_only=True) as session:
            message = self._ctx.card_at(session, HELD_QUEUE, click)
            entry = _queue_entry(session, message.subject_id) if message is not None else None
        if message is None or entry is None or message.id is None:
            self._refuse(click, None, verb, "That message isn't one of my held queues.")
        assert message is not None and message.id is not None and entry is not None
        ids = [int(i) for i in fields_of(entry.after).get("drafts", [])]
        return _Queue(message.id, message.subject_id, ids)

    def _drafts_of(self, ids: Iterable[int]) -> list[Draft]:
        ids = list(ids)
        with self._ctx.transaction(read_only=True) as session:
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
        with self._ctx.transaction() as session:
            outbox.mark_changed(session, queue.message_id, now=self._ctx.clock.now())
        self._ctx.hooks.cards_changed()

    def _refuse(self, click: Click, queue: _Queue | None, attempted: str, reason: str) -> NoReturn:
        subject = f"held_queue:{queue.queue_id if queue else 'unknown'}"
        Checkpoint(self._ctx, click.person, click.channel, "held_queue", subject, attempted).refuse(
            reason
        )


def load_held_queue(session: Session, queue_id: str) -> HeldQueueView | None:
    """What a held-queue message shows now: its posts as they are in the database."""
    entry = _queue_entry(session, queue_id)
    if entry is None:
        return None
    after = fields_of(entry.after)
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


def _ids(ids: list[int], lead: str = "") -> str:
    if not ids:
        return ""
    shown = ", ".join(f"#{i}" for i in ids[:15])
    more = f" and {len(ids) - 15} more" if len(ids) > 15 else ""
    return f"{lead}{shown}{more}"


def render_held_queue(session: Session, message: SlackMessage) -> outbox.Rendered:
    """The one message an unfreeze posts: its held posts as they stand now."""
    view = load_held_queue(session, message.subject_id)
    if view is None:
        return outbox.Rendered(text="(held queue no longer available)", blocks=[])
    return outbox.Rendered(text=fallback_text(view), blocks=build_held_queue(view))
