"""Unfreezing one account while a freeze of every account is also in force."""

from __future__ import annotations

from bot.core.models import DraftState
from bot.fakes.services import ServiceKit
from handlers.brand_command import unfrozen_note

WAR_ROOM = "C0CRISIS"


def test_unfreezing_one_account_under_a_freeze_of_all_never_says_publishing_resumed(
    kit: ServiceKit,
) -> None:
    admin = kit.person("U0ADMIN")
    kit.freeze.freeze(person=admin, text="acme phishing wave", channel=WAR_ROOM)
    kit.freeze.freeze(person=admin, text="all breach under investigation", channel=WAR_ROOM)
    kit.add_draft(DraftState.APPROVED, text="Update 1 on the outage", approved_by=["U0BOB"])

    result = kit.freeze.unfreeze(person=admin, text="acme", channel=WAR_ROOM)
    note = unfrozen_note(result)  # what /brand unfreeze acme replies

    still = kit.freeze.is_frozen("acme")
    assert still is not None and still.scope == "all"  # acme is still frozen ...
    assert "Publishing resumed" not in note, (
        f"the admin is told {note!r} while @acme is still frozen by the freeze of all accounts"
    )
    assert "stays frozen for every account" in note and "/brand unfreeze all" in note
