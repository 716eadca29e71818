"""The draft state machine: every allowed move writes its audit entry and refreshes the card;
every other move is refused; nothing else in the code writes a draft's state."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from bot.core import audit
from bot.core.db import transaction
from bot.core.models import AuditEntry, Draft, DraftState, SlackMessage
from bot.drafts import machine as draft_machine
from bot.drafts.machine import TRANSITIONS, IllegalTransition
from bot.fakes.services import add_draft

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACTOR = audit.Actor("U0ALICE", "alice")
REPO = Path(__file__).resolve().parents[2]

ALLOWED = [
    (event, source, target)
    for event, (sources, targets) in TRANSITIONS.items()
    for source in sorted(sources)
    for target in sorted(targets)
]
FORBIDDEN = [
    (event, source)
    for event, (sources, _) in TRANSITIONS.items()
    for source in DraftState
    if source not in sources
]


def _entries(engine: Engine, draft: Draft) -> list[AuditEntry]:
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(col(AuditEntry.subject) == f"draft:{draft.id}")
            )
        )


@pytest.mark.parametrize(("event", "source", "target"), ALLOWED, ids=lambda v: str(v))
def test_every_allowed_move_is_audited_and_refreshes_the_card(
    engine: Engine, event: str, source: DraftState, target: DraftState
) -> None:
    draft = add_draft(engine, state=source, at=NOW)
    with transaction(engine) as session:
        assert draft_machine.move(session, draft, event, actor=ACTOR, at=NOW, to=target)
    with transaction(engine) as session:
        moved = session.get(Draft, draft.id)
        card = session.get(SlackMessage, draft.card_id)
        assert moved is not None and card is not None
        assert moved.state == target and moved.version == draft.version + 1
        assert card.pending and card.revision == 1
    (entry,) = _entries(engine, draft)
    assert entry.action == f"draft.{event}" and entry.actor_id == "U0ALICE"
    assert f'"state":"{source}"' in str(entry.before) and f'"state":"{target}"' in str(entry.after)


@pytest.mark.parametrize(("event", "source"), FORBIDDEN, ids=lambda v: str(v))
def test_every_other_move_is_refused_and_writes_nothing(
    engine: Engine, event: str, source: DraftState
) -> None:
    draft = add_draft(engine, state=source, at=NOW)
    _, targets = TRANSITIONS[event]
    with transaction(engine) as session:
        assert not draft_machine.move(
            session, draft, event, actor=ACTOR, at=NOW, to=sorted(targets)[0]
        )
    with transaction(engine) as session:
        unmoved = session.get(Draft, draft.id)
        assert unmoved is not None and unmoved.state == source
    assert _entries(engine, draft) == []


def test_a_stale_draft_is_not_moved(engine: Engine) -> None:
    draft = add_draft(engine, state=DraftState.PENDING, at=NOW)
    with transaction(engine) as session:
        assert draft_machine.move(session, draft, "edit", actor=ACTOR, at=NOW)
    with transaction(engine) as session:  # the same, as read before the edit: version is old
        assert not draft_machine.move(session, draft, "approved", actor=ACTOR, at=NOW)
    assert [e.action for e in _entries(engine, draft)] == ["draft.edit"]


def test_unknown_events_and_targets_are_programming_errors() -> None:
    with pytest.raises(IllegalTransition):
        draft_machine.target_of("publish")
    with pytest.raises(IllegalTransition):
        draft_machine.target_of("release")  # ends in APPROVED or POSTING: say which
    with pytest.raises(IllegalTransition):
        draft_machine.target_of("post", DraftState.DELETED)


# A draft's state is written only by draft_machine.move: no `state=` in an UPDATE of drafts and
# no assignment to `.state` outside it (mentions have their own machine in bot/mentions/service.py).
_WRITES = re.compile(
    r"\.state\s*=[^=]|\bstate\s*=\s*DraftState\.|[\"']state[\"']\s*:\s*DraftState\."
)


def test_nothing_else_writes_a_drafts_state() -> None:
    offenders = []
    for path in sorted((REPO / "bot").rglob("*.py")) + sorted((REPO / "handlers").rglob("*.py")):
        if path == REPO / "bot" / "drafts" / "machine.py" or "fakes" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if _WRITES.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
