"""Durable Slack outbox: every card the app posts or updates goes through the `slack_message` table.

A worker takes due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, a lease on both, so replicas take
different rows), renders each from the database's current state, and posts or updates it.

It paces itself before Slack says no (bot/slack/pacing.py): each send takes a token from its
channel's bucket, shared by every replica, in the transaction that takes the row; a channel with
no token left sits out the pass while other channels go on, and the worker sleeps until the
next token rather than until its next idle check. A channel's messages go out updates first (a
click is waiting for them), then new ones in the order things happened (`send_order`: a mention
card by its tweet id). Failures reschedule the row with backoff; a 429 holds only what Slack
limited (the channel, or the method's tier for a search). Nothing is dropped. A post whose
outcome is unknown (timeout, 5xx) is looked up in the channel history by its metadata before
being posted again, so a retry never duplicates a card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, and_, func, literal, not_, or_, select, true, update
from sqlmodel import Session, col

from bot.core.clock import Clock
from bot.core.db import insert_page, is_postgres, rowcount, skip_locked, table_of, transaction
from bot.core.leader import live_owners
from bot.core.models import SlackMessage
from bot.core.retry import backoff, describe_failure, retry_after
from bot.core.worker import Worker
from bot.slack.pacing import CHANNEL, Pacer, Rate, channel_key, hold_key, method_key

log = logging.getLogger(__name__)

METADATA_EVENT = "brandbot_message"
TWITTER_EPOCH_MS = 1288834974657  # X's ids count milliseconds from here, shifted left 22 bits
POST, UPDATE = "chat.postMessage", "chat.update"
HISTORY, REPLIES = "conversations.history", "conversations.replies"


class Taken(Enum):
    """What trying to take one due row for sending came to."""

    TAKEN = "taken"  # leased to this worker, its channel's token spent: send it now
    GONE = "gone"  # sent, taken or rescheduled by someone else meanwhile
    LATER = "later"  # rescheduled: its thread's root or its search must wait
    PACED = "paced"  # its channel has no token left: the channel sits out this pass


def send_order_at(at: datetime) -> int:
    """A snowflake of `at`, on the scale of X's tweet ids, so cards and other messages
    interleave by time."""
    return max(0, int(at.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22


@dataclass(frozen=True)
class Rendered:
    text: str
    blocks: list[dict[str, Any]]


Renderer = Callable[[Session, SlackMessage], Rendered]


@dataclass(frozen=True)
class NewMessage:
    kind: str
    subject_id: str
    channel: str
    thread_root_id: int | None = None
    conversation_key: str | None = None
    # where it goes in its channel's queue: a mention card passes its tweet id; None: now
    send_order: int | None = None


def enqueue(session: Session, messages: list[NewMessage], *, now: datetime) -> dict[str, int]:
    """Queue messages for posting (one bulk INSERT); returns each subject's new message id."""
    if not messages:
        return {}
    queued_at = send_order_at(now)
    # Plain dicts and one INSERT … RETURNING for them all: ingest queues a page of cards at a
    # time, and dataclasses.asdict and the ORM's bulk path cost more than the statement itself.
    rows = [
        {
            "kind": m.kind,
            "subject_id": m.subject_id,
            "channel": m.channel,
            "thread_root_id": m.thread_root_id,
            "conversation_key": m.conversation_key,
            "send_order": queued_at if m.send_order is None else m.send_order,
            "revision": 0,
            "synced_revision": -1,
            "pending": True,
            "due_at": now,
            "attempts": 0,
            "outcome_unknown": False,
            "created_at": now,
        }
        for m in messages
    ]
    table = table_of(SlackMessage)
    inserted = insert_page(session, table, rows, returning=[table.c.subject_id, table.c.id])
    return dict(cast(list[tuple[str, int]], inserted.all()))  # subject -> its message's id


def message_at(session: Session, *, kind: str, channel: str, ts: str) -> SlackMessage | None:
    """Our message of this kind at this place in Slack, found by where a click came from."""
    return session.execute(
        select(SlackMessage).where(
            col(SlackMessage.kind) == kind,
            col(SlackMessage.channel) == channel,
            col(SlackMessage.ts) == ts,
        )
    ).scalar_one_or_none()


def mark_changed(session: Session, message_id: int | None, *, now: datetime) -> None:
    """The subject changed: the message must be re-rendered and sent again. (A subject with no
    message yet, None, matches no row.)"""
    session.execute(
        update(SlackMessage)
        .where(col(SlackMessage.id) == message_id)
        .values(revision=col(SlackMessage.revision) + 1, pending=True, due_at=now)
    )


@dataclass(kw_only=True)
class Outbox(Worker):
    engine: Engine
    client: WebClient
    clock: Clock
    renderers: dict[str, Renderer]
    owner: str
    lease_seconds: int = 60
    # PostgreSQL: a row leased by a replica that is gone (no presence connection) is taken once
    # its last fence is this old, not when its lease runs out: the fence comes right before each
    # Slack call, which the client gives up on after 10 s, so whatever the owner sent has
    # reached Slack (and is found by its metadata) or never will. Without it a SIGKILLed
    # replica held its channel's next cards for the whole lease.
    take_from_the_dead: bool = False
    takeover_grace: timedelta = timedelta(seconds=20)
    batch_size: int = 20
    # each channel's bucket (app.yaml slack_pacing); None: unpaced (429s are still honoured)
    pacing: Rate | None = field(default_factory=Rate)
    # run before each pass, outside any transaction (renderers run inside one and must not ask
    # Slack): e.g. learning the workspace URL that permalinks are built from
    before_pass: list[Callable[[], None]] = field(default_factory=list)
    # kind -> what to do (in the transaction recording it) once a message of that kind is first
    # in Slack: another message may link to it (a mention card to its reply's approval card)
    on_first_post: dict[str, Callable[[Session, str, datetime], None]] = field(default_factory=dict)
    _next_at: datetime | None = field(default=None, init=False, repr=False)

    @property
    def _pacer(self) -> Pacer:
        return Pacer(engine=self.engine, rate=self.pacing)

    def work(self) -> int:
        return self.deliver_due()

    def idle_wait(self) -> float:
        """Sleep until the next token or due message, not a whole idle check (a channel paced
        at 1/s then sends every second, not every 1.1)."""
        if self._next_at is None:
            return self.idle_seconds
        until = (self._next_at - self.clock.now()).total_seconds()
        return min(self.idle_seconds, max(0.0, until))

    def deliver_due(self) -> int:
        """Send every due message once, as far as each channel's pace allows; return how many
        were sent successfully."""
        sent = 0
        due = self._due(self.clock.now())
        for prepare in self.before_pass if due else []:
            prepare()
        paced: set[str] = set()  # channels out of tokens: their later messages wait in order
        for message_id, channel in due:
            if channel in paced:
                continue
            taken = self._take(message_id)
            if taken is Taken.PACED:
                paced.add(channel)
            if taken is not Taken.TAKEN:
                continue
            try:
                sent += self._deliver(message_id)
            except Exception as exc:  # e.g. a renderer bug: this row waits, the others go on
                log.exception("slack message %s could not be prepared", message_id)
                self._failed(message_id, exc, method=None, channel=None)
        return sent

    def pending_count(self) -> int:
        with transaction(self.engine, read_only=True) as session:
            return len(
                session.execute(select(col(SlackMessage.id)).where(col(SlackMessage.pending))).all()
            )

    @property
    def _takes_from_the_dead(self) -> bool:
        return self.take_from_the_dead and is_postgres(self.engine)

    def _free(self, now: datetime) -> Any:
        """Not leased: never, or the lease ran out, or (PostgreSQL, `take_from_the_dead`) its
        owner is gone and fenced its last call `takeover_grace` ago."""
        expired = or_(col(SlackMessage.lease_until).is_(None), col(SlackMessage.lease_until) < now)
        if not self._takes_from_the_dead:
            return expired
        fenced_before = now + timedelta(seconds=self.lease_seconds) - self.takeover_grace
        return or_(
            expired,
            and_(
                col(SlackMessage.lease_owner).not_in(live_owners()),
                col(SlackMessage.lease_until) <= fenced_before,
            ),
        )

    def _seen_alive(self) -> Any:
        """True while the other replicas can see us alive. One they take for dead takes no row
        and makes no call: they may be taking over its rows."""
        if not self._takes_from_the_dead:
            return true()
        return literal(self.owner).in_(live_owners())

    def _fence(self, session: Session, message_id: int, *, reposting: bool = False) -> bool:
        """Right before a Slack call: renew our lease while it is ours and we are seen alive,
        in one conditional update that a taker's row lock orders against. If not, let go of
        it (nothing of this step was sent), and the caller stops. `reposting` a card someone
        deleted: its ts goes and its outcome is unknown until the new one is recorded, so a
        taker looks for the new copy rather than updating the deleted one."""
        until = self.clock.now() + timedelta(seconds=self.lease_seconds)
        ours = and_(col(SlackMessage.id) == message_id, col(SlackMessage.lease_owner) == self.owner)
        reposted: dict[str, Any] = {"ts": None, "outcome_unknown": True} if reposting else {}
        renewed = session.execute(
            update(SlackMessage)
            .where(ours, self._seen_alive())
            .values(lease_until=until, **reposted)
        )
        if rowcount(renewed) == 1:
            return True
        session.execute(update(SlackMessage).where(ours).values(lease_owner=None, lease_until=None))
        return False

    def _due(self, now: datetime) -> list[tuple[int, str]]:
        """The next due messages of every channel that may be sent to now, in sending order;
        and when the next one that is not due yet will be (for `idle_wait`)."""
        due = and_(col(SlackMessage.pending), col(SlackMessage.due_at) <= now, self._free(now))
        with transaction(self.engine, read_only=True) as session:
            waiting = self._pacer.waiting(session, now=now)
            paced = [key.removeprefix(CHANNEL) for key in waiting if key.startswith(CHANNEL)]
            rows = session.execute(
                select(col(SlackMessage.id), col(SlackMessage.channel))
                .where(due, col(SlackMessage.channel).not_in(paced))
                .order_by(
                    col(SlackMessage.ts).is_(None),  # updates first: someone clicked
                    col(SlackMessage.send_order),
                    col(SlackMessage.id),
                )
                .limit(self.batch_size)
            ).all()
            later = session.execute(
                select(func.min(col(SlackMessage.due_at))).where(
                    col(SlackMessage.pending), col(SlackMessage.due_at) > now
                )
            ).scalar_one_or_none()
        self._next_at = min([*waiting.values(), *([later] if later else [])], default=None)
        return [(message_id, channel) for message_id, channel in rows]

    def _take(self, message_id: int) -> Taken:
        """Take one row just before sending it (so a lease never outlives a slow batch) and its
        channel's token, in one transaction: a token is spent only on a message being sent."""
        now = self.clock.now()
        with transaction(self.engine) as session:
            query = select(SlackMessage).where(
                col(SlackMessage.id) == message_id,
                col(SlackMessage.pending),
                col(SlackMessage.due_at) <= now,
                self._free(now),
                self._seen_alive(),
            )
            message = session.scalars(skip_locked(query, self.engine)).one_or_none()
            if message is None:
                return Taken.GONE
            if message.thread_root_id is not None:
                root = session.get(SlackMessage, message.thread_root_id)
                for _ in range(3):  # bounded: a retired card points at a summary, not a chain
                    # Its root will never be posted (a card folded into a surge summary, which
                    # points at the summary): the reply goes where the root went.
                    if root is None or root.ts is not None or root.pending:
                        break
                    if root.thread_root_id is None or root.thread_root_id == root.id:
                        break
                    message.thread_root_id = root.thread_root_id
                    root = session.get(SlackMessage, root.thread_root_id)
                if root is not None and root.ts is None:  # a reply waits for its thread
                    self._reschedule(session, message, delay=timedelta(seconds=1), error=None)
                    return Taken.LATER
            if message.ts is None and message.outcome_unknown:
                search = REPLIES if message.thread_root_id is not None else HISTORY
                held = self._pacer.held(session, method_key(search), now=now)
                if held is not None:  # Slack asked the search to wait: so does this post
                    self._reschedule(session, message, delay=held, error=None)
                    return Taken.LATER

            def ready() -> bool:  # one message in flight per channel, so they arrive in order
                return not self._in_flight(session, message, now)

            key = channel_key(message.channel)
            if self._pacer.take(session, key, now=now, ready=ready) is not None:
                return Taken.PACED
            message.lease_owner = self.owner
            message.lease_until = now + timedelta(seconds=self.lease_seconds)
            session.add(message)
            return Taken.TAKEN

    def _still_ours(self, message_id: int, *, reposting: bool = False) -> bool:
        """Fence again before a call that follows another: if we were taken for dead meanwhile,
        the taker sends it."""
        with transaction(self.engine) as session:
            return self._fence(session, message_id, reposting=reposting)

    def _in_flight(self, session: Session, message: SlackMessage, now: datetime) -> bool:
        """Is another message of this channel being sent (by any replica) right now?"""
        leased = select(col(SlackMessage.id)).where(
            col(SlackMessage.channel) == message.channel,
            col(SlackMessage.id) != message.id,
            not_(self._free(now)),
        )
        return session.execute(leased.limit(1)).first() is not None

    def _deliver(self, message_id: int) -> bool:
        with transaction(self.engine) as session:
            if not self._fence(session, message_id):
                return False
            message = session.get(SlackMessage, message_id)
            if message is None:
                return False
            root_ts = None
            if message.thread_root_id is not None:
                root = session.get(SlackMessage, message.thread_root_id)
                root_ts = root.ts if root else None
            revision = message.revision
            rendered = self.renderers[message.kind](session, message)
            channel, ts, created_at = message.channel, message.ts, message.created_at
            kind, subject_id, first_post = message.kind, message.subject_id, message.ts is None
            search_first = message.outcome_unknown
            if ts is None:
                # A post is about to be attempted: if this worker dies before recording its
                # ts, whoever takes the row over searches Slack before posting again.
                message.outcome_unknown = True
                session.add(message)
        method = None  # the call that failed, if one does
        try:
            if ts is None and search_first:
                method = REPLIES if root_ts else HISTORY
                ts = self._search_for(channel, message_id, created_at, root_ts)
                if not self._still_ours(message_id):  # a search may take a while
                    return False
                if ts is not None:  # it did reach Slack: bring it up to date instead
                    method = UPDATE
                    self._update(channel, ts, message_id, rendered)
            elif ts is not None:
                try:
                    method = UPDATE
                    self._update(channel, ts, message_id, rendered)
                except SlackApiError as exc:
                    if exc.response.get("error") != "message_not_found":
                        raise
                    ts = None  # someone deleted the card: post it again
                    if not self._still_ours(message_id, reposting=True):
                        return False
            if ts is None:
                method = POST
                ts = self._post(channel, message_id, rendered, root_ts)
        except Exception as exc:  # Slack errors, timeouts, resets: rescheduled, never dropped
            # A failed search proves nothing: the next attempt searches again before posting.
            self._failed(message_id, exc, method=method, channel=channel)
            return False
        with transaction(self.engine) as session:
            recorded = session.execute(
                update(SlackMessage)
                .where(
                    col(SlackMessage.id) == message_id, col(SlackMessage.lease_owner) == self.owner
                )
                .values(
                    ts=ts,
                    synced_revision=revision,
                    pending=col(SlackMessage.revision) > revision,
                    attempts=0,
                    outcome_unknown=False,
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                )
            )
            now = self.clock.now()
            self._pacer.sent(session, channel_key(channel), at=now)
            if rowcount(recorded) == 0:  # taken for dead meanwhile: the taker finds and records it
                return False
            posted = self.on_first_post.get(kind) if first_post else None
            if posted is not None:
                posted(session, subject_id, now)
        return True

    def _post(
        self, channel: str, message_id: int, rendered: Rendered, thread_ts: str | None
    ) -> str:
        response = self.client.chat_postMessage(
            channel=channel,
            text=rendered.text,
            blocks=rendered.blocks or None,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata=_metadata(message_id),
        )
        return str(response["ts"])

    def _update(self, channel: str, ts: str, message_id: int, rendered: Rendered) -> None:
        self.client.chat_update(
            channel=channel,
            ts=ts,
            text=rendered.text,
            blocks=rendered.blocks or None,
            metadata=_metadata(message_id),
        )

    def _search_for(
        self, channel: str, message_id: int, since: datetime, thread_ts: str | None
    ) -> str | None:
        """Our earlier post of this message, if Slack lets us look. A 429 or 5xx raises (look
        again later); a refusal to search at all (`not_in_channel` in a public channel the bot
        posts to without joining, `channel_not_found` for a DM sent to a user ID) never goes
        away, so the message is posted: a card that never arrives is worse than one that may
        arrive twice."""
        try:
            return self._find_posted(channel, message_id, since, thread_ts)
        except SlackApiError as exc:
            if exc.response.status_code != 200:
                raise
            log.warning(
                "slack message %s: cannot search %s for an earlier post (%s); posting it, "
                "it may appear twice",
                message_id,
                channel,
                exc.response.get("error"),
            )
            return None

    def _find_posted(
        self, channel: str, message_id: int, since: datetime, thread_ts: str | None
    ) -> str | None:
        """Look for our own earlier post of this message (by its metadata): in its thread for a
        reply (channel history never lists replies), else in the channel's history."""
        oldest = (since - timedelta(minutes=5)).timestamp()
        cursor = None
        while True:
            params: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{oldest:.6f}",
                "include_all_metadata": True,
                "limit": 200,
                "cursor": cursor,
            }
            if thread_ts:
                page = self.client.conversations_replies(ts=thread_ts, **params)
            else:
                page = self.client.conversations_history(**params)
            messages: list[dict[str, Any]] = page.get("messages", [])
            for item in messages:
                meta = item.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == METADATA_EVENT and payload.get("id") == message_id:
                    return str(item["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def _failed(
        self, message_id: int, exc: Exception, *, method: str | None, channel: str | None
    ) -> None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        wait = retry_after(exc)
        # A 429 or an ok:false answer means Slack refused the post; anything else may have posted.
        refused = status == 429 or (status == 200 and isinstance(exc, SlackApiError))
        error = describe_failure(exc)
        log.warning("slack message %s not delivered: %s", message_id, error)
        now = self.clock.now()
        with transaction(self.engine) as session:
            # Locked: a taker must not take it between our check and our write.
            message = session.get(SlackMessage, message_id, with_for_update=True)
            if message is None or message.lease_owner != self.owner:
                return
            if method == POST:
                # We only post after a search found nothing (or nothing was ever attempted),
                # so a refusal proves no copy exists.
                message.outcome_unknown = not refused
            delay = wait or backoff(message.attempts)
            self._reschedule(session, message, delay=delay, error=error, now=now)
            if channel:  # a call was made on the channel's token
                self._pacer.sent(session, channel_key(channel), at=now)
            if wait and method:
                # Slack limits messages per channel and other methods per method: hold only
                # that, on every replica.
                self._pacer.hold(session, hold_key(method, channel), wait, now=now)

    def _reschedule(
        self,
        session: Session,
        message: SlackMessage,
        *,
        delay: timedelta,
        error: str | None,
        now: datetime | None = None,
    ) -> None:
        # `now`: the hold's, so a refused message is due exactly when its channel is free again
        # and goes first, in order
        message.attempts += 1 if error else 0
        message.due_at = (now or self.clock.now()) + delay
        message.lease_owner = None
        message.lease_until = None
        message.last_error = error
        session.add(message)


def _metadata(message_id: int) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT, "event_payload": {"id": message_id}}
