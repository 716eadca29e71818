"""A simulated person in Slack: clicks, slash commands and modal submissions, sent to the app.

Each request is shaped and signed the way Slack sends it (``X-Slack-Signature`` over
``v0:{timestamp}:{body}``), so it goes through the app's real HTTP endpoint and Bolt's checks.
``click`` only presses what the message in ``FakeSlack`` shows *now*; ``forge_action`` sends
anything, for tests of forged, stale or replayed requests. Given ``socket`` (a ``FakeSocketMode``,
e.g. ``FakeSlack(app_token=...).socket``) the same payloads go to the app over Socket Mode
instead, and each action returns the app's ack as a ``SocketAck``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier

from bot.fakes.slack_api import APP_ID, BOT_USER_ID, TEAM_DOMAIN, FakeSlack
from bot.fakes.slack_socket import FakeSocketMode, Kind, SocketAck
from bot.slack.cards import form_states

JSON = dict[str, Any]
Reply = requests.Response | SocketAck  # HTTP response, or the ack over Socket Mode
VERIFICATION_TOKEN = "fake-legacy-verification-token"
SETTLE = 10.0  # seconds a person waits for a "working" modal to show its outcome
OPTION_ELEMENTS = frozenset({"static_select", "overflow", "radio_buttons"})
PICKED = {"users_select": "selected_user", "conversations_select": "selected_conversation"}
PICKED |= {"channels_select": "selected_channel", "datepicker": "selected_date"}
INFERRED_TYPES = {"selected_option": "static_select", "selected_options": "multi_static_select"}
INFERRED_TYPES |= {"selected_users": "multi_users_select"}
INFERRED_TYPES |= {v: k for k, v in PICKED.items()}


def _plain(value: Any) -> str:
    return str(value.value if isinstance(value, Enum) else value)


def _elements(blocks: list[JSON]) -> Iterator[tuple[str, JSON]]:
    """(block_id, interactive element) for each element shown on a message."""
    for index, block in enumerate(blocks or []):
        block_id = str(block.get("block_id") or f"b{index}")  # Slack makes one up; so do we
        if block.get("type") == "actions":
            yield from ((block_id, e) for e in block.get("elements", []))
        if isinstance(block.get("accessory"), dict):
            yield block_id, block["accessory"]


def _options(element: JSON) -> list[JSON]:
    groups = element.get("option_groups") or []
    return list(element.get("options") or []) + [o for g in groups for o in g.get("options", [])]


@dataclass
class Submission:
    """A submitted modal, as the person then sees it. The app's answer is applied as Slack would
    (``response_action: update`` replaces the modal); when it put the modal in its "working"
    state, the person watches until the app updates it (``views.update``), as a person would.

    ``view`` is the modal shown in the end (None once closed); ``errors`` what it shows on its
    fields (Slack's own, from an ``errors`` answer, or the app's after working); ``problem``
    what it says on top; ``done`` whether the form is over (closed, or showing only an outcome).
    """

    reply: Reply
    view: JSON | None
    errors: dict[str, str]
    problem: str | None

    @property
    def status_code(self) -> int:
        return self.reply.status_code

    @property
    def done(self) -> bool:
        if self.view is None:
            return not self.errors
        inputs = [b for b in self.view.get("blocks") or [] if b.get("type") == "input"]
        return not (self.errors or self.problem or inputs or self.view.get("submit"))

    @classmethod
    def settle(cls, slack: FakeSlack, view_id: str, reply: Reply, *, watch: bool) -> Submission:
        answer = _answer_of(reply)
        action = answer.get("response_action")
        if action == "errors":
            return cls(reply, slack.view(view_id), dict(answer.get("errors") or {}), None)
        if action != "update":
            slack.close_view(view_id)
            return cls(reply, None, {}, None)
        shown = slack.replace_view(view_id, answer.get("view") or {})
        if watch and form_states.is_working(shown):
            slack.wait_for(lambda s: s.views[view_id]["hash"] != shown["hash"], timeout=SETTLE)
            shown = slack.view(view_id)
        return cls(reply, shown, form_states.field_errors_of(shown), form_states.problem_of(shown))


def _answer_of(reply: Reply) -> JSON:
    if isinstance(reply, SocketAck):
        return reply.payload or {}
    if reply.status_code != 200 or not reply.text:
        return {}
    found = reply.json()
    return found if isinstance(found, dict) else {}


class SlackUser:
    """One person, acting in Slack through signed requests to the app."""

    def __init__(
        self,
        *,
        app_url: str = "",
        signing_secret: str = "",
        slack: FakeSlack,
        user_id: str,
        name: str,
        team_id: str = "T0BRAND",
        clock: Callable[[], float] = time.time,
        socket: FakeSocketMode | None = None,
    ) -> None:
        self.socket = socket
        self.app_url = app_url
        self.slack = slack
        self.user_id = user_id
        self.name = name
        self.team_id = team_id
        self.clock = clock
        # Socket Mode needs no signing secret; SignatureVerifier refuses an empty one.
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        # (body, timestamp) of the last HTTP request, exactly as signed: send_raw replays it.
        self.last_sent: tuple[bytes, int] | None = None

    # -- what a person does ------------------------------------------------------------------

    def click(
        self,
        *,
        channel: str,
        ts: str,
        action_id: str,
        value: str | None = None,
        option: str | None = None,
        options: list[str] | None = None,
    ) -> Reply:
        """Press a button (or pick ``option`` in a menu, ``options`` in a multi-select) shown
        on the message as it is now."""
        action_id, ts = _plain(action_id), str(ts)
        message = self.slack.message(channel, ts)
        found = [(b, e) for b, e in _elements(message["blocks"]) if e.get("action_id") == action_id]
        if not found:
            shown = [e.get("action_id") for _, e in _elements(message["blocks"])]
            raise LookupError(
                f"{self.name} cannot click {action_id!r}: message {ts} in {channel} shows {shown}"
            )
        block_id, element = found[0]
        kind = element.get("type", "")
        action: JSON = {"action_id": action_id, "block_id": block_id, "type": kind}
        if kind == "button":
            if value is not None and value != element.get("value"):
                raise ValueError(
                    f"button {action_id!r} carries value {element.get('value')!r}, not {value!r};"
                    " use forge_action to send something else"
                )
            action["text"] = element.get("text")
            if "value" in element:
                action["value"] = element["value"]
        elif kind in OPTION_ELEMENTS:
            chosen = [o for o in _options(element) if o.get("value") == option]
            if not chosen:
                offered = [o.get("value") for o in _options(element)]
                raise LookupError(f"{action_id!r} offers {offered}, not option {option!r}")
            action["selected_option"] = {"text": chosen[0].get("text"), "value": option}
        elif kind == "multi_static_select" and options is not None:
            menu = {o.get("value"): o for o in _options(element)}
            missing = [o for o in options if o not in menu]
            if missing:
                raise LookupError(f"{action_id!r} offers {list(menu)}, not {missing}")
            action["selected_options"] = [
                {"text": menu[o].get("text"), "value": o} for o in options
            ]
        elif kind in PICKED and option is not None:
            action[PICKED[kind]] = option
        else:
            raise LookupError(f"cannot click a {kind!r} element ({action_id!r}) with {option=}")
        return self._send_action(channel=channel, message=message, action=action)

    def forge_action(
        self,
        *,
        channel: str,
        ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str = "forged",
        message: JSON | None = None,
        extra: JSON | None = None,
    ) -> Reply:
        """A correctly signed button press that nothing checks: what a stale screen, a replay or
        a forger could send. ``extra`` overrides top-level payload keys."""
        ts = str(ts)
        if message is None:
            try:
                message = self.slack.message(channel, ts)
            except LookupError:
                message = {"type": "message", "ts": ts, "text": "", "blocks": []}
        action = {"action_id": _plain(action_id), "block_id": block_id, "type": "button"}
        if value is not None:
            action["value"] = value
        return self._send_action(channel=channel, message=message, action=action, extra=extra)

    def command(self, command: str, text: str = "", *, channel: str) -> Reply:
        """Type a slash command in ``channel``."""
        body = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self.slack.channel_name(channel),
            "user_id": self.user_id,
            "user_name": self.name,
            "command": command if command.startswith("/") else f"/{command}",
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.slack.new_response_url(channel=channel, user_id=self.user_id),
            "trigger_id": self.slack.new_trigger_id(self.user_id),
        }
        return self._deliver("slash_commands", body, urlencode(body))

    def submit_view(
        self,
        view_id: str,
        values: dict[str, dict[str, Any]],
        *,
        force: bool = False,
        settle: bool = True,
    ) -> Submission:
        """Fill in and submit a modal the app opened. ``values``: ``{block_id: {action_id: v}}``
        where ``v`` is a string (text input) or Slack's own dict (``{"selected_option": ...}``).
        Slack refuses to submit a modal with an empty required input; ``force`` sends anyway.
        Returns what the person then sees (see ``Submission``); ``settle=False``: as soon as the
        app has answered, without watching a "working" form for its outcome."""
        view = self.slack.view(view_id)
        inputs: dict[tuple[str, str], JSON] = {}  # (block_id, action_id) -> input block
        for index, block in enumerate(view.get("blocks") or []):
            if block.get("type") == "input" and isinstance(block.get("element"), dict):
                block_id = str(block.get("block_id") or f"b{index}")
                inputs[block_id, str(block["element"].get("action_id"))] = block
        state: dict[str, JSON] = {}
        for (block_id, action_id), block in inputs.items():
            element = block["element"]
            kind = element.get("type")
            # What the person sees pre-filled is what Slack submits unless they change it.
            if "initial_option" in element:
                start: JSON = {"selected_option": element["initial_option"]}
            elif kind == "multi_static_select":
                start = {"selected_options": element.get("initial_options") or []}
            elif kind == "multi_users_select":
                start = {"selected_users": element.get("initial_users") or []}
            elif kind == "conversations_select":
                start = {"selected_conversation": element.get("initial_conversation")}
            elif "initial_value" in element:
                start = {"value": element["initial_value"]}
            else:
                start = {"value": None} if kind == "plain_text_input" else {}
            state.setdefault(block_id, {})[action_id] = {"type": kind, **start}
        for block_id, actions in values.items():
            for action_id, given in actions.items():
                block = inputs.get((block_id, action_id))
                if block is None and not force:
                    raise LookupError(f"view {view_id} has no input {block_id}/{action_id}")
                entry = {"value": given} if isinstance(given, str) else dict(given)
                kind = (block or {}).get("element", {}).get("type") or next(
                    (INFERRED_TYPES[k] for k in entry if k in INFERRED_TYPES), "plain_text_input"
                )
                state.setdefault(block_id, {})[action_id] = {"type": kind, **entry}
        unfilled = [
            f"{block_id}/{action_id}"
            for (block_id, action_id), block in inputs.items()
            if not block.get("optional")
            and not any(v for k, v in state[block_id][action_id].items() if k != "type")
        ]
        if unfilled and not force:
            raise ValueError(f"Slack would not submit view {view_id}: {unfilled} are required")
        payload = self._envelope("view_submission") | {
            "view": view | {"state": {"values": state}},
            "response_urls": [],
        }
        payload["view"].pop("user_id", None)
        reply = self._deliver("interactive", payload)
        return Submission.settle(self.slack, view_id, reply, watch=settle)

    def pick_in_view(
        self, view_id: str, *, action_id: str, option: str, typed: dict[str, str] | None = None
    ) -> Reply:
        """Pick ``option`` in a menu of an actions block in an open modal (Slack sends
        block_actions with the view and what is typed in it so far: ``typed`` maps an input's
        block_id to its text)."""
        view = self.slack.view(view_id)
        found = [
            (b, e)
            for b, e in _elements(view.get("blocks") or [])
            if e.get("action_id") == action_id
        ]
        if not found:
            raise LookupError(f"view {view_id} shows no {action_id!r}")
        block_id, element = found[0]
        chosen = [o for o in _options(element) if o.get("value") == option]
        if not chosen:
            raise LookupError(f"{action_id!r} offers {[o.get('value') for o in _options(element)]}")
        values: dict[str, JSON] = {}
        for block in view.get("blocks") or []:
            inner = block.get("element") if block.get("type") == "input" else None
            if isinstance(inner, dict) and block.get("block_id") in (typed or {}):
                text = (typed or {})[block["block_id"]]
                values[block["block_id"]] = {
                    str(inner.get("action_id")): {"type": inner.get("type"), "value": text}
                }
        action = {
            "action_id": action_id,
            "block_id": block_id,
            "type": element.get("type"),
            "selected_option": {"text": chosen[0].get("text"), "value": option},
            "action_ts": f"{self.clock():.6f}",
        }
        payload = self._envelope("block_actions") | {
            "container": {"type": "view", "view_id": view_id},
            "view": view | {"state": {"values": values}},
            "actions": [action],
            "state": {"values": values},
        }
        payload["view"].pop("user_id", None)
        return self._deliver("interactive", payload)

    def open_home(self, *, tab: str = "home") -> Reply:
        """Open the app's Home tab (or its Messages tab): Slack sends `app_home_opened`, with
        the view it shows when one was ever published there."""
        event: JSON = {
            "type": "app_home_opened",
            "user": self.user_id,
            "channel": f"D{self.user_id[1:]}",
            "tab": tab,
            "event_ts": f"{self.clock():.6f}",
        }
        if tab == "home":
            with contextlib.suppress(LookupError):  # never published: Slack sends no view
                event["view"] = self.slack.home_view(self.user_id)
        payload: JSON = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(6).upper()}",
            "event_time": int(self.clock()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        if self.socket is not None:
            return SocketAck(self.socket.deliver(payload, kind="events_api"))
        return self.send_raw(json.dumps(payload), content_type="application/json")

    def click_home(self, *, action_id: str, value: str | None = None) -> Reply:
        """Press a button on the Home tab as it was last published to this person: a
        block_actions from a view, with no channel and no message."""
        action_id = _plain(action_id)
        view = self.slack.home_view(self.user_id)
        found = [
            (b, e)
            for b, e in _elements(view["blocks"])
            if e.get("action_id") == action_id and (value is None or e.get("value") == value)
        ]
        if not found:
            shown = [(e.get("action_id"), e.get("value")) for _, e in _elements(view["blocks"])]
            raise LookupError(f"{self.name}'s home shows no {action_id!r} {value!r}: {shown}")
        block_id, element = found[0]
        return self.forge_home(
            action_id=action_id, value=element.get("value"), block_id=block_id, view=view
        )

    def forge_home(
        self,
        *,
        action_id: str,
        value: str | None = None,
        block_id: str = "forged",
        view: JSON | None = None,
    ) -> Reply:
        """A correctly signed press in the Home tab that nothing checks (a button this person's
        home does not show, a stale or forged value)."""
        if view is None:
            try:
                view = self.slack.home_view(self.user_id)
            except LookupError:
                view = {"id": "V0NEVER", "type": "home", "blocks": [], "callback_id": ""}
        action: JSON = {"action_id": _plain(action_id), "block_id": block_id, "type": "button"}
        if value is not None:
            action["value"] = value
        payload = self._envelope("block_actions") | {
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "actions": [action | {"action_ts": f"{self.clock():.6f}"}],
            "state": {"values": {}},
        }
        return self._deliver("interactive", payload)

    def last_view_for(self, user_id: str) -> JSON:
        views = self.slack.views_for(user_id)
        if not views:
            raise LookupError(f"no modal was opened for {user_id}")
        return views[-1]

    def send_raw(
        self,
        body: bytes | str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> requests.Response:
        """POST ``body`` to the app, signed for ``timestamp`` (now) unless ``signature`` is given."""
        if self._verifier is None:
            raise ValueError(f"{self.name} has no signing_secret to sign an HTTP request with")
        raw = body.encode() if isinstance(body, str) else body
        stamp = str(int(self.clock()) if timestamp is None else timestamp)
        self.last_sent = (raw, int(stamp))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature
            or self._verifier.generate_signature(timestamp=stamp, body=raw),
        }
        return requests.post(self.app_url, data=raw, headers=headers, timeout=10)

    def _deliver(self, kind: Kind, payload: JSON, form: str | None = None) -> Reply:
        """Send ``payload`` the way Slack would: over the socket, or as a signed form POST
        (``form``, else ``payload=<json>``)."""
        if self.socket is not None:
            return SocketAck(self.socket.deliver(payload, kind=kind))
        return self.send_raw(form or urlencode({"payload": json.dumps(payload)}))

    # -- payloads ----------------------------------------------------------------------------

    def _envelope(self, kind: str) -> JSON:
        return {
            "type": kind,
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "user": {
                "id": self.user_id,
                "username": self.name,
                "name": self.name,
                "team_id": self.team_id,
            },
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.slack.new_trigger_id(self.user_id),
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def _send_action(
        self, *, channel: str, message: JSON, action: JSON, extra: JSON | None = None
    ) -> Reply:
        ts = str(message.get("ts", ""))
        shown = {
            k: v for k, v in message.items() if v is not None and k not in ("channel", "edits")
        }
        payload = self._envelope("block_actions") | {
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "channel": {"id": channel, "name": self.slack.channel_name(channel)},
            "message": {"type": "message", **shown},
            "state": {"values": {}},
            "response_url": self.slack.new_response_url(
                channel=channel, user_id=self.user_id, message_ts=ts
            ),
            "actions": [action | {"action_ts": f"{self.clock():.6f}"}],
        }
        payload |= extra or {}
        return self._deliver("interactive", payload)
