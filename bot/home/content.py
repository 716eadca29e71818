"""What one person's Home tab shows, read from the database (and Slack's directory, cached).

Showing is not acting: when Slack cannot say who is in a group, the home says so and leaves
those parts out rather than refusing anything (no refusal is audited for a view). Every button
on it acts through the same services, and checks, as its card.

One `Snapshot` of the pending drafts and the freezes serves every home rendered in one pass, so
a burst of changes costs one read of them, not one per person."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from bot.core.context import ServiceContext
from bot.core.models import Draft, DraftState, Freeze, Mention, MentionState, SlackMessage
from bot.drafts.service import candidate_texts
from bot.drafts.standing import (
    approval_decision,
    approvals_of,
    editors_of,
    progress_note,
    rules_for,
)
from bot.freeze.gate import freezes_in_force
from bot.mentions.surge import surges_waiting
from bot.slack.cards.app_home import (
    SHOWN,
    SHOWN_MINE,
    AwaitingDraft,
    ClaimedMention,
    HomeView,
    SegmentSummary,
)
from bot.slack.cards.surge_summary import SurgeLine
from bot.slack.directory import DirectoryUnavailable
from policies.approvals import ApprovalRule, approval_progress, awaits, principals_of
from policies.lint import text_fingerprint
from policies.response_time import response_clock

CANT_CHECK_APPROVALS = (
    ":warning: I couldn't ask Slack who is in the approvers' groups just now, so drafts waiting "
    "for you are not listed; they are on their cards."
)
CANT_CHECK_ADMIN = ":warning: I couldn't check with Slack whether you are an admin just now."
CANT_CHECK_SURGES = (
    ":warning: I couldn't check with Slack which channels you are in just now, so surges are not "
    "listed; their summaries are in the segments' channels."
)


@dataclass(frozen=True)
class _Pending:
    """A pending draft and the facts that say who it waits for."""

    draft: Draft
    rules: list[ApprovalRule]
    texts: list[tuple[str, list[str], set[str]]]  # (hash, who approved it, who wrote it)
    channel: str
    card_ts: str | None


@dataclass
class Snapshot:
    """What every home shows alike, read once per pass."""

    at: datetime
    freezes: list[Freeze]
    pending: list[_Pending]
    members: dict[str, frozenset[str]] | None  # None: Slack could not say


Permalink = Callable[[str, str], str | None]  # (channel, ts) → the message's permalink


class Permalinks:
    """Slack's permalink of a message, asked once per message (it never changes); None while
    Slack can't say."""

    def __init__(self, client: WebClient, *, keep: int = 2000) -> None:
        self._client = client
        self._keep = keep
        self._known: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def __call__(self, channel: str, ts: str) -> str | None:
        with self._lock:
            known = self._known.get((channel, ts))
        if known is not None:
            return known
        try:
            link = str(self._client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except Exception:
            return None
        with self._lock:
            if len(self._known) >= self._keep:
                self._known.clear()
            self._known[channel, ts] = link
        return link


class HomeContent:
    def __init__(self, ctx: ServiceContext, *, permalink: Permalink) -> None:
        self._ctx = ctx
        self._permalink = permalink

    def snapshot(self) -> Snapshot:
        now = self._ctx.clock.now()
        with self._ctx.transaction(read_only=True) as session:
            freezes = freezes_in_force(session, now)
            pending = self._pending(session)
        try:  # asks Slack (cached): outside the transaction
            members: dict[str, frozenset[str]] | None = self._ctx.directory.members(
                {p for item in pending for p in principals_of(item.rules)}
            )
        except DirectoryUnavailable:
            members = None
        return Snapshot(at=now, freezes=freezes, pending=pending, members=members)

    def view_for(self, user_id: str, snapshot: Snapshot, *, notice: str | None = None) -> HomeView:
        with self._ctx.transaction(read_only=True) as session:
            claimed = self._claimed(session, user_id, snapshot.at)
            mine = list(
                session.scalars(
                    select(Draft)
                    .where(col(Draft.author_id) == user_id)
                    .order_by(col(Draft.id).desc())
                    .limit(SHOWN_MINE)
                )
            )
            mine_total = session.scalar(
                select(func.count()).select_from(Draft).where(col(Draft.author_id) == user_id)
            )
            surges = surges_waiting(session)
        unchecked: list[str] = []
        awaiting: list[AwaitingDraft] = []
        if snapshot.members is None:
            unchecked.append(CANT_CHECK_APPROVALS)
        else:
            awaiting = self._awaiting(user_id, snapshot, snapshot.members)
        segments = None
        admin = False
        try:
            admin = self._ctx.directory.includes(user_id, self._ctx.segments.admins)
        except DirectoryUnavailable:
            unchecked.append(CANT_CHECK_ADMIN)
        if admin:
            segments = self.segments()
        else:
            surges = self._in_their_channels(user_id, surges, unchecked)
        return HomeView(
            user_id=user_id,
            freezes=snapshot.freezes,
            claimed=claimed[:SHOWN],
            awaiting=awaiting[:SHOWN],
            mine=mine,
            segments=segments,
            notice=notice,
            unchecked=unchecked,
            more_claimed=max(0, len(claimed) - SHOWN),
            more_awaiting=max(0, len(awaiting) - SHOWN),
            more_mine=max(0, int(mine_total or 0) - len(mine)),
            surges=surges,
        )

    def _in_their_channels(
        self, user_id: str, surges: list[SurgeLine], unchecked: list[str]
    ) -> list[SurgeLine]:
        """The surges in channels the person is in: only there can they claim from one (as on
        its summary), and a private segment's storm is not for the whole workspace to see.
        Admins see every surge. Fail closed when Slack can't say."""
        shown: list[SurgeLine] = []
        try:
            for line in surges:
                if user_id in self._ctx.directory.channel_members(line.surge.channel):
                    shown.append(line)
        except DirectoryUnavailable:
            unchecked.append(CANT_CHECK_SURGES)
            return []
        return shown

    def segments(self) -> list[SegmentSummary]:
        """Each segment as the effective configuration (app.yaml and overrides) has it now."""
        config = self._ctx.segments.config
        return [
            SegmentSummary(
                name=name,
                channel=segment.channel,
                approvers=list(segment.approvers),
                approvals_required=int(segment.approvals_required or 1),
                first_response_minutes=segment.first_response_minutes,
                accounts=[a.handle for a in config.accounts_for(name)],
                keywords=list(segment.follow.keywords),
                hashtags=list(segment.follow.hashtags),
                authors=list(segment.follow.authors),
            )
            for name, segment in config.segments.items()
        ]

    # -- reads ------------------------------------------------------------------------------

    def _claimed(self, session: Session, user_id: str, now: datetime) -> list[ClaimedMention]:
        # Theirs to work: what they claimed, and what was assigned to them that nobody has
        # claimed yet (the DM asks them to claim it; someone else's claim means it is worked).
        mentions = session.scalars(
            select(Mention)
            .where(
                or_(
                    and_(
                        col(Mention.state) == MentionState.CLAIMED,
                        col(Mention.claimed_by) == user_id,
                    ),
                    and_(
                        col(Mention.state) == MentionState.OPEN,
                        col(Mention.assigned_to) == user_id,
                    ),
                )
            )
            .order_by(col(Mention.tweeted_at))
        )
        catalog = self._ctx.segments
        claimed = []
        for mention in mentions:
            card = session.get(SlackMessage, mention.card_id) if mention.card_id else None
            if mention.segment in catalog.config.segments:
                target = catalog.view(mention.segment).first_response_minutes
                channel = catalog.channel(mention.segment)
            else:  # a segment since removed from the config: its card still stands
                target, channel = 60, card.channel if card else ""
            clock = response_clock(since=mention.tweeted_at, now=now, target_minutes=target)
            claimed.append(
                ClaimedMention(
                    mention,
                    clock,
                    card.channel if card else channel,
                    assigned=mention.state == MentionState.OPEN,
                )
            )
        return claimed

    def _pending(self, session: Session) -> list[_Pending]:
        drafts = session.scalars(
            select(Draft).where(col(Draft.state) == DraftState.PENDING).order_by(col(Draft.id))
        )
        pending = []
        for draft in drafts:
            approvals = approvals_of(session, draft)
            texts = [
                (
                    digest,
                    [a.approver_id for a in approvals if a.text_hash == digest],
                    editors_of(session, draft, digest),
                )
                for digest in map(text_fingerprint, candidate_texts(draft))
            ]
            card = session.get(SlackMessage, draft.card_id) if draft.card_id else None
            pending.append(
                _Pending(
                    draft=draft,
                    rules=rules_for(session, self._ctx.segments, draft),
                    texts=texts,
                    channel=card.channel if card else self._channel_of(draft.segment),
                    card_ts=card.ts if card else None,
                )
            )
        return pending

    def _channel_of(self, segment: str) -> str:
        config = self._ctx.segments.config
        return config.segments[segment].channel if segment in config.segments else ""

    def _awaiting(
        self, user_id: str, snapshot: Snapshot, members: dict[str, frozenset[str]]
    ) -> list[AwaitingDraft]:
        """The pending drafts this person may approve (the rule the Approve button applies)
        and whose approval would count toward a rule not met yet."""
        awaiting = []
        for item in snapshot.pending:
            waiting = False
            progress_shown = None
            for digest, approvers, editors in item.texts:
                if user_id in approvers:  # they approved one of its texts already
                    waiting = False
                    break
                decision = approval_decision(user_id, item.draft, item.rules, members, editors)
                progress = approval_progress(
                    item.rules,
                    approvals=approvers,
                    author=item.draft.author_id,
                    editors=editors,
                    members=members,
                )
                if digest == item.draft.text_hash:
                    progress_shown = progress
                waiting = waiting or (decision.allowed and awaits(user_id, progress, members))
            if not waiting or progress_shown is None:
                continue
            link = None
            if len(item.texts) > 1 and item.card_ts:
                link = self._permalink(item.channel, item.card_ts)
            awaiting.append(
                AwaitingDraft(
                    draft=item.draft,
                    so_far=progress_note(progress_shown),
                    texts=len(item.texts),
                    channel=item.channel,
                    card_link=link,
                )
            )
        return awaiting
