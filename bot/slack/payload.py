"""What a Slack payload must look like before any listener reads it.

One check, `payload_problem`, used twice: by the HTTP front door (`bot.slack.gate`), before Bolt
parses anything, and by a Bolt global middleware (`RefuseMalformed`), so Socket Mode payloads
get the same treatment. Listeners index `body["user"]["id"]` or `body["actions"][0]` and hash what
they find into the audit chain, so a wrong type must be refused here, not discovered there: an int
user id once hashed would break `brandbot audit verify` for good.

Only the kinds this app serves pass: slash commands, block actions, view submissions/closes, the
events it subscribes to (`app_home_opened`), and Slack's own url_verification and ssl_check. Each problem is named by its field path, never by the
value sent, so the log line stays short and free of whatever the sender put there.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger("brandbot.slack")

# Slack ids are upper-case letters and digits: U0ALICE, W0123ABCD, C0CUSTOMER, T0BRAND, S0CARE.
SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")
Check = Callable[[Any], bool]


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _slack_id(value: Any) -> bool:
    return isinstance(value, str) and SLACK_ID.fullmatch(value) is not None


def _optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _optional_int(value: Any) -> bool:  # bool is an int to Python, not to Slack
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


# Fields that say who acted and where: each must be a string (and an id look like one) when it
# is present at all. A present null is refused too; Slack sends these as strings or leaves them out.
IDENTITY: dict[tuple[str, ...], Check] = {
    ("user", "id"): _slack_id,
    ("user", "name"): _text,
    ("user", "username"): _text,
    ("user", "team_id"): _slack_id,
    ("user_id",): _slack_id,
    ("user_name",): _text,
    ("team", "id"): _slack_id,
    ("team_id",): _slack_id,
    ("enterprise", "id"): _text,
    ("enterprise_id",): _text,
    ("channel", "id"): _slack_id,
    ("channel_id",): _slack_id,
    ("container", "channel_id"): _slack_id,
    ("container", "message_ts"): _text,
    ("trigger_id",): _text,
    ("view", "id"): _text,
    ("view", "callback_id"): _text,
    ("view", "type"): _text,
    ("view", "private_metadata"): _text,
    ("response_url",): _text,
    ("command",): _text,
    ("text",): _text,
    ("type",): _text,
    ("function_execution_id",): _text,
    ("bot_access_token",): _text,
}
# Objects Bolt or the listeners look inside; null is fine where Slack may send it (org installs).
OBJECTS = ("user", "team", "enterprise", "channel", "container", "view", "message", "state")
# Bolt calls .get() on these unconditionally when they are present, null included.
STRICT_OBJECTS = ("event", "function_data", "previous_message", "item", "assistant_thread")
LISTS = ("authorizations", "response_urls")
ACTION_FIELDS: dict[str, Check] = {
    "action_id": _text,
    "block_id": _text,
    "value": _text,
    "type": _text,
    "action_ts": _text,
}
# What an input in a submitted view may hold; listeners turn selected_date_time into a datetime.
STATE_FIELDS: dict[str, Check] = {
    "type": _text,
    "value": _optional_text,
    "selected_date": _optional_text,
    "selected_time": _optional_text,
    "selected_date_time": _optional_int,
    "selected_user": _optional_text,
    "selected_channel": _optional_text,
    "selected_conversation": _optional_text,
}
INTERACTIVE = frozenset({"block_actions", "view_submission"})  # no view_closed listener here
EVENTS = frozenset({"app_home_opened"})  # the manifest's bot_events
# What an event's listener reads (the event's own user is who it is about).
EVENT_FIELDS: dict[str, Check] = {
    "type": _text,
    "user": _slack_id,
    "channel": _slack_id,
    "tab": _text,
    "event_ts": _text,
}


def payload_problem(body: Any) -> str | None:
    """Why this parsed payload must not reach a listener, or None if it may."""
    if not isinstance(body, dict):
        return "the payload is not a JSON object"
    kind = _kind(body)
    if kind is None:
        return "not a request this app handles"
    return (
        _shape_problem(body)
        or _kind_problem(kind, body)
        or _identity_problem(body)
        or _text_problem(body)
    )


# Where the HTTP front door notes, in the BoltRequest's (server-side) context, that it ran
# `payload_problem` on this request already.
CHECKED_AT_THE_DOOR = "brandbot_payload_checked"

# A NUL, which PostgreSQL text cannot hold, and a lone surrogate (`"\ud800"` is valid JSON but
# no character), which neither database can encode: Slack sends neither; a store would fail.
# Looked for in the payload written out again as JSON, in C (walking a card's ~800 nodes in
# Python took a third of answering a click): a surrogate stays a raw character there, which
# UTF-8 cannot encode (a valid pair was one character already); a NUL becomes `\u0000` after
# an odd number of backslashes (after an even number it is text that shows a backslash).
REFUSED_TEXT = "a string holds a NUL or a lone surrogate"
ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _text_problem(body: dict[str, Any]) -> str | None:
    try:
        written = json.dumps(body, ensure_ascii=False, default=str)
    except RecursionError:  # nested deeper than Python writes out: nothing Slack sends
        return "the payload is nested too deeply"
    try:
        written.encode("utf-8")
    except UnicodeEncodeError:
        return REFUSED_TEXT
    if "\\u0000" in written and ESCAPED_NUL.search(written):  # the search only when it may
        return REFUSED_TEXT
    return None


def _kind(body: dict[str, Any]) -> str | None:
    if "ssl_check" in body:
        return "ssl_check"
    if "command" in body:
        return "command"
    kind = body.get("type")
    if isinstance(kind, str) and kind in {*INTERACTIVE, "url_verification", "event_callback"}:
        return kind
    return None


def _shape_problem(body: dict[str, Any]) -> str | None:
    for name in OBJECTS:
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name} is not an object"
    for name in STRICT_OBJECTS:
        if name in body and not isinstance(body[name], dict):
            return f"{name} is not an object"
    for name in LISTS:
        if name in body and not _list_of_objects(body[name]):
            return f"{name} is not a list of objects"
    for index, entry in enumerate(body.get("response_urls") or []):
        if not _text(entry.get("response_url")):
            return f"response_urls[{index}].response_url is not a string"
    return None


def _kind_problem(kind: str, body: dict[str, Any]) -> str | None:
    if kind == "ssl_check":
        return None if body["ssl_check"] == "1" else "ssl_check is not '1'"
    if kind == "url_verification":
        return None if _text(body.get("challenge")) else "challenge is not a string"
    if kind == "command":
        missing = [f for f in ("user_id", "channel_id", "trigger_id") if f not in body]
        return f"{missing[0]} is missing" if missing else None
    if kind == "event_callback":
        return _event_problem(body.get("event"))
    if not isinstance(body.get("user"), dict) or "id" not in body["user"]:
        return "user.id is missing"
    if kind == "block_actions":
        if "trigger_id" not in body:  # Slack always sends one; buttons that open forms need it
            return "trigger_id is missing"
        return _actions_problem(body.get("actions"))
    return _view_problem(kind, body.get("view"))


def _event_problem(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "event is missing"
    if event.get("type") not in EVENTS:
        return "not an event this app subscribes to"
    if "user" not in event:
        return "event.user is missing"
    for name, check in EVENT_FIELDS.items():
        if name in event and not check(event[name]):
            return f"event.{name} is not a {'Slack id' if check is _slack_id else 'string'}"
    if event.get("view") is not None and not isinstance(event["view"], dict):
        return "event.view is not an object"
    return None


def _actions_problem(actions: Any) -> str | None:
    if not actions or not _list_of_objects(actions):
        return "actions is not a non-empty list of objects"
    for index, action in enumerate(actions):
        if "action_id" not in action:
            return f"actions[{index}].action_id is missing"
        for name, check in ACTION_FIELDS.items():
            if name in action and not check(action[name]):
                return f"actions[{index}].{name} is not a string"
        option = action.get("selected_option")
        if option is not None and not (
            isinstance(option, dict) and _optional_text(option.get("value"))
        ):
            return f"actions[{index}].selected_option is not an option"
    return None


def _view_problem(kind: str, view: Any) -> str | None:
    if not isinstance(view, dict) or "callback_id" not in view or "type" not in view:
        return "view.callback_id or view.type is missing"  # Bolt reads both for every listener
    if kind != "view_submission":
        return None
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        return "view.state.values is not an object"
    for block in values.values():
        if not isinstance(block, dict) or not all(isinstance(e, dict) for e in block.values()):
            return "view.state.values holds something other than inputs"
        for element in block.values():
            for name, check in STATE_FIELDS.items():
                if name in element and not check(element[name]):
                    return f"view.state.values input {name} has the wrong type"
            option = element.get("selected_option")
            if option is not None and not (
                isinstance(option, dict) and _optional_text(option.get("value"))
            ):
                return "view.state.values input selected_option is not an option"
    return None


def _identity_problem(body: dict[str, Any]) -> str | None:
    for path, check in IDENTITY.items():
        present, value = _at(body, path)
        if present and not check(value):
            return f"{'.'.join(path)} is not a {'Slack id' if check is _slack_id else 'string'}"
    return None


def _at(body: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    value: Any = body
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return False, None
        value = value[name]
    return True, value


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


class RefuseMalformed(Middleware):
    """Bolt global middleware: the same check for Socket Mode (HTTP was checked at the door).

    A Middleware object, not a function: Bolt builds a function middleware's arguments from the
    payload (`body["actions"][0]`, `body["view"]["type"]`...) before calling it, and would raise
    on the very payloads this refuses."""

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,
        next: Callable[[], BoltResponse],  # Bolt's name for it
    ) -> BoltResponse:
        if req.context.get(CHECKED_AT_THE_DOOR):  # HTTP: the same check ran a moment ago
            return next()
        problem = payload_problem(req.body)
        if problem is None:
            return next()
        log.warning("refused a malformed Slack request (%s): %s", req.mode, problem)
        return BoltResponse(status=400, body="")
