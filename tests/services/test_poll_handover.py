"""Polling under a leader (bot/core/leader.py): the elected replica alone polls, so the poller
needs no per-source leases — an idle pass writes nothing (no SQLite write lock taken each
second), and a successor resumes a poll its killed predecessor left half done at once, from the
stored cursor, instead of waiting out a lease."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlmodel import col

from bot.core.db import READ_ONLY_OPTION, transaction
from bot.core.models import Mention, SlackMessage
from bot.fakes.services import ServiceKit
from bot.mentions.ingest import Ingestor
from bot.mentions.service import MENTION_CARD


@pytest.fixture
def writes(engine: Engine) -> Iterator[list[str]]:
    """Every transaction begun on the engine that may write (not `read_only`)."""
    seen: list[str] = []

    def begun(conn: Any) -> None:
        if not conn.get_execution_options().get(READ_ONLY_OPTION):
            seen.append("write")

    event.listen(engine, "begin", begun)
    yield seen
    event.remove(engine, "begin", begun)


def test_an_idle_pass_takes_no_write_transaction(kit: ServiceKit, writes: list[str]) -> None:
    kit.x.add_user("acme")
    kit.ingestor.poll_due()  # the first pass makes the cursors
    writes.clear()

    for _ in range(3):  # nothing is due again before poll_seconds
        assert kit.ingestor.poll_due() == []

    assert writes == []


def _counts(engine: Engine) -> tuple[int, int]:
    """(mentions stored, mention cards), failing if any mention has two cards."""
    with transaction(engine) as session:
        mentions = len(session.scalars(select(col(Mention.id))).all())
        cards = list(
            session.scalars(
                select(col(SlackMessage.subject_id)).where(col(SlackMessage.kind) == MENTION_CARD)
            )
        )
    assert len(cards) == len(set(cards)), "a mention has two cards"
    return mentions, len(cards)


def test_a_successor_resumes_a_poll_its_killed_predecessor_left_half_done(
    kit: ServiceKit,
) -> None:
    kit.x.add_user("acme")
    for n in range(150):  # two pages of mentions
        kit.x.add_tweet(author=f"fan{n}", text=f"@acme outage report {n}")
    dying = kit.ingestor
    store = dying.store
    pages: list[int] = []

    def killed_after_one_page(tweets: Any, **kw: Any) -> list[str]:
        if pages:
            raise SystemExit("SIGKILL")  # the process dies mid-poll: nothing after this runs
        pages.append(1)
        return store(tweets, **kw)

    dying.store = killed_after_one_page  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        dying.poll_due()
    assert _counts(kit.engine) == (100, 100)

    successor = Ingestor(dying._ctx, gateway=dying._gateway, owner="replica-b")
    polled = {r.source: r for r in successor.poll_due()}

    assert polled["mentions:acme"].stored == 50  # from the saved page token, not the top
    assert _counts(kit.engine) == (150, 150)
