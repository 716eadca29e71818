"""The front door: garbage, malformed, replayed and mistyped Slack requests, over real HTTP.

Unsigned garbage gets 401, signed garbage 400, each with one short log line and no listener run;
a replay of a handled request does nothing; identity fields that are not strings never reach a
listener (nor the audit chain). A hypothesis fuzz sends hundreds of signed payloads of all shapes
and checks none gets a 5xx or leaves a traceback in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.request import BoltRequest
from sqlalchemy import func, select
from support import audit_entries, carded, posted_card

from bot.core import audit
from bot.core.clock import utcnow
from bot.core.db import transaction
from bot.core.models import AuditEntry, Draft, SeenRequest
from bot.fakes.drafting import said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.runtime import WORK_THREAD_NAME
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.draft_modals import (
    CREATE_CALLBACK,
    EDIT_CALLBACK,
    REJECT_CALLBACK,
    DraftContext,
)
from bot.slack.cards.mention_card import MentionAction
from bot.slack.gate import PRUNE_EVERY, REPLAY_WINDOW, ReplayGuard

OPS = "C0OPS"
COMMAND = urlencode(
    {"command": "/brand", "text": "freeze all Outage", "user_id": "U0ADMIN", "user_name": "admin"}
    | {"channel_id": OPS, "team_id": "T0BRAND", "trigger_id": "1.2.abc"}
).encode()


# -- helpers ----------------------------------------------------------------------------------


def _post(world: FakeWorld, body: bytes, headers: dict[str, str]) -> requests.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} | headers
    return requests.post(world.app_url, data=body, headers=headers, timeout=10)


def _signed(world: FakeWorld, body: bytes, content_type: str | None = None) -> dict[str, str]:
    """Headers signing `body` now. HMAC by hand: SignatureVerifier cannot sign non-UTF-8 bytes."""
    stamp = str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(world.signing_secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
    return headers | ({"Content-Type": content_type} if content_type else {})


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Warnings logged while answering requests (waitress's threads, the listeners' work after
    the ack, or a direct dispatch): a background thread of an earlier test may still log
    something else meanwhile."""
    threads = ("waitress", WORK_THREAD_NAME, "MainThread")
    serving = [r for r in caplog.records if (r.threadName or "").startswith(threads)]
    return [r for r in serving if r.levelno >= logging.WARNING]


def _audit_count(world: FakeWorld) -> int:
    with transaction(world.db) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _assert_one_short_line(records: list[logging.LogRecord], *, secret: str) -> None:
    assert len(records) == 1, [r.getMessage() for r in records]
    line = records[0].getMessage()
    assert "\n" not in line and len(line) < 160 and records[0].exc_info is None, line
    assert secret not in line and "v0=" not in line, line


def _assert_nothing_ran(world: FakeWorld) -> None:
    assert world.slack.ephemerals == [] and not world.slack.views
    assert world.runtime.services.freeze.is_frozen("acme") is None
    assert _audit_count(world) == 0


# -- 1. unsigned and malformed requests -------------------------------------------------------

BAD_SIGNATURE = "v0=" + "0" * 64
UNSIGNED: dict[str, tuple[bytes, dict[str, str]]] = {
    "timestamp not a number": (COMMAND, {"X-Slack-Request-Timestamp": "soon"}),
    "timestamp with a sign": (COMMAND, {"X-Slack-Request-Timestamp": "+1700000000"}),
    "timestamp missing": (COMMAND, {}),
    "timestamp stale": (COMMAND, {"X-Slack-Request-Timestamp": str(int(time.time()) - 600)}),
    "signature missing": (COMMAND, {"X-Slack-Signature": ""}),
    "signature garbled": (COMMAND, {"X-Slack-Signature": "v0=\u00e9" + "0" * 63}),
    "signature wrong": (COMMAND, {}),
    "body not UTF-8": (b"payload=\xff\xfe\x80", {}),
}


@pytest.mark.parametrize("case", list(UNSIGNED))
def test_unsigned_garbage_gets_401_one_short_log_line_and_runs_nothing(
    world: FakeWorld, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, overrides = UNSIGNED[case]
    headers = {
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": BAD_SIGNATURE,
    }
    headers = {k: v for k, v in (headers | overrides).items() if v}
    with caplog.at_level(logging.INFO):
        response = _post(world, body, headers)
    assert response.status_code == 401, response.text
    _assert_one_short_line(_warnings(caplog), secret=world.signing_secret)
    _assert_nothing_ran(world)


def _payload(value: Any) -> bytes:
    return urlencode({"payload": json.dumps(value)}).encode()


def _click_payload(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0ADMIN", "name": "admin"},
        "team": {"id": "T0BRAND"},
        "container": {"type": "message", "channel_id": OPS, "message_ts": "1.5"},
        "channel": {"id": OPS},
        "trigger_id": "1.2.abc",
        "actions": [{"action_id": MentionAction.CLAIM.value, "block_id": "b", "value": "1"}],
    }
    return base | changes


SIGNED_MALFORMED: dict[str, tuple[bytes, str | None]] = {
    "not UTF-8": (b"payload=\xff\xfe", None),
    "form without payload or command": (b"hello=world&x=1", None),
    "payload not JSON": (b"payload=%7Bnope", None),
    "payload a JSON list": (_payload([1, 2]), None),
    "payload a JSON string": (_payload("block_actions"), None),
    "JSON body a list": (b"[1, 2]", "application/json"),
    "JSON body nested too deep": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "command not a string": (b'{"command": 5, "user_id": "U0ADMIN"}', "application/json"),
    "event not an object": (b'{"type": "url_verification", "event": "type"}', "application/json"),
    "actions a string": (_payload(_click_payload(actions="claim")), None),
    "actions empty": (_payload(_click_payload(actions=[])), None),
    "actions not objects": (_payload(_click_payload(actions=[5])), None),
    "action_id a number": (_payload(_click_payload(actions=[{"action_id": 7}])), None),
    "user a string": (_payload(_click_payload(user="U0ADMIN")), None),
    "user a list": (_payload(_click_payload(user=["id"])), None),
    "team a list": (_payload(_click_payload(team=["id"])), None),
    "channel a string": (_payload(_click_payload(channel="C0OPS")), None),
    "container a list": (_payload(_click_payload(container=[])), None),
    "view a number": (_payload(_click_payload(type="view_submission", view=5)), None),
    "view state not an object": (
        _payload(_click_payload(type="view_submission", view={"callback_id": "x", "state": 1})),
        None,
    ),
    "response_urls not objects": (_payload(_click_payload(response_urls=["x"])), None),
    "authorizations a number": (_payload(_click_payload(authorizations=3)), None),
    "a kind this app does not serve": (_payload(_click_payload(type="event_callback")), None),
}


@pytest.mark.parametrize("case", list(SIGNED_MALFORMED))
def test_signed_but_malformed_requests_get_400_before_bolt_sees_them(
    world: FakeWorld, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, content_type = SIGNED_MALFORMED[case]
    with caplog.at_level(logging.INFO):
        response = _post(world, body, _signed(world, body, content_type))
    assert response.status_code == 400, response.text
    _assert_one_short_line(_warnings(caplog), secret=world.signing_secret)
    _assert_nothing_ran(world)


# -- 1b. fuzz ---------------------------------------------------------------------------------

FUZZ_EXAMPLES = 1200
SLACKISH = st.sampled_from(["U0ADMIN", "C0OPS", "T0BRAND", "1.5", "", "/brand", "freeze all x"])
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    SCALARS | SLACKISH,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = ["type", "user", "team", "channel", "container", "view", "actions", "trigger_id"]
FIELDS += ["message", "state", "response_urls", "authorizations", "enterprise", "event", "command"]
FIELDS += ["user_id", "channel_id", "team_id", "response_url", "function_execution_id"]
ACTION_IDS = [a.value for a in (*MentionAction, *DraftAction)] + ["held_release:1", "nope"]
CALLBACKS = [CREATE_CALLBACK, EDIT_CALLBACK, REJECT_CALLBACK, "mention_dismiss", "nope"]
KINDS = ["block_actions", "view_submission", "view_closed", "url_verification", "shortcut"]


@st.composite
def _interactive(draw: st.DrawFn, trigger: Callable[[], str]) -> dict[str, Any]:
    """A plausible payload with a few fields replaced by random JSON values or removed."""
    kind = draw(st.sampled_from(KINDS))
    action = {"action_id": draw(st.sampled_from(ACTION_IDS)), "block_id": "b", "value": "1:x"}
    # The metadata the app itself wrote when it opened the modal (Slack hands it back as is).
    metadata = DraftContext(channel="C0CUSTOMER", card_ts="1.5", value="1:x").dump()
    view: dict[str, Any] = {"id": "V1", "type": "modal", "private_metadata": metadata}
    view["callback_id"] = draw(st.sampled_from(CALLBACKS))
    view["state"] = {"values": {"text": {"value": {"type": "plain_text_input", "value": "hi"}}}}
    payload = _click_payload(type=kind, actions=[action], view=view, challenge="c")
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()):
            payload[name] = draw(JSON_VALUES)
        else:
            payload.pop(name, None)
    if draw(st.booleans()):  # reach inside: a wrong type one level down
        target = draw(st.sampled_from(["user", "container", "view", "team", "channel"]))
        inner = draw(st.sampled_from(["id", "channel_id", "state", "callback_id", "type"]))
        if isinstance(payload.get(target), dict):
            payload[target][inner] = draw(JSON_VALUES)
    return _live_trigger(payload, trigger)


@st.composite
def _command(draw: st.DrawFn, trigger: Callable[[], str]) -> dict[str, str]:
    """A slash command form with some fields dropped or replaced by random text."""
    form = {"command": draw(st.sampled_from(["/brand", "/tweet", "/nope"])), "text": "help"}
    form |= {"user_id": "U0ALICE", "user_name": "alice", "channel_id": "C0CUSTOMER"}
    form |= {"team_id": "T0BRAND", "trigger_id": "", "response_url": "http://127.0.0.1:9/x"}
    for name in draw(st.lists(st.sampled_from(sorted(form)), max_size=3, unique=True)):
        if draw(st.booleans()):
            form[name] = draw(st.text(max_size=16) | SLACKISH)
        else:
            form.pop(name)
    return _live_trigger(form, trigger)


def _live_trigger(payload: dict[str, Any], trigger: Callable[[], str]) -> dict[str, Any]:
    # A string trigger_id Slack never issued passes the door (it is a string) and then fails in
    # views.open, which the listener reports with a traceback under a ref, by design: strings
    # stay live triggers so that the fuzz is about shapes and types, the front door's business.
    if isinstance(payload.get("trigger_id"), str):
        payload["trigger_id"] = trigger()
    return payload


def _form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def _bodies(trigger: Callable[[], str]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        _interactive(trigger).map(_payload),
        _interactive(trigger).map(lambda p: json.dumps(p).encode()),
        _command(trigger).map(_form),
        JSON_VALUES.map(_payload),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(["payload", "command", "user_id", "channel_id", "text", "ssl_check"])
            | st.text(max_size=6),
            st.text(max_size=16) | SLACKISH,
            max_size=5,
        ).map(_form),
        st.binary(max_size=64),
    )


def test_fuzzed_signed_payloads_never_get_a_5xx_nor_leave_a_traceback(
    world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[int] = []
    session = requests.Session()  # one keep-alive connection: the fuzz is about the app, not TCP

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=_bodies(lambda: world.slack.new_trigger_id("U0ADMIN")), as_json=st.booleans())
    def send(body: bytes, as_json: bool) -> None:
        content_type = "application/json" if as_json else "application/x-www-form-urlencoded"
        headers = _signed(world, body, content_type)
        response = session.post(world.app_url, data=body, headers=headers, timeout=10)
        sent.append(response.status_code)
        assert response.status_code < 500, (body[:300], response.status_code)

    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        send()
    elapsed = time.monotonic() - started
    assert len(sent) >= 500, len(sent)
    tracebacks = [
        r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR
    ]
    assert tracebacks == [] and "Traceback" not in caplog.text, tracebacks[:3]
    print(f"fuzz: {len(sent)} requests in {elapsed:.1f}s, statuses {Counter(sent)}")
    assert Counter(sent)[200] > len(sent) / 20  # some got past the door, to the listeners


# -- 2. replays -------------------------------------------------------------------------------


def _drafts(world: FakeWorld) -> list[Draft]:
    with transaction(world.db) as session:
        return list(session.scalars(select(Draft)))


def test_a_draft_form_submitted_three_times_makes_one_draft(
    world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    alice = world.user("U0ALICE", "alice")
    alice.command("/tweet", "", channel="C0CUSTOMER")
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    text = {"text": {"value": {"type": "plain_text_input", "value": "We are back up."}}}
    first = alice.submit_view(view["id"], text)
    assert first.status_code == 200 and len(_drafts(world)) == 1
    assert alice.last_sent is not None
    body, stamp = alice.last_sent
    audited = _audit_count(world)
    with caplog.at_level(logging.WARNING):
        replies = [alice.send_raw(body, timestamp=stamp) for _ in range(2)]
        # Each replay's work stops at the replay check, after its answer.
        world.slack.wait_for(
            lambda _: len([r for r in _warnings(caplog) if "replay" in r.getMessage()]) == 2
        )
    # Answered as the original was (the form's "working" state), and nothing more happens.
    assert [(r.status_code, r.text) for r in replies] == [(200, first.reply.text)] * 2
    assert [d.text for d in _drafts(world)] == ["We are back up."]
    assert _audit_count(world) == audited
    replayed = [r for r in _warnings(caplog) if "replay" in r.getMessage()]
    assert len(replayed) == 2 and all(r.exc_info is None for r in replayed)


def _freezes(world: FakeWorld) -> int:
    return len(audit_entries(world, action="freeze"))


def _ephemeral(world: FakeWorld, user: SlackUser, command: str, text: str) -> str:
    return said(world, user, partial(user.command, command, text, channel=OPS))


def test_a_replayed_freeze_after_unfreeze_does_not_freeze_again(
    world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    admin = world.user("U0ADMIN", "admin")
    assert "frozen" in _ephemeral(world, admin, "/brand", "freeze all Outage")
    assert admin.last_sent is not None
    freeze_request = admin.last_sent
    assert "resumed" in _ephemeral(world, admin, "/brand", "unfreeze all")
    assert world.runtime.services.freeze.is_frozen("acme") is None

    with caplog.at_level(logging.WARNING):
        replay = admin.send_raw(freeze_request[0], timestamp=freeze_request[1])
    assert (replay.status_code, replay.text) == (200, "")
    # The ack comes first; the replay is recognised by the work after it, before any change.
    world.slack.wait_for(
        lambda _: "ignored a replayed Slack request" in [r.getMessage() for r in _warnings(caplog)]
    )
    # A later request is answered after the replay was: had the replay run, it would show.
    _ephemeral(world, admin, "/brand", "help")
    assert world.runtime.services.freeze.is_frozen("acme") is None
    assert _freezes(world) == 1
    assert "ignored a replayed Slack request" in [r.getMessage() for r in _warnings(caplog)]


def test_seen_requests_older_than_the_window_are_pruned(world: FakeWorld) -> None:
    start = utcnow()
    now = [start]
    guard = ReplayGuard(world.db, now=lambda: now[0])
    assert guard.first_time("1", b"a") and not guard.first_time("1", b"a")
    now[0] = start + PRUNE_EVERY / 2  # too soon to prune again: the digest stays
    assert guard.first_time("2", b"b") and not guard.first_time("1", b"a")
    now[0] = start + REPLAY_WINDOW + PRUNE_EVERY  # past the window: the next request prunes
    assert guard.first_time("3", b"c")
    with transaction(world.db) as session:
        kept = len(list(session.scalars(select(SeenRequest))))
    assert kept == 1  # only "3"; Slack's own 5-minute check refuses "1" and "2" by now


# -- 3. identity fields -----------------------------------------------------------------------


def test_a_click_with_a_numeric_user_id_is_refused_and_the_audit_chain_still_verifies(
    world: FakeWorld,
) -> None:
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    audited = _audit_count(world)
    mallory = world.user("U0MALLORY", "mallory")
    response = mallory.forge_action(
        channel=card.channel,
        ts=card.ts,
        action_id=MentionAction.CLAIM,
        value=mention_id,
        extra={"user": {"id": 5, "name": "mallory"}},
    )
    assert response.status_code == 400
    assert world.mention(mention_id).claimed_by is None
    assert _audit_count(world) == audited
    with transaction(world.db) as session:
        checked, broken = audit.verify(session)
    assert broken is None and checked == audited


@pytest.mark.parametrize(
    "changes",
    [
        {"user": {"id": 5}},
        {"user": {"id": "u0-lower"}},
        {"user": {"id": "U0ADMIN", "name": ["admin"]}},
        {"channel": {"id": 7}},
        {"container": {"channel_id": OPS, "message_ts": 1.5}},
        {"trigger_id": 12},
        {"actions": [{"action_id": "mention_claim", "value": 1}]},
    ],
)
def test_socket_mode_payloads_with_mistyped_identity_are_refused_by_bolt_middleware(
    world: FakeWorld, caplog: pytest.LogCaptureFixture, changes: dict[str, Any]
) -> None:
    # Socket Mode has no front door: Bolt's global middleware is the only check there.
    request = BoltRequest(body=_click_payload(**changes), mode="socket_mode")
    with caplog.at_level(logging.WARNING):
        response = world.runtime.bolt.dispatch(request)
    assert (response.status, response.body) == (400, "")
    _assert_one_short_line(_warnings(caplog), secret=world.signing_secret)
    assert _audit_count(world) == 0 and world.slack.ephemerals == []
