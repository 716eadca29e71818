"""Ingest's per-page lookups stay cheap as the tables grow: each one that looks up a page's
conversations (their first card in a channel, their answered mentions) reads an index that leads
with the conversation, not one on a column every row shares (`kind`, `state`), which would make
each page scan every card or every answered mention ever stored.

On SQLite, always: it picks an index by rule (brandbot never runs ANALYZE), which is where the
scan was measured. PostgreSQL's planner costs its choice from table statistics and rightly scans a
table of a few hundred rows, so a small test cannot judge it there; bench/ingest_throughput.py
shows its rate holding to 100,000 mentions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, text

from bot.core.clock import FakeClock
from bot.fakes.services import ServiceKit
from bot.mentions.ingest import Source
from bot.x.gateway import Tweet

MENTIONS = Source("mentions:acme", "mentions", "acme")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def _tweet(n: int, clock: FakeClock, *, conversation: int | None = None) -> Tweet:
    return Tweet(
        id=str(10_000 + n),
        text=f"@acme my order {n} never came",
        author_id=f"u{n}",
        author_handle=f"user{n}",
        author_name=f"User {n}",
        created_at=clock.now() - timedelta(seconds=1),
        conversation_id=str(10_000 + (n if conversation is None else conversation)),
        lang="en",
    )


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT sent to the database meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _plan(engine: Engine, statement: str, params: Any) -> str:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
    return "\n".join(str(r[-1]) for r in rows)


def _leading_with(engine: Engine, table: str, column: str) -> set[str]:
    indexes = inspect(engine).get_indexes(table)
    return {str(i["name"]) for i in indexes if i["column_names"][:1] == [column]}


def test_a_pages_conversation_lookups_read_an_index_that_leads_with_the_conversation(
    kit: ServiceKit, clock: FakeClock
) -> None:
    kit.ingestor.store([_tweet(n, clock) for n in range(200)], source=MENTIONS)
    with kit.engine.begin() as conn:  # some answered conversations, as a working team has
        conn.execute(text("UPDATE mention SET state = 'resolved' WHERE id < '10100'"))
    page = [_tweet(n, clock) for n in range(200, 300)] + [_tweet(300, clock, conversation=5)]

    with _statements(kit.engine) as statements:
        stored = kit.ingestor.store(page, source=MENTIONS)

    assert len(stored) == 101
    roots = [s for s in statements if "slack_message" in s[0] and "conversation_key" in s[0]]
    answered = [s for s in statements if "FROM mention" in s[0] and "conversation_id" in s[0]]
    assert len(roots) == 1 and len(answered) == 1, statements
    card_indexes = _leading_with(kit.engine, "slack_message", "conversation_key")
    mention_indexes = _leading_with(kit.engine, "mention", "conversation_id")
    roots_plan, answered_plan = _plan(kit.engine, *roots[0]), _plan(kit.engine, *answered[0])
    assert any(name in roots_plan for name in card_indexes), roots_plan
    assert any(name in answered_plan for name in mention_indexes), answered_plan
