"""insert_page stores a page of rows exactly as given, on SQLite and PostgreSQL: what reads back
is what went in (aware UTC times, booleans, NULLs), conflicts are skipped and not returned, a
column a row leaves out gets its model default, and a page too big for one SQLite statement is
stored whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, select

from bot.core.db import SQLITE_MAX_PARAMETERS, insert_page, table_of, transaction
from bot.core.models import Mention, ResponseTimer, SlackMessage

AT = datetime(2026, 12, 2, 18, 30, 15, 123456, tzinfo=UTC)


def _mention(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": str(1_000 + n),
        "account": "acme",
        "author_id": f"u{n}",
        "author_handle": f"user{n}",
        "author_name": f"User {n}",
        "text": f"@acme order {n} never came — ünïcode, 'quotes' and ? marks",
        "url": f"https://x.com/user{n}/status/{1_000 + n}",
        "tweeted_at": AT - timedelta(minutes=n),
        "conversation_id": str(1_000 + n),
        "lang": None if n % 2 else "en",
        "sentiment": -0.25 * (n % 4),
        "found_by": "mentions:acme",
        "segment": "customer_relations",
        "route_reason": "default segment",
        "state": "open",
        "version": 1,
        "ingested_at": AT,
        "summoned": n % 3 != 0,
        "follow_up_of": None,
    } | changes


def _stored(engine: Engine, table: Any, key: str) -> dict[Any, dict[str, Any]]:
    with transaction(engine, read_only=True) as session:
        return {row[key]: dict(row) for row in session.execute(select(table)).mappings()}


def test_a_page_reads_back_as_it_was_given(engine: Engine) -> None:
    table = table_of(Mention)
    rows = [_mention(n) for n in range(100)]
    with transaction(engine) as session:
        returned = set(insert_page(session, table, rows, returning=[table.c.id]).scalars())
    assert returned == {r["id"] for r in rows}
    stored = _stored(engine, table, "id")
    for row in rows:
        assert {k: stored[row["id"]][k] for k in row} == row
        assert stored[row["id"]]["card_id"] is None  # a column left out: NULL


def test_rows_already_stored_are_skipped_and_not_returned(engine: Engine) -> None:
    table = table_of(Mention)
    with transaction(engine) as session:
        insert_page(session, table, [_mention(n) for n in range(10)], returning=[table.c.id])
    page = [_mention(n, text="again") for n in range(5, 15)]
    with transaction(engine) as session:
        returned = insert_page(
            session, table, page, returning=[table.c.id], ignore_conflicts=True
        ).scalars()
        assert set(returned) == {str(1_000 + n) for n in range(10, 15)}
    stored = _stored(engine, table, "id")
    assert len(stored) == 15
    assert [stored[str(1_000 + n)]["text"] == "again" for n in range(15)] == [False] * 10 + [
        True
    ] * 5


def test_a_column_a_row_leaves_out_gets_its_model_default(engine: Engine) -> None:
    table = table_of(SlackMessage)
    rows = [
        {"kind": "mention_card", "subject_id": str(n), "channel": "C1", "due_at": AT}
        | {"created_at": AT}
        for n in range(3)
    ]
    with transaction(engine) as session:
        returned = insert_page(session, table, rows, returning=[table.c.subject_id, table.c.id])
        ids = dict(cast(list[tuple[str, int]], returned.all()))
    assert sorted(ids) == ["0", "1", "2"] and len(set(ids.values())) == 3
    for row in _stored(engine, table, "subject_id").values():
        assert (row["revision"], row["synced_revision"], row["pending"], row["attempts"]) == (
            0,
            -1,
            True,
            0,
        )
        assert row["due_at"] == AT


def test_a_page_too_big_for_one_sqlite_statement_is_stored_whole(engine: Engine) -> None:
    table = table_of(ResponseTimer)
    columns = {"step": "warn", "due_at": AT, "last_step": None, "last_sent_at": None}
    columns |= {"reminders": 0, "plan": "15", "stopped": None, "version": 1}
    count = SQLITE_MAX_PARAMETERS // (len(columns) + 1) + 10
    rows = [{"mention_id": str(n)} | columns for n in range(count)]
    with transaction(engine) as session:
        insert_page(session, table, rows, ignore_conflicts=True)
    stored = _stored(engine, table, "mention_id")
    assert len(stored) == count
    assert stored[str(count - 1)] | {"acknowledged_at": None} == rows[-1] | {
        "acknowledged_by": None,
        "acknowledged_by_name": None,
        "acknowledged_at": None,
    }


def test_a_page_is_stored_as_sqlalchemys_own_insert_stores_it(engine: Engine) -> None:
    """Down to the stored text (SQLite keeps times as text in SQLAlchemy's format), so every
    query comparing or ordering by them reads both alike."""
    table = table_of(Mention)
    page = [_mention(n) for n in range(20)]
    plain = [_mention(n, id=f"9{n:03d}", conversation_id=f"9{n:03d}") for n in range(20)]
    with transaction(engine) as session:
        insert_page(session, table, page, returning=[table.c.id])
        session.execute(table.insert(), plain)
    with transaction(engine, read_only=True) as session:
        raw = session.connection().exec_driver_sql(
            "SELECT id, tweeted_at, ingested_at, summoned, lang, sentiment FROM mention"
        )
        stored = {row[0]: tuple(row[1:]) for row in raw}
    for ours, theirs in zip(page, plain, strict=True):
        assert stored[ours["id"]] == stored[theirs["id"]]
