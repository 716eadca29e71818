"""X → database: poll each account's mentions and each segment's search, store each tweet once,
route it, and queue its card — all in one transaction per page. Each account's own timeline is
polled too (bot/alerts/timeline.py): tweets it posted around brandbot, and native replies.

Idempotent on tweet id (INSERT … ON CONFLICT DO NOTHING): a tweet found by both the mentions
timeline and a search, or by overlapping polls, is one mention with one card. The since_id
cursor moves only after every page of a poll is stored, so a crash mid-poll re-reads, never skips.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from bot.alerts.timeline import store_timeline
from bot.core import audit
from bot.core.context import ServiceContext
from bot.core.db import insert_ignoring_conflicts, insert_page, table_of, transaction
from bot.core.models import Mention, PollCursor
from bot.mentions import sentiment
from bot.mentions.conversation import link_follow_ups
from bot.mentions.service import CardRequest, create_cards
from bot.mentions.timers import arm
from bot.x.gateway import Page, Tweet, XGateway, XRateLimited, XRejected, XUnavailable
from policies.polling import next_poll_at
from policies.routing import MentionFacts, explain_route
from policies.search import mention_accounts, segment_search_queries
from policies.text import names_account

log = logging.getLogger(__name__)

BACKFILL = timedelta(hours=24)  # how far back the very first poll of a source looks
MAX_BACKOFF = timedelta(minutes=15)
MIN_WAKE = 0.01  # seconds: the run loop never spins
MENTIONS_CAP = 800  # X serves at most about this many of an account's newest mentions
SEARCH_OVERLAP = timedelta(seconds=30)


@dataclass(frozen=True)
class Source:
    """One thing we poll on X."""

    key: str
    kind: str  # "mentions", "search" or "timeline" (the account's own tweets)
    account: str  # brand handle the results belong to
    query: str = ""


@dataclass(frozen=True)
class PollResult:
    source: str
    fetched: int
    stored: int
    next_poll_at: datetime
    error: str | None = None


class Ingestor:
    def __init__(self, ctx: ServiceContext, *, gateway: XGateway, owner: str) -> None:
        self._ctx = ctx
        self._gateway = gateway
        self._owner = owner
        # Run after each pass that polled something (e.g. the spike detector), outside any
        # transaction; one that fails is logged and the others still run.
        self.after_poll: list[Callable[[list[PollResult]], object]] = []
        # Whether this process may poll X now: the replicas' leader election sets it (exactly one
        # replica polls); a process that is not the leader skips its passes.
        self.may_poll: Callable[[], bool] = lambda: True
        # Whether the searches may run this pass: the monthly X budget (bot/x/budget.py) says no
        # at 100 %, and polling falls back to the owned reads (mentions and own timelines).
        self.searches_allowed: Callable[[], bool] = lambda: True
        # Called before each pass, as a worker's (bot/core/worker.py): waits while Slack's
        # requests are being answered.
        self.yield_to_answers: Callable[[], None] = lambda: None

    @property
    def config(self) -> Any:
        return self._ctx.segments.config

    def sources(self, *, searches: bool = True) -> list[Source]:
        accounts = [a.handle for a in self.config.accounts]
        sources = [
            Source(f"mentions:{h.lower()}", "mentions", h) for h in mention_accounts(self.config)
        ]
        for segment, query in segment_search_queries(self.config).items() if searches else ():
            digest = hashlib.sha256(query.encode()).hexdigest()[:12]
            sources.append(Source(f"search:{segment}:{digest}", "search", accounts[0], query))
        # Every account's own tweets: cheap owned reads, whether or not its mentions are followed.
        sources += [Source(f"timeline:{h.lower()}", "timeline", h) for h in accounts]
        return sources

    def run(self, stop: threading.Event) -> None:
        """Poll what is due, then sleep until the next source is due (at most poll_seconds, so a
        source added from Slack or a change of leader is noticed within one interval)."""
        while not stop.is_set():
            wait = 1.0
            try:
                self.yield_to_answers()
                self.poll_due()
                wait = self.seconds_to_next_poll()
            except Exception:
                log.exception("poll pass failed")
            self._ctx.clock.wait(stop, wait)

    def seconds_to_next_poll(self) -> float:
        """How long until one of this pass's sources is due."""
        longest = float(self.config.poll_seconds)
        if not self.may_poll():
            return longest
        keys = [s.key for s in self.sources(searches=self.searches_allowed())]
        now = self._ctx.clock.now()
        with transaction(self._ctx.engine, read_only=True) as session:
            rows = session.execute(
                select(col(PollCursor.next_poll_at)).where(col(PollCursor.key).in_(keys))
            ).all()
        if len(rows) < len(keys):
            return MIN_WAKE  # a source never polled is due now
        due = min(at for (at,) in rows)
        return float(max(MIN_WAKE, min(longest, (due - now).total_seconds())))

    def poll_due(self) -> list[PollResult]:
        if not self.may_poll():
            return []
        sources = self.sources(searches=self.searches_allowed())
        results = [r for source in sources if (r := self.poll(source)) is not None]
        if results:
            for hook in self.after_poll:
                try:
                    hook(results)
                except Exception:
                    log.exception("after-poll hook %r failed", hook)
        return results

    def poll(self, source: Source) -> PollResult | None:
        """Poll one source if it is due. Only the elected replica polls (`may_poll`), so no
        per-source lease: a successor resumes at once what a killed leader left half done, and
        an idle pass writes nothing. Two polls of one source by accident (a leader not yet aware
        it was deposed) store each tweet once all the same."""
        started = self._ctx.clock.now()
        if not self._is_due(source):
            return None
        cursor = self._cursor(source.key)
        token, newest = cursor.resume_token, cursor.pending_newest_id
        watching_since = cursor.created_at or self._ctx.clock.now()
        fetched = stored = pages = 0
        held: str | None = None  # a timeline tweet deferred: the cursor stays below it
        try:
            for page in self._pages(source, cursor.since_id, token):
                pages += 1
                newest = _max_id(newest, page.newest_id)
                fetched += len(page.tweets)
                if source.kind == "timeline":
                    outcome = store_timeline(
                        self._ctx,
                        page.tweets,
                        account=source.account,
                        watching_since=watching_since,
                    )
                    stored += len(outcome.alerted) + len(outcome.credited)
                    held = _min_id(held, *outcome.deferred)
                else:
                    stored += len(self.store(page.tweets, source=source))
                if page.next_token:  # a failure after this point resumes here, not from the top
                    self._save_progress(source.key, page.next_token, _below(newest, held))
                    if not self.may_poll():  # deposed mid-poll: the new leader resumes here
                        log.info(
                            "%s stopped polling %s mid-way: no longer the leader",
                            self._owner,
                            source.key,
                        )
                        return None
        except XRejected as exc:
            if token:  # X no longer accepts the saved page token: start this poll over
                self._save_progress(source.key, None, None)
            log.error("X refused polling %s: %s", source.key, exc)
            return self._finish(source, fetched, stored, None, backoff=True, error=str(exc))
        except XRateLimited as exc:
            return self._finish(
                source, fetched, stored, None, retry_at=exc.retry_at, error=str(exc)
            )
        except XUnavailable as exc:
            return self._finish(source, fetched, stored, None, backoff=True, error=str(exc))
        if source.kind == "mentions" and fetched >= MENTIONS_CAP:
            log.warning(
                "%s: %d mentions in one poll; X serves only the ~%d newest, so older ones may be "
                "missing (keyword and hashtag searches still find them)",
                source.key,
                fetched,
                MENTIONS_CAP,
            )
        if source.kind == "search" and newest is not None:
            newest = _overlapped(newest)
        return self._finish(
            source, fetched, stored, _below(newest, held), started=started, requests=pages
        )

    def _pages(self, source: Source, since_id: str | None, token: str | None) -> Iterator[Page]:
        start = self._ctx.clock.now() - BACKFILL
        if source.kind == "mentions":
            return self._gateway.mentions(
                source.account, since_id=since_id, start_time=start, page_token=token
            )
        if source.kind == "timeline":
            return self._gateway.timeline(
                source.account, since_id=since_id, start_time=start, page_token=token
            )
        return self._gateway.search(
            source.query, since_id=since_id, start_time=start, page_token=token
        )

    def _save_progress(self, key: str, token: str | None, newest: str | None) -> None:
        with self._ctx.transaction() as session:
            session.execute(
                update(PollCursor)
                .where(col(PollCursor.key) == key)
                .values(resume_token=token, pending_newest_id=newest)
            )

    def store(self, tweets: list[Tweet], *, source: Source) -> list[str]:
        """Store new tweets as routed mentions with queued cards; return the ids that were new.
        A brand account's own posts are not mentions (a search for a keyword finds our replies
        that say it), so they are left out."""
        ours = {a.handle.lower() for a in self.config.accounts}
        tweets = self._unseen([t for t in tweets if t.author_handle.lower() not in ours])
        if not tweets:
            return []
        now = self._ctx.clock.now()
        rows = [self._mention_row(t, source, now) for t in sorted(tweets, key=lambda t: int(t.id))]
        with self._ctx.transaction() as session:
            link_follow_ups(session, rows, now=now)
            table = table_of(Mention)
            inserted = insert_page(
                session, table, rows, returning=[table.c.id], ignore_conflicts=True
            )
            new_ids = set(inserted.scalars())
            stored = [r for r in rows if r["id"] in new_ids]
            self._queue_cards(session, stored, now)
            arm(session, stored, config=self.config, now=now)  # response targets
        if new_ids:
            self._ctx.hooks.cards_changed()
        return [r["id"] for r in rows if r["id"] in new_ids]

    def _unseen(self, tweets: list[Tweet]) -> list[Tweet]:
        """The tweets not stored yet (one read, no write lock): a tweet that the mentions timeline
        and a search both find, or that a search's overlap reads again, is scored and routed
        once. The INSERT still ignores conflicts, so a tweet stored meanwhile is not doubled."""
        if not tweets:
            return []
        with transaction(self._ctx.engine, read_only=True) as session:
            known = set(
                session.scalars(
                    select(col(Mention.id)).where(col(Mention.id).in_({t.id for t in tweets}))
                )
            )
        return [t for t in tweets if t.id not in known]

    def _mention_row(self, tweet: Tweet, source: Source, now: datetime) -> dict[str, Any]:
        score = sentiment.score(tweet.text, extra_terms=self.config.sentiment.extra_terms)
        facts = MentionFacts(
            text=tweet.text, author_handle=tweet.author_handle, lang=tweet.lang, sentiment=score
        )
        decision = explain_route(facts, self.config)
        return {
            "id": tweet.id,
            "account": self._account_for(tweet, source, decision.segment),
            "author_id": tweet.author_id,
            "author_handle": tweet.author_handle,
            "author_name": tweet.author_name,
            "text": tweet.text,
            "url": tweet.url,
            "tweeted_at": tweet.created_at,
            "conversation_id": tweet.conversation_id,
            "lang": tweet.lang,
            "sentiment": score,
            "found_by": source.key.rsplit(":", 1)[0] if source.kind == "search" else source.key,
            "segment": decision.segment,
            "route_reason": decision.reason,
            "state": "open",
            "version": 1,
            "ingested_at": now,
            # X's 2026 rule: a brand may reply only to a tweet that mentions (or quotes) it.
            "summoned": source.kind == "mentions"
            or any(names_account(tweet.text, a.handle) for a in self.config.accounts),
        }

    def _account_for(self, tweet: Tweet, source: Source, segment: str) -> str:
        """The account a mention is for: the one whose mentions it came from, or the one a
        search hit names; a hit that names none is the segment's (its first posting account),
        so a reply defaults to an account that segment may post as."""
        if source.kind == "mentions":
            return source.account
        for account in self.config.accounts:
            if names_account(tweet.text, account.handle):
                return str(account.handle)
        allowed = self.config.accounts_for(segment)
        return str(allowed[0].handle) if allowed else source.account

    def _queue_cards(self, session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
        requests = [
            CardRequest(r["id"], r["conversation_id"], self._ctx.segments.channel(r["segment"]))
            for r in rows
        ]
        create_cards(session, requests, now=now)
        for row in rows:
            audit.record(
                session,
                actor=audit.SYSTEM,
                action="mention.ingest",
                subject=f"mention:{row['id']}",
                at=now,
                after={
                    "tweet": row["id"],
                    "author": row["author_handle"],
                    "found_by": row["found_by"],
                    "segment": row["segment"],
                    "reason": row["route_reason"],
                },
            )

    def _cursor(self, key: str) -> PollCursor:
        with self._ctx.transaction(read_only=True) as session:
            cursor = session.get(PollCursor, key)
            assert cursor is not None
            return cursor

    def _is_due(self, source: Source) -> bool:
        """Read-only unless the source is new (its cursor is made on its first pass)."""
        now = self._ctx.clock.now()
        with transaction(self._ctx.engine, read_only=True) as session:
            cursor = session.get(PollCursor, source.key)
            if cursor is not None:
                return bool(cursor.next_poll_at <= now)
        with self._ctx.transaction() as session:
            stmt = insert_ignoring_conflicts(self._ctx.engine, table_of(PollCursor))
            first = {"key": source.key, "next_poll_at": now, "failures": 0, "updated_at": now}
            session.execute(stmt, [first | {"created_at": now}])
        return True

    def _finish(
        self,
        source: Source,
        fetched: int,
        stored: int,
        newest: str | None,
        *,
        retry_at: datetime | None = None,
        backoff: bool = False,
        error: str | None = None,
        started: datetime | None = None,
        requests: int = 1,
    ) -> PollResult:
        now = self._ctx.clock.now()
        with self._ctx.transaction() as session:
            cursor = session.get(PollCursor, source.key)
            assert cursor is not None
            if error is None:
                cursor.since_id = _max_id(cursor.since_id, newest)
                cursor.resume_token = cursor.pending_newest_id = None
                cursor.failures = 0
                if stored:
                    cursor.last_found_at = now
                cursor.next_poll_at = self._next_poll_at(
                    source, cursor, started=started or now, now=now, requests=requests
                )
            else:
                cursor.failures += 1
                delay = min(
                    MAX_BACKOFF,
                    timedelta(seconds=self.config.poll_seconds * 2 ** min(cursor.failures, 8)),
                )
                # A 429 waits for X's reset (what the poll fetched is stored and its page token
                # kept, so the next poll carries on from there); other failures back off.
                cursor.next_poll_at = (
                    max(retry_at, now) if retry_at and not backoff else now + delay
                )
            cursor.last_error = error
            cursor.lease_owner = None  # (leases of versions before the leader: let them go)
            cursor.lease_until = None
            cursor.updated_at = now
            session.add(cursor)
            next_poll_at = cursor.next_poll_at
        if error:
            log.warning("polling %s delayed until %s: %s", source.key, next_poll_at, error)
        return PollResult(source.key, fetched, stored, next_poll_at, error)

    def _next_poll_at(
        self, source: Source, cursor: PollCursor, *, started: datetime, now: datetime, requests: int
    ) -> datetime:
        """Quick while the source finds tweets, slower as it stays quiet, inside X's window."""
        sharing = sum(1 for s in self.sources() if s.kind == source.kind)
        last_found = cursor.last_found_at or cursor.created_at or now
        return next_poll_at(
            started=started,
            now=now,
            idle=max(now - last_found, timedelta(0)),
            fast_seconds=self.config.poll_seconds,
            slow_seconds=self.config.poll_quiet_seconds,
            window=self._gateway.rate_window(source.kind),
            requests=max(requests, 1),
            sharing=sharing,
        )


def _overlapped(tweet_id: str) -> str:
    """A since_id SEARCH_OVERLAP before `tweet_id` (ids are time-ordered snowflakes), because
    X's search indexes some tweets late; re-reading a few seconds is free (inserts are idempotent)."""
    overlap = int(SEARCH_OVERLAP.total_seconds() * 1000) << 22
    return str(max(1, int(tweet_id) - overlap))


def _min_id(current: str | None, *ids: str) -> str | None:
    return min([i for i in (current, *ids) if i is not None], key=int, default=None)


def _below(newest: str | None, held: str | None) -> str | None:
    """The since_id to move to: `newest`, unless a tweet is held for the next poll — then just
    below it, so that poll reads it (and what came after) again; re-reading is idempotent."""
    if held is None or newest is None:
        return newest
    return min(newest, str(int(held) - 1), key=int)


def _max_id(current: str | None, newest: str | None) -> str | None:
    if newest is None:
        return current
    if current is None:
        return newest
    return newest if int(newest) > int(current) else current
