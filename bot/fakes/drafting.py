"""What people do with drafts in Slack, for tests, benchmarks and the demo: draft through /tweet
and its form, click the approval card, read the ephemeral answer — all through the real app over
HTTP, against a `FakeWorld`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.core.db import transaction
from bot.core.models import Draft, SlackMessage
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld


def latest_draft(world: FakeWorld) -> Draft | None:
    with transaction(world.db) as session:
        return session.scalars(select(Draft).order_by(col(Draft.id).desc())).first()


def get_draft(world: FakeWorld, draft_id: int | None) -> Draft:
    with transaction(world.db) as session:
        draft = session.get(Draft, draft_id)
        assert draft is not None, f"no draft {draft_id}"
        return draft


def approval_card(world: FakeWorld, draft: Draft) -> SlackMessage:
    """The draft's approval card, once posted to Slack (it has a ts)."""
    with transaction(world.db) as session:
        card = session.get(SlackMessage, draft.card_id)
        assert card is not None and card.ts is not None, f"draft {draft.id} has no card in Slack"
        return card


def account_choice(handle: str) -> dict[str, Any]:
    """The form's account field with @`handle` picked, as a submission carries it."""
    option = {"text": {"type": "plain_text", "text": f"@{handle}"}, "value": handle}
    return {"value": {"selected_option": option}}


def draft_via_slack(
    world: FakeWorld,
    author: SlackUser,
    text: str,
    *,
    channel: str = "C0CUSTOMER",
    account: str | None = None,  # the handle picked in the form; else the form's default
    schedule: int | None = None,  # epoch seconds, as Slack's date-time picker sends it
) -> Draft:
    """/tweet in `channel`, fill the form, submit; deliver the approval card. The stored draft."""
    before = len(world.slack.views)
    author.command("/tweet", "", channel=channel)
    world.slack.wait_for(lambda s: len(s.views) > before)
    view = author.last_view_for(author.user_id)
    values: dict[str, dict[str, Any]] = {
        "text": {"value": {"type": "plain_text_input", "value": text}}
    }
    if account is not None:
        values["account"] = account_choice(account)
    if schedule is not None:
        values["schedule"] = {"value": {"type": "datetimepicker", "selected_date_time": schedule}}

    def notes(slack: Any) -> int:  # what the author has been told, where they acted
        return sum(1 for e in slack.ephemerals if e["user"] == author.user_id)

    told = notes(world.slack)
    response = author.submit_view(view["id"], values)
    assert response.done, response
    world.slack.wait_for(lambda _: (d := latest_draft(world)) is not None and d.text == text)
    # "Your draft is waiting for approval in #…" follows the answer to Slack: wait for it, so a
    # caller waiting for its own next note never takes this one for it.
    world.slack.wait_for(lambda s: notes(s) > told)
    world.deliver()
    draft = latest_draft(world)
    assert draft is not None
    return draft


def said(world: FakeWorld, user: SlackUser, act: Callable[[], Any]) -> str:
    """Do `act` (a click or a command) and return the ephemeral answer `user` got for it."""

    def mine(slack: Any) -> list[dict[str, Any]]:
        return [e for e in slack.ephemerals if e["user"] == user.user_id]

    seen = len(mine(world.slack))
    response = act()
    assert getattr(response, "status_code", 200) == 200
    world.slack.wait_for(lambda s: len(mine(s)) > seen)
    return str(mine(world.slack)[-1]["text"])


def click_card(world: FakeWorld, user: SlackUser, draft: Draft, action: str) -> str:
    """Press a button on the draft's approval card; the ephemeral answer the clicker got."""
    card = approval_card(world, draft)
    return said(
        world, user, lambda: user.click(channel=card.channel, ts=str(card.ts), action_id=action)
    )


def publish(world: FakeWorld) -> int:
    """One pass of the publisher, then deliver what it changed; how many it posted."""
    posted = world.runtime.publisher.publish_due()
    world.deliver()
    return posted
