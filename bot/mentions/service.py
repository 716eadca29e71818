"""The mention state machine: claim, release, reroute, resolve, dismiss, reopen.

Every change is one transaction that moves the row (a conditional UPDATE on its version, so two
people clicking at once produce exactly one winner), appends the audit entry, and marks the card
for re-rendering through the outbox. Permissions are decided here from the database and Slack's
directory, never from what the click's payload claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true, update
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.context import ServiceContext
from bot.core.db import rowcount
from bot.core.errors import ActionRefused, Conflict
from bot.core.guard import Checkpoint
from bot.core.models import Draft, DraftState, Mention, MentionState, SlackMessage
from bot.mentions.conversation import conversation_context
from bot.slack.cards.dismiss_modal import DismissContext
from bot.slack.cards.mention_card import segment_label
from bot.slack.cards.quoted_context import QuotedContext
from bot.slack.clicks import Click
from policies import permissions
from policies.dismissal import dismissal_problems, dismissal_text

MENTION_CARD = "mention_card"

# action -> (states it may start from, state it ends in)
TRANSITIONS: dict[str, tuple[frozenset[MentionState], MentionState]] = {
    "claim": (frozenset({MentionState.OPEN}), MentionState.CLAIMED),
    "release": (frozenset({MentionState.CLAIMED}), MentionState.OPEN),
    "resolve": (
        frozenset({MentionState.OPEN, MentionState.CLAIMED, MentionState.REPLIED}),
        MentionState.RESOLVED,
    ),
    "dismiss": (
        frozenset({MentionState.OPEN, MentionState.CLAIMED, MentionState.REPLIED}),
        MentionState.DISMISSED,
    ),
    "reroute": (frozenset({MentionState.OPEN, MentionState.CLAIMED}), MentionState.OPEN),
    "reopen": (frozenset({MentionState.RESOLVED, MentionState.DISMISSED}), MentionState.OPEN),
}


@dataclass(frozen=True)
class Located:
    mention: Mention
    card: SlackMessage


@dataclass(frozen=True)
class ReplyForm:
    """What the reply (or quote) form shows: the mention and the conversation before it."""

    mention: Mention
    context: QuotedContext
    quote: bool = False


@dataclass(frozen=True)
class CardRequest:
    mention_id: str
    conversation_id: str
    channel: str


def create_cards(session: Session, requests: list[CardRequest], *, now: datetime) -> dict[str, int]:
    """Queue cards (in request order), each threaded under its conversation's first card in that
    channel; set each mention's live card. Bulk statements: ingest queues thousands at a time."""
    if not requests:
        return {}
    roots = _existing_roots(session, requests)
    new_roots: dict[tuple[str, str], str] = {}  # (conversation, channel) -> its root's mention
    # One INSERT for the page: each card under its conversation's root in that channel, or the
    # root itself; only a reply whose root is new in this very page waits for a second INSERT.
    placed: list[tuple[CardRequest, int | None]] = []
    waiting: list[CardRequest] = []
    for request in requests:
        key = (request.conversation_id, request.channel)
        if key in roots:
            placed.append((request, roots[key]))
        elif key in new_roots:
            waiting.append(request)
        else:
            new_roots[key] = request.mention_id
            placed.append((request, None))
    card_ids = _insert_cards(session, placed, now=now)
    if waiting:
        card_ids |= _insert_cards(
            session,
            [(r, card_ids[new_roots[(r.conversation_id, r.channel)]]) for r in waiting],
            now=now,
        )
    # One statement, not one UPDATE per mention: each mention's live card is its newest card.
    newest_card = (
        select(func.max(col(SlackMessage.id)))
        .where(
            col(SlackMessage.kind) == MENTION_CARD, col(SlackMessage.subject_id) == col(Mention.id)
        )
        .scalar_subquery()
    )
    session.execute(
        update(Mention)
        .where(col(Mention.id).in_(list(card_ids)))
        .values(card_id=newest_card)
        .execution_options(synchronize_session=False)
    )
    return card_ids


def _existing_roots(
    session: Session, requests: list[CardRequest]
) -> dict[tuple[str, str], int | None]:
    conversations = {r.conversation_id for r in requests}
    rows = session.execute(
        select(
            col(SlackMessage.conversation_key),
            col(SlackMessage.channel),
            func.min(col(SlackMessage.id)),
        )
        .where(
            col(SlackMessage.kind) == MENTION_CARD,
            col(SlackMessage.thread_root_id).is_(None),
            col(SlackMessage.conversation_key).in_(conversations),
        )
        .group_by(col(SlackMessage.conversation_key), col(SlackMessage.channel))
    )
    return {(conversation, channel): root for conversation, channel, root in rows}


def _insert_cards(
    session: Session, placed: list[tuple[CardRequest, int | None]], *, now: datetime
) -> dict[str, int]:
    messages = [
        outbox.NewMessage(
            kind=MENTION_CARD,
            subject_id=r.mention_id,
            channel=r.channel,
            thread_root_id=root,
            conversation_key=r.conversation_id,
            # a channel's cards go out in the order the tweets were written (X's ids grow)
            send_order=int(r.mention_id) if r.mention_id.isdigit() else None,
        )
        for r, root in placed
    ]
    return outbox.enqueue(session, messages, now=now)


def reply_posted(session: Session, draft: Draft, *, now: datetime) -> None:
    """A reply (or quote) of ours reached X (in the caller's transaction): its mention is
    answered — the response target is met, the mention moves to Replied unless a person already
    closed it — and its card says so."""
    mention = session.get(Mention, draft.answers) if draft.answers else None
    if mention is None:
        return
    answered = mention.state in (MentionState.OPEN, MentionState.CLAIMED)
    first = col(Mention.replied_at).is_(None)  # only the first answer says how it reached X
    _answer_changed(
        session,
        mention,
        "replied",
        to=MentionState.REPLIED if answered else MentionState(mention.state),
        now=now,
        about=_draft_about(draft),
        replied_at=func.coalesce(col(Mention.replied_at), now),
        replied_via=case((first, "brandbot"), else_=col(Mention.replied_via)),
        reply_tweet_id=case((first, draft.tweet_id), else_=col(Mention.reply_tweet_id)),
    )


@dataclass(frozen=True)
class NativeReply:
    """A tweet a brand account posted on X directly that answers someone."""

    tweet_id: str
    account: str
    conversation_id: str
    replied_to: str | None  # the tweet it answers
    replied_to_user: str | None  # that tweet's author (X's in_reply_to_user_id)
    created_at: datetime


def replied_on_x(session: Session, reply: NativeReply, *, now: datetime) -> list[str]:
    """Credit a reply posted natively on X (in the caller's transaction) to the mentions it
    answers: the one it replies to, and that person's earlier unanswered mentions in the same
    conversation (the customer has an answer). Each mention's clock stops at its first reply
    only — a conditional UPDATE on `replied_at IS NULL`, so overlapping polls credit once. Open
    and Claimed ones move to Replied; the card says "Replied on X directly"; audited as
    `mention.replied_on_x`. Returns the ids credited."""
    answers = [col(Mention.id) == reply.replied_to] if reply.replied_to else []
    if reply.replied_to_user:
        answers.append(
            and_(
                col(Mention.conversation_id) == reply.conversation_id,
                col(Mention.author_id) == reply.replied_to_user,
                col(Mention.tweeted_at) <= reply.created_at,
                col(Mention.state).in_([MentionState.OPEN, MentionState.CLAIMED]),
            )
        )
    if not answers:
        return []
    candidates = session.scalars(
        select(Mention).where(or_(*answers), col(Mention.replied_at).is_(None))
    ).all()
    credited = []
    for mention in candidates:
        answered = mention.state in (MentionState.OPEN, MentionState.CLAIMED)
        to = MentionState.REPLIED if answered else MentionState(mention.state)
        # The clock stops when the reply reached X (its own time), not when we polled it.
        if _answer_changed(
            session,
            mention,
            "replied_on_x",
            to=to,
            now=now,
            about={"tweet_id": reply.tweet_id, "account": reply.account},
            only_if=col(Mention.replied_at).is_(None),
            replied_at=max(reply.created_at, mention.tweeted_at),
            replied_via="x",
            reply_tweet_id=reply.tweet_id,
        ):
            credited.append(mention.id)
    return credited


def reply_taken_down(session: Session, draft: Draft, *, now: datetime) -> None:
    """Our reply (or quote) was deleted from X (in the caller's transaction): if it was the
    mention's only answer on X and the mention is still Replied, the customer has no answer any
    more — it goes back to its claimer (Claimed), else Open, and its card says so. When it was
    first answered (`replied_at`) stays: that answer did reach the customer."""
    mention = session.get(Mention, draft.answers) if draft.answers else None
    if mention is None or mention.state != MentionState.REPLIED:
        return
    others_on_x = session.scalars(
        select(col(Draft.id)).where(
            Draft.answering(mention.id),
            col(Draft.id) != draft.id,
            col(Draft.state) == DraftState.POSTED,
        )
    ).first()
    if others_on_x is not None:
        return
    back_to = MentionState.CLAIMED if mention.claimed_by else MentionState.OPEN
    _answer_changed(
        session,
        mention,
        "unreplied",
        to=back_to,
        now=now,
        about=_draft_about(draft),
        only_if=col(Mention.state) == MentionState.REPLIED,
    )


def _draft_about(draft: Draft) -> dict[str, Any]:
    """What a reply of ours moving a mention records of itself in the audit entry."""
    return {"draft": draft.id, "tweet": draft.tweet_id}


def native_reply_taken_down(session: Session, tweet_id: str, *, now: datetime) -> list[str]:
    """A reply posted on X directly, credited to mentions, was deleted from X through its alert
    (in the caller's transaction): as when our own reply is taken down, each mention it answered
    that is still Replied, with no other answer of ours on X, goes back to its claimer (else
    Open), audited as `mention.unreplied`; `replied_at` stays (that answer did reach them)."""
    answered = session.scalars(
        select(Mention).where(
            col(Mention.reply_tweet_id) == tweet_id,
            col(Mention.replied_via) == "x",
            col(Mention.state) == MentionState.REPLIED,
        )
    ).all()
    reopened = []
    for mention in answered:
        ours_on_x = session.scalars(
            select(col(Draft.id)).where(
                Draft.answering(mention.id), col(Draft.state) == DraftState.POSTED
            )
        ).first()
        if ours_on_x is not None:
            continue
        back_to = MentionState.CLAIMED if mention.claimed_by else MentionState.OPEN
        if _answer_changed(
            session,
            mention,
            "unreplied",
            to=back_to,
            now=now,
            about={"tweet_id": tweet_id, "via": "x"},
            only_if=col(Mention.state) == MentionState.REPLIED,
        ):
            reopened.append(mention.id)
    return reopened


def _answer_changed(
    session: Session,
    mention: Mention,
    event: str,
    *,
    to: MentionState,
    now: datetime,
    about: dict[str, Any],
    only_if: ColumnElement[bool] | None = None,
    **values: Any,
) -> bool:
    """The system moves a mention because its answer on X changed (a reply of ours or one posted
    on X directly, posted or taken down), in the caller's transaction: the row (only where
    `only_if` still holds, when given), its card, and the audit entry `mention.<event>` with
    `about` (which draft or tweet). False when the row had already moved: nothing is recorded."""
    before = _audit_view(mention)
    result = session.execute(
        update(Mention)
        .where(col(Mention.id) == mention.id, true() if only_if is None else only_if)
        .values(state=to, version=col(Mention.version) + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False
    outbox.mark_changed(session, mention.card_id, now=now)
    audit.record(
        session,
        actor=audit.SYSTEM,
        action=f"mention.{event}",
        subject=f"mention:{mention.id}",
        at=now,
        before=before,
        after={**before, "state": str(to), **about},
    )
    return True


class MentionService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def claim(self, click: Click) -> None:
        self._transition(click, "claim")

    def release(self, click: Click) -> None:
        self._transition(click, "release")

    def resolve(self, click: Click) -> None:
        self._transition(click, "resolve")

    def reopen(self, click: Click) -> None:
        self._transition(click, "reopen")

    def reroute(self, click: Click, *, to_segment: str) -> None:
        if to_segment not in self._ctx.segments.names():
            raise ActionRefused(f"There is no segment called {to_segment!r}.")
        self._transition(click, "reroute", to_segment=to_segment)

    def dismiss(self, click: Click, *, reason: str, note: str) -> None:
        problems = dismissal_problems(reason, note)
        if problems:
            raise ActionRefused(" ".join(problems.values()))
        self._transition(click, "dismiss", dismiss_reason=dismissal_text(reason, note))

    def reply_form(self, click: Click, *, quote: bool = False) -> ReplyForm:
        """The mention to answer and its quoted context. Replying needs the claim: an unclaimed
        mention is claimed for the clicker here (audited as a claim, its card updates); someone
        else's claim refuses. Database reads and one conditional UPDATE, within Slack's 3 s."""
        action = "quote" if quote else "reply"
        located = self._locate(click, action)
        mention = located.mention
        check = self._checkpoint(click, action, mention.id)
        check.require(
            permissions.may_reply(
                actor=check.segment_actor(mention.segment),
                claimed_by=mention.claimed_by,
                state=str(mention.state),
            )
        )
        if mention.state == MentionState.OPEN:
            self._transition(click, "claim")  # a race lost here says who has it now
        with self._ctx.transaction(read_only=True) as session:
            current = session.get(Mention, mention.id)
            assert current is not None
            return ReplyForm(current, conversation_context(session, current), quote=quote)

    def dismiss_form(self, click: Click) -> tuple[DismissContext, Mention]:
        """What the reason modal needs. Only a database read, because Slack's trigger_id lives
        3 seconds; who may dismiss is decided when the form is submitted."""
        located = self._locate(click, "dismiss")
        context = DismissContext(located.mention.id, click.channel, click.message_ts)
        return context, located.mention

    def locate(self, click: Click, action: str) -> Located:
        """The live card clicked and its mention (refused, and audited, when it is neither)."""
        return self._locate(click, action)

    def transition_one(self, click: Click, mention_id: str, action: str, **changes: Any) -> None:
        """`action` on one mention found by id rather than by the card clicked (the bulk actions
        of bot/mentions/inbox.py): the same permission check and conditional update as a click
        on its own card. Refused (ActionRefused) when either says no."""
        with self._ctx.transaction() as session:
            mention = session.get(Mention, mention_id)
            card = (
                session.get(SlackMessage, mention.card_id) if mention and mention.card_id else None
            )
        if mention is None or card is None:
            self._refuse(click, action, mention_id, "That mention has no card.")
        assert mention is not None and card is not None
        self._permit(click, action, mention)
        self._move(Located(mention, card), click, action, changes)

    def permit(self, click: Click, action: str, mention: Mention) -> None:
        """The permission check a click on the mention's card makes (refused, and audited, as
        there): for a caller about to act on a mention it found by id."""
        self._permit(click, action, mention)

    def claim_if_free(self, click: Click, mention_id: str) -> bool:
        """Claim one mention found by id (Claim next on a surge summary): the same permission
        check (refused, and audited, as on its card) and conditional update as a click on its
        card; False, with nothing changed, when someone moved it first (take the next one)."""
        with self._ctx.transaction() as session:
            mention = session.get(Mention, mention_id)
            card = (
                session.get(SlackMessage, mention.card_id) if mention and mention.card_id else None
            )
        if mention is None or card is None:
            return False
        self._permit(click, "claim", mention)
        sources, target = TRANSITIONS["claim"]
        now = self._ctx.clock.now()
        actor = self._ctx.actor(click.person)
        values = self._values("claim", target, click, actor, now, {})
        try:
            self._apply(Located(mention, card), "claim", sources, values, actor, now)
        except Conflict:
            return False
        self._ctx.hooks.cards_changed()
        return True

    def _transition(self, click: Click, action: str, **changes: Any) -> None:
        self._move(self._authorise(click, action), click, action, changes)

    def _move(self, located: Located, click: Click, action: str, changes: dict[str, Any]) -> None:
        mention = located.mention
        if action == "reroute" and changes["to_segment"] == mention.segment:
            raise ActionRefused(f"It is already in {segment_label(mention.segment)}.")
        sources, target = TRANSITIONS[action]
        now = self._ctx.clock.now()
        actor = self._ctx.actor(click.person)
        values = self._values(action, target, click, actor, now, changes)
        try:
            self._apply(located, action, sources, values, actor, now)
        except Conflict:
            # Someone else changed the mention between our read and our write.
            raise ActionRefused(self._conflict_message(action, mention.id)) from None
        self._ctx.hooks.cards_changed()

    def _apply(
        self,
        located: Located,
        action: str,
        sources: frozenset[MentionState],
        values: dict[str, Any],
        actor: audit.Actor,
        now: datetime,
    ) -> None:
        mention = located.mention
        with self._ctx.transaction() as session:
            result = session.execute(
                update(Mention)
                .where(
                    and_(
                        col(Mention.id) == mention.id,
                        col(Mention.version) == mention.version,
                        col(Mention.state).in_(sources),
                    )
                )
                .values(**values, version=col(Mention.version) + 1)
            )
            if rowcount(result) != 1:
                raise Conflict
            current = session.get(Mention, mention.id)
            assert current is not None
            outbox.mark_changed(session, located.card.id, now=now)
            if action == "reroute":
                channel = self._ctx.segments.channel(current.segment)
                request = CardRequest(current.id, current.conversation_id, channel)
                create_cards(session, [request], now=now)
                # An answer's approval rules follow its mention's segment: its card shows them.
                replies = select(col(Draft.card_id)).where(Draft.answering(mention.id))
                for card_id in session.scalars(replies):
                    outbox.mark_changed(session, card_id, now=now)
            audit.record(
                session,
                actor=actor,
                action=f"mention.{action}",
                subject=f"mention:{mention.id}",
                at=now,
                before=_audit_view(mention),
                after=_audit_view(current),
            )

    def _values(
        self,
        action: str,
        target: MentionState,
        click: Click,
        actor: audit.Actor,
        now: datetime,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        values: dict[str, Any] = {"state": target}
        if action == "claim":
            values |= {
                "claimed_by": click.user_id,
                "claimed_by_name": actor.name,
                "claimed_at": now,
            }
        elif action in ("release", "reroute", "reopen"):
            values |= {"claimed_by": None, "claimed_by_name": None, "claimed_at": None}
            values |= {"closed_by": None, "closed_by_name": None, "closed_at": None}
            values |= {"dismiss_reason": None}
        if action in ("resolve", "dismiss"):
            values |= {"closed_by": click.user_id, "closed_by_name": actor.name, "closed_at": now}
        if action == "reroute":
            values |= {
                "segment": changes["to_segment"],
                "route_reason": f"rerouted by {actor.name}",
            }
        if action == "dismiss":
            values["dismiss_reason"] = changes["dismiss_reason"]
        return values

    def _authorise(self, click: Click, action: str) -> Located:
        located = self._locate(click, action)
        self._permit(click, action, located.mention)
        return located

    def _permit(self, click: Click, action: str, mention: Mention) -> None:
        check = self._checkpoint(click, action, mention.id)
        decision = permissions.may_act_on_mention(
            action, actor=check.segment_actor(mention.segment), claimed_by=mention.claimed_by
        )
        check.require(decision)

    def _locate(self, click: Click, action: str) -> Located:
        """Find the card by where the click happened, and the mention it shows."""
        with self._ctx.transaction(read_only=True) as session:
            card = self._ctx.card_at(session, MENTION_CARD, click)
            mention = session.get(Mention, card.subject_id) if card else None
        if card is None or mention is None:
            self._refuse(
                click, action, _mention_id(click) or "unknown", "That card isn't one of mine."
            )
        assert card is not None and mention is not None
        claimed = _mention_id(click)
        if claimed is not None and claimed != mention.id:
            self._refuse(
                click,
                action,
                mention.id,
                "That button doesn't match its card; nothing was changed.",
            )
        if mention.card_id != card.id:
            channel = self._ctx.segments.channel(mention.segment)
            self._refuse(
                click, action, mention.id, f"This mention moved to <#{channel}>; act on it there."
            )
        return Located(mention, card)

    def _checkpoint(self, click: Click, action: str, mention_id: str) -> Checkpoint:
        subject = f"mention:{mention_id}"
        return Checkpoint(self._ctx, click.person, click.channel, "mention", subject, action)

    def _refuse(self, click: Click, action: str, mention_id: str, reason: str) -> NoReturn:
        self._checkpoint(click, action, mention_id).refuse(reason)

    def _conflict_message(self, action: str, mention_id: str) -> str:
        with self._ctx.transaction(read_only=True) as session:
            mention = session.get(Mention, mention_id)
        if mention is None:
            return "That mention no longer exists."
        if action == "claim" and mention.state == MentionState.CLAIMED:
            return f"Already claimed by <@{mention.claimed_by}>."
        label = segment_label(mention.segment)
        return f"Someone changed this mention just now (it is {mention.state}, in {label}); the card shows the latest."


def _mention_id(click: Click) -> str | None:
    """The mention a card's button says it is for: its value, or (a menu) its block's suffix."""
    if click.value is not None:
        return click.value
    return click.block_id.partition(":")[2] or None


def _audit_view(mention: Mention) -> dict[str, Any]:
    return {
        "state": str(mention.state),
        "segment": mention.segment,
        "claimed_by": mention.claimed_by,
        "closed_by": mention.closed_by,
        "dismiss_reason": mention.dismiss_reason,
    }
