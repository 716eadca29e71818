"""The one parser of Slack's click envelope (block_actions) into a `Click`."""

from __future__ import annotations

from typing import Any

from bot.slack.clicks import Click, Person


def person_of(body: dict[str, Any]) -> Person:
    user = body.get("user") or {}
    if not user and body.get("user_id"):  # a slash command
        return Person(str(body["user_id"]), str(body.get("user_name", "")))
    return Person(str(user.get("id", "")), str(user.get("username") or user.get("name", "")))


def click_from(body: dict[str, Any]) -> Click:
    """Where and by whom, from Slack's signed envelope; what the button says, only to cross-check."""
    container = body.get("container") or {}
    action = (body.get("actions") or [{}])[0]
    return Click(
        person=person_of(body),
        channel=container.get("channel_id") or (body.get("channel") or {}).get("id", ""),
        message_ts=container.get("message_ts", ""),
        value=action.get("value"),
        action_id=str(action.get("action_id", "")),
        block_id=str(action.get("block_id", "")),
    )
