"""Durable Slack outbox: every card the app posts or updates goes through the `slack_message` table.

A worker leases due rows (a conditional UPDATE, safe on SQLite and PostgreSQL, across replicas),
renders each from the database's current state, and posts or updates it. Failures reschedule the
row with backoff (honouring Retry-After); nothing is dropped. A post whose outcome is unknown
(timeout, 5xx) is looked up in the channel history by its metadata before being posted again,
so a retry never duplicates a card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, and_, or_, select, update
from sqlmodel import Session, col

from bot.core.clock import Clock
from bot.core.db import insert_page, rowcount, table_of, transaction
from bot.core.models import SlackMessage
from bot.core.retry import backoff, describe_failure, retry_after
from bot.core.worker import Worker

log = logging.getLogger(__name__)

METADATA_EVENT = "brandbot_message"


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


def enqueue(session: Session, messages: list[NewMessage], *, now: datetime) -> dict[str, int]:
    """Queue messages for posting (one bulk INSERT); returns each subject's new message id."""
    if not messages:
        return {}
    # Plain dicts and one INSERT … RETURNING for them all: ingest queues a page of cards at a
    # time, and dataclasses.asdict and the ORM's bulk path cost more than the statement itself.
    rows = [
        {
            "kind": m.kind,
            "subject_id": m.subject_id,
            "channel": m.channel,
            "thread_root_id": m.thread_root_id,
            "conversation_key": m.conversation_key,
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
    batch_size: int = 20
    # run before each pass, outside any transaction (renderers run inside one and must not ask
    # Slack): e.g. learning the workspace URL that permalinks are built from
    before_pass: list[Callable[[], None]] = field(default_factory=list)
    # kind -> what to do (in the transaction recording it) once a message of that kind is first
    # in Slack: another message may link to it (a mention card to its reply's approval card)
    on_first_post: dict[str, Callable[[Session, str, datetime], None]] = field(default_factory=dict)

    def work(self) -> int:
        return self.deliver_due()

    def deliver_due(self) -> int:
        """Send every due message once; return how many were sent successfully."""
        sent = 0
        due = self._due_ids(self.clock.now())
        for prepare in self.before_pass if due else []:
            prepare()
        for message_id in due:
            if not self._lease(message_id):
                continue
            try:
                sent += self._deliver(message_id)
            except Exception as exc:  # e.g. a renderer bug: this row waits, the others go on
                log.exception("slack message %s could not be prepared", message_id)
                self._failed(message_id, exc, posting=False, channel=None)
        return sent

    def pending_count(self) -> int:
        with transaction(self.engine) as session:
            return len(
                session.execute(select(col(SlackMessage.id)).where(col(SlackMessage.pending))).all()
            )

    def _free(self, now: datetime) -> Any:
        return or_(col(SlackMessage.lease_until).is_(None), col(SlackMessage.lease_until) < now)

    def _due_ids(self, now: datetime) -> list[int]:
        due = and_(col(SlackMessage.pending), col(SlackMessage.due_at) <= now, self._free(now))
        with transaction(self.engine) as session:
            return list(
                session.execute(
                    select(col(SlackMessage.id))
                    .where(due)
                    .order_by(col(SlackMessage.id))
                    .limit(self.batch_size)
                ).scalars()
            )

    def _lease(self, message_id: int) -> bool:
        """Take one row just before sending it, so a lease never outlives a slow batch."""
        now = self.clock.now()
        with transaction(self.engine) as session:
            result = session.execute(
                update(SlackMessage)
                .where(
                    col(SlackMessage.id) == message_id,
                    col(SlackMessage.pending),
                    col(SlackMessage.due_at) <= now,
                    self._free(now),
                )
                .values(
                    lease_owner=self.owner, lease_until=now + timedelta(seconds=self.lease_seconds)
                )
            )
            return rowcount(result) == 1

    def _deliver(self, message_id: int) -> bool:
        with transaction(self.engine) as session:
            message = session.get(SlackMessage, message_id)
            if message is None or message.lease_owner != self.owner:
                return False
            root_ts = None
            if message.thread_root_id is not None:
                root = session.get(SlackMessage, message.thread_root_id)
                root_ts = root.ts if root else None
                if root is not None and root_ts is None:
                    self._reschedule(session, message, delay=timedelta(seconds=1), error=None)
                    return False
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
        posting = False  # is the failure, if any, of the post itself (not of the search)?
        try:
            if ts is None and search_first:
                ts = self._search_for(channel, message_id, created_at, root_ts)
                if ts is not None:  # it did reach Slack: bring it up to date instead
                    self._update(channel, ts, message_id, rendered)
            elif ts is not None:
                try:
                    self._update(channel, ts, message_id, rendered)
                except SlackApiError as exc:
                    if exc.response.get("error") != "message_not_found":
                        raise
                    ts = None  # someone deleted the card: post it again
            if ts is None:
                posting = True
                ts = self._post(channel, message_id, rendered, root_ts)
        except Exception as exc:  # Slack errors, timeouts, resets: rescheduled, never dropped
            # A failed search proves nothing: the next attempt searches again before posting.
            self._failed(message_id, exc, posting=posting, channel=channel)
            return False
        with transaction(self.engine) as session:
            session.execute(
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
            posted = self.on_first_post.get(kind) if first_post else None
            if posted is not None:
                posted(session, subject_id, self.clock.now())
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
        self, message_id: int, exc: Exception, *, posting: bool, channel: str | None
    ) -> None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        wait = retry_after(exc)
        # A 429 or an ok:false answer means Slack refused the post; anything else may have posted.
        refused = status == 429 or (status == 200 and isinstance(exc, SlackApiError))
        error = describe_failure(exc)
        log.warning("slack message %s not delivered: %s", message_id, error)
        now = self.clock.now()
        with transaction(self.engine) as session:
            message = session.get(SlackMessage, message_id)
            if message is None or message.lease_owner != self.owner:
                return
            if posting:
                # We only post after a search found nothing (or nothing was ever attempted),
                # so a refusal proves no copy exists.
                message.outcome_unknown = not refused
            self._reschedule(session, message, delay=wait or backoff(message.attempts), error=error)
            if wait and channel:
                # Slack rate-limits per channel: hold that channel's other messages too.
                session.execute(
                    update(SlackMessage)
                    .where(
                        col(SlackMessage.channel) == channel,
                        col(SlackMessage.pending),
                        col(SlackMessage.due_at) < now + wait,
                    )
                    .values(due_at=now + wait)
                )

    def _reschedule(
        self, session: Session, message: SlackMessage, *, delay: timedelta, error: str | None
    ) -> None:
        message.attempts += 1 if error else 0
        message.due_at = self.clock.now() + delay
        message.lease_owner = None
        message.lease_until = None
        message.last_error = error
        session.add(message)


def _metadata(message_id: int) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT, "event_payload": {"id": message_id}}
