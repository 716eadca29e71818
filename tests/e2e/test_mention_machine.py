"""The mention state machine, walked: every allowed action from every state it may start in moves
the mention, refreshes its card and writes its audit entry; every other start is refused, and
the refusal is audited too (review item 12)."""

from __future__ import annotations

import pytest
from support import audit_entries

from bot.core.db import transaction
from bot.core.errors import ActionRefused
from bot.core.models import Mention, MentionState, SlackMessage
from bot.fakes.world import FakeWorld
from bot.mentions.service import MENTION_CARD, TRANSITIONS
from bot.slack.clicks import Click, Person

CASES = [
    (action, source, source in sources, target)
    for action, (sources, target) in TRANSITIONS.items()
    for source in MentionState
]


def _mention_in(world: FakeWorld, state: MentionState) -> tuple[Mention, SlackMessage]:
    now = world.clock.now()
    with transaction(world.db) as session:
        card = SlackMessage(
            kind=MENTION_CARD,
            subject_id="1790000000000000001",
            channel="C0CUSTOMER",
            ts="1700000000.000100",
            due_at=now,
            created_at=now,
            pending=False,
            synced_revision=0,
        )
        session.add(card)
        session.flush()
        mention = Mention(
            id="1790000000000000001",
            account="acme",
            author_id="42",
            author_handle="dana",
            text="@acme outage",
            url="https://x.com/dana/status/1790000000000000001",
            tweeted_at=now,
            conversation_id="1790000000000000001",
            sentiment=-0.4,
            found_by="mentions",
            segment="customer_relations",
            route_reason="default segment",
            state=state,
            claimed_by="U0ADMIN" if state == MentionState.CLAIMED else None,
            card_id=card.id,
            ingested_at=now,
        )
        session.add(mention)
        return mention, card


@pytest.mark.parametrize(("action", "source", "allowed", "target"), CASES, ids=lambda v: str(v))
def test_every_mention_action_from_every_state(
    world: FakeWorld, action: str, source: MentionState, allowed: bool, target: MentionState
) -> None:
    mention, card = _mention_in(world, source)
    click = Click(Person("U0ADMIN", "admin"), card.channel, str(card.ts), mention.id)
    service = world.runtime.services.mentions
    calls = {
        "claim": lambda: service.claim(click),
        "release": lambda: service.release(click),
        "resolve": lambda: service.resolve(click),
        "reopen": lambda: service.reopen(click),
        "reroute": lambda: service.reroute(click, to_segment="crisis_management"),
        "dismiss": lambda: service.dismiss(click, reason="spam", note=""),
    }
    if allowed:
        calls[action]()
    else:
        with pytest.raises(ActionRefused):
            calls[action]()
    with transaction(world.db) as session:
        now = session.get(Mention, mention.id)
        shown = session.get(SlackMessage, card.id)
    entries = [e.action for e in audit_entries(world, subject=f"mention:{mention.id}")]
    assert now is not None and shown is not None
    if allowed:
        assert now.state == target and entries == [f"mention.{action}"]
        assert shown.pending and shown.revision == 1
    else:
        assert now.state == source and not shown.pending
        assert entries in ([], ["mention.refused"])  # a conflict, or a refusal on the record
