"""The fake Slack Web API, driven through slack_sdk's real WebClient, and SlackUser through Bolt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.fakes.slack_api import FakeSlack
from bot.fakes.slack_user import SlackUser

TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as slack:
        yield slack


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.url)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class BoltApp:
    """A minimal Bolt app on loopback, recording what its listeners saw."""

    app: App
    url: str
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
def bolt(fake: FakeSlack) -> Iterator[BoltApp]:
    app = App(client=WebClient(token=TOKEN, base_url=fake.url), signing_secret=SIGNING_SECRET)
    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    bolt = BoltApp(app, f"http://127.0.0.1:{server.server_port}/slack/events")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield bolt
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


META = {"event_type": "brandbot_card", "event_payload": {"id": 7}}
CARD: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*@dana*: outage"}},
    {
        "type": "actions",
        "block_id": "card",
        "elements": [
            {
                "type": "button",
                "action_id": "claim",
                "value": "m1",
                "text": {"type": "plain_text", "text": "Claim"},
            },
            {
                "type": "static_select",
                "action_id": "reroute",
                "placeholder": {"type": "plain_text", "text": "Reroute"},
                "options": [
                    {"text": {"type": "plain_text", "text": "Promo"}, "value": "promo"},
                    {"text": {"type": "plain_text", "text": "Care"}, "value": "care"},
                ],
            },
            {"type": "button", "action_id": "dismiss", "text": {"type": "plain_text", "text": "X"}},
        ],
    },
]
MODAL = {
    "type": "modal",
    "callback_id": "why",
    "title": {"type": "plain_text", "text": "Dismiss mention"},
    "submit": {"type": "plain_text", "text": "Dismiss"},
    "private_metadata": '{"mention": "m1"}',
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {
                "type": "radio_buttons",
                "action_id": "choice",
                "options": [{"text": {"type": "plain_text", "text": "Spam"}, "value": "spam"}],
            },
        },
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
    ],
}


def _error(call: Callable[[], object]) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return str(caught.value.response["error"])


def test_post_update_and_history_round_trip(fake: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C0CARE", text="one", blocks=CARD, metadata=META)
    second = client.chat_postMessage(channel="C0CARE", text="two")
    reply = client.chat_postMessage(channel="C0CARE", text="re", thread_ts=first["ts"])
    assert float(first["ts"]) < float(second["ts"]) < float(reply["ts"])
    assert first["message"]["blocks"] == CARD

    client.chat_update(channel="C0CARE", ts=first["ts"], text="one, claimed", blocks=[])
    stored = fake.message("C0CARE", first["ts"])
    assert (stored["text"], stored["blocks"], stored["edits"]) == ("one, claimed", [], 1)
    assert stored["metadata"] == META  # kept: chat.update without metadata retains it

    page = client.conversations_history(channel="C0CARE", limit=1, include_all_metadata=True)
    assert [m["text"] for m in page["messages"]] == ["two"]  # newest first, replies left out
    cursor = page["response_metadata"]["next_cursor"]
    rest = client.conversations_history(channel="C0CARE", cursor=cursor, include_all_metadata=True)
    assert [m["ts"] for m in rest["messages"]] == [first["ts"]]
    assert rest["messages"][0]["metadata"] == META and rest["messages"][0]["reply_count"] == 1
    assert rest["response_metadata"]["next_cursor"] == ""
    plain = client.conversations_history(channel="C0CARE", oldest=first["ts"])
    assert [m["text"] for m in plain["messages"]] == ["two"]  # oldest is exclusive
    assert "metadata" not in client.conversations_history(channel="C0CARE")["messages"][1]

    thread = client.conversations_replies(channel="C0CARE", ts=first["ts"])
    assert [m["text"] for m in thread["messages"]] == ["one, claimed", "re"]
    link = client.chat_getPermalink(channel="C0CARE", message_ts=second["ts"])["permalink"]
    assert link.endswith("/archives/C0CARE/p" + second["ts"].replace(".", ""))
    last = fake.last_message("C0CARE")
    assert last is not None and last["text"] == "re"
    assert _error(lambda: client.chat_update(channel="C0CARE", ts="1.2", text="x")) == (
        "message_not_found"
    )
    assert [c.method for c in fake.calls][:3] == ["chat.postMessage"] * 3
    assert fake.violations == []


def test_spec_violations_are_recorded(fake: FakeSlack, client: WebClient) -> None:
    assert _error(lambda: client.api_call("chat.postMessagee", json={"channel": "C1"})) == (
        "unknown_method"
    )
    assert fake.calls[-1].http_status == 404
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too
        assert _error(lambda: client.chat_postMessage(channel="C1", text="")) == "no_text"
    assert _error(lambda: client.api_call("chat.update", json={"channel": "C1"})) == (
        "invalid_arguments"
    )
    assert _error(lambda: client.chat_postMessage(channel="C1", text="x", colour="red")) == (
        "invalid_arguments"
    )
    too_many = [{"type": "divider"}] * 51
    assert _error(lambda: client.chat_postMessage(channel="C1", text="x", blocks=too_many)) == (
        "invalid_blocks"
    )
    bad_token = WebClient(token="xoxb-wrong", base_url=fake.url)
    assert _error(bad_token.auth_test) == "invalid_auth"
    assert [v.split(":")[0] for v in fake.violations] == [
        "chat.postMessagee",
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
        "chat.postMessage",
        "auth.test",
    ]
    assert "['ts']" in fake.violations[2] and "['colour']" in fake.violations[3]
    assert fake.messages == {}


def test_newer_and_automatic_arguments_are_allowed(fake: FakeSlack) -> None:
    bolt_style = WebClient(token=TOKEN, base_url=fake.url, team_id="T0BRAND")  # as Bolt builds it
    posted = bolt_style.chat_postMessage(channel="C1", text="x", metadata=META, unfurl_links=False)
    bolt_style.conversations_history(channel="C1", include_all_metadata=True, limit=5)
    bolt_style.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert posted["message"]["metadata"] == META
    assert fake.calls[0].args["team_id"] == "T0BRAND"
    assert fake.ephemerals[0] | {"ts": None} == {
        "channel": "C1",
        "user": "U1",
        "text": "psst",
        "blocks": None,
        "thread_ts": None,
        "ts": None,
    }
    assert fake.violations == []


def test_429_with_retry_after_is_retried_by_slack_sdk(
    fake: FakeSlack, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(builtin_handlers.random, "random", lambda: 0.0)  # no jitter: fast test
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "0"
    assert fake.messages == {}  # a failed call changes nothing

    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    posted = client.chat_postMessage(channel="C1", text="x")
    assert [c.http_status for c in fake.calls] == [429, 429, 200]
    assert fake.message("C1", posted["ts"])["text"] == "x"


def test_channel_rate_is_enforced_like_slack_when_asked(fake: FakeSlack, client: WebClient) -> None:
    now = [1000.0]
    fake.enforce_channel_rate(per_second=1.0, burst=2, clock=lambda: now[0])

    def post(channel: str) -> int | str:
        try:
            client.chat_postMessage(channel=channel, text="x")
            return 200
        except SlackApiError as exc:
            return f"{exc.response.status_code} after {exc.response.headers['Retry-After']}"

    assert [post("C1"), post("C1"), post("C1"), post("C2")] == [200, 200, "429 after 1", 200]
    assert len(fake.messages["C1"]) == 2  # a refused post changes nothing
    now[0] += 1.0
    assert [post("C1"), post("C1")] == [200, "429 after 1"]
    client.chat_update(channel="C1", ts=fake.messages["C1"][0]["ts"], text="y")  # not limited
    # Refilled continuously (half a second is half a send; a refusal takes none), and a quiet
    # spell fills the bucket to its size, no more: the outbox's bucket is the same model.
    now[0] += 0.5
    assert post("C1") == "429 after 1"
    now[0] += 0.5
    assert post("C1") == 200
    now[0] += 600
    assert [post("C1"), post("C1"), post("C1")] == [200, 200, "429 after 1"]


def test_5xx_lost_responses_and_storms(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next(status=503, retry_after=None)
    assert _error(client.auth_test) == "service_unavailable"
    fake.fail_next("chat.postMessage", status=500, retry_after=None, apply=True)
    assert _error(lambda: client.chat_postMessage(channel="C1", text="lost")) == "internal_error"
    assert [m["text"] for m in fake.messages["C1"]] == ["lost"]  # Slack did post it

    fake.fail_randomly(0.5, seed=3, methods={"auth.test"})
    outcomes = []
    for _ in range(20):
        try:
            outcomes.append(client.auth_test()["ok"])
        except SlackApiError as exc:
            outcomes.append(exc.response.status_code)
    client.chat_postMessage(channel="C1", text="never fails")
    fake.stop_failing()
    assert True in outcomes and {429, 500, 503} & set(outcomes)
    assert client.auth_test()["user_id"] == "U0BRANDBOT"


def test_views_need_a_fresh_unused_trigger(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.new_trigger_id("U0ALICE")
    opened = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert fake.views[opened["id"]]["user_id"] == "U0ALICE"
    assert (
        opened["private_metadata"] == MODAL["private_metadata"] and opened["callback_id"] == "why"
    )
    assert _error(lambda: client.views_open(trigger_id=trigger, view=MODAL)) == (
        "expired_trigger_id"
    )
    assert _error(lambda: client.views_open(trigger_id="123.456.abc", view=MODAL)) == (
        "invalid_trigger_id"
    )
    fake.trigger_ttl = 0
    stale = fake.new_trigger_id("U0ALICE")
    assert _error(lambda: client.views_open(trigger_id=stale, view=MODAL)) == "expired_trigger_id"

    updated = client.views_update(view_id=opened["id"], view=MODAL | {"callback_id": "why2"})
    assert updated["view"]["id"] == opened["id"] and updated["view"]["hash"] != opened["hash"]
    assert _error(lambda: client.views_update(view_id=opened["id"], view=MODAL, hash="x")) == (
        "hash_conflict"
    )
    assert fake.violations == []
    long_title = MODAL | {"title": {"type": "plain_text", "text": "A title much too long for it"}}
    assert _error(lambda: client.views_update(view_id=opened["id"], view=long_title)) == (
        "invalid_arguments"
    )
    assert "longer than 24" in fake.violations[0]


def test_users_and_usergroups(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U0ALICE", "alice", is_admin=True)
    fake.set_usergroup("S0LEADS", ["U0ALICE", "U0BOB"])
    assert client.users_info(user="U0ALICE")["user"]["is_admin"] is True
    assert client.usergroups_users_list(usergroup="S0LEADS")["users"] == ["U0ALICE", "U0BOB"]
    fake.set_usergroup("S0LEADS", ["U0BOB"])  # Alice left the group between two clicks
    assert client.usergroups_users_list(usergroup="S0LEADS")["users"] == ["U0BOB"]
    assert _error(lambda: client.usergroups_users_list(usergroup="S0NOPE")) == "no_such_subteam"
    assert _error(lambda: client.users_info(user="U0NOBODY")) == "user_not_found"
    assert [u["id"] for u in client.users_list()["members"]] == ["U0ALICE"]


def test_strict_channels_and_wait_for_timeout(fake: FakeSlack, client: WebClient) -> None:
    fake.strict_channels = True
    fake.add_channel("C0KNOWN", "known")
    client.chat_postMessage(channel="C0KNOWN", text="hi")
    assert _error(lambda: client.chat_postMessage(channel="C0OTHER", text="hi")) == (
        "channel_not_found"
    )
    info = client.conversations_info(channel="C0KNOWN")["channel"]
    assert (info["name"], info["is_member"]) == ("known", True)
    fake.wait_for(lambda s: s.calls_to("chat.postMessage"))
    with pytest.raises(AssertionError, match=r"(?s)timed out.*views\.open.*chat\.postMessage"):
        fake.wait_for(lambda s: s.calls_to("views.open"), timeout=0.1)


def _user(fake: FakeSlack, bolt: BoltApp, **kwargs: Any) -> SlackUser:
    fake.add_user("U0ALICE", "alice")
    return SlackUser(
        app_url=bolt.url,
        signing_secret=SIGNING_SECRET,
        slack=fake,
        user_id="U0ALICE",
        name="alice",
        **kwargs,
    )


def test_click_sends_a_signed_slack_shaped_action(
    fake: FakeSlack, client: WebClient, bolt: BoltApp
) -> None:
    @bolt.app.action("claim")
    def claim(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        bolt.seen.append(("claim", body))
        where = body["container"]
        client.chat_update(
            channel=where["channel_id"], ts=where["message_ts"], text="mine", blocks=[]
        )
        respond("You claimed it")

    @bolt.app.action("reroute")
    def reroute(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        bolt.seen.append(("reroute", body))

    card = client.chat_postMessage(channel="C0CARE", text="card", blocks=CARD)
    alice = _user(fake, bolt)
    reply = alice.click(channel="C0CARE", ts=card["ts"], action_id="reroute", option="care")
    assert isinstance(reply, requests.Response) and reply.ok  # over HTTP, not Socket Mode
    assert alice.click(channel="C0CARE", ts=card["ts"], action_id="claim").status_code == 200
    fake.wait_for(lambda s: s.calls_to("chat.update") and s.ephemerals)

    (_, rerouted), (_, claimed) = bolt.seen
    assert rerouted["actions"][0]["selected_option"]["value"] == "care"
    action = claimed["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == ("claim", "card", "m1")
    assert claimed["user"]["id"] == "U0ALICE" and claimed["message"]["blocks"] == CARD
    assert claimed["channel"]["id"] == "C0CARE" and claimed["container"]["message_ts"] == card["ts"]
    assert fake.ephemerals[0]["text"] == "You claimed it" and fake.responses[0]["user"] == "U0ALICE"
    assert fake.violations == []  # including the team_id Bolt's per-request client adds

    with pytest.raises(LookupError, match="shows \\[\\]"):  # the update removed the buttons
        alice.click(channel="C0CARE", ts=card["ts"], action_id="claim")
    assert fake.calls_to("chat.update")[0].args["team_id"] == "T0BRAND"


def test_click_refuses_what_is_not_on_the_message(fake: FakeSlack, client: WebClient) -> None:
    card = client.chat_postMessage(channel="C0CARE", text="card", blocks=CARD)
    alice = SlackUser(
        app_url="http://127.0.0.1:9/unused", signing_secret="s", slack=fake, user_id="U1", name="a"
    )
    with pytest.raises(LookupError, match="'approve'"):
        alice.click(channel="C0CARE", ts=card["ts"], action_id="approve")
    with pytest.raises(ValueError, match="forge_action"):
        alice.click(channel="C0CARE", ts=card["ts"], action_id="claim", value="m2")
    with pytest.raises(LookupError, match="not option 'crisis'"):
        alice.click(channel="C0CARE", ts=card["ts"], action_id="reroute", option="crisis")
    with pytest.raises(LookupError, match="no message"):
        alice.click(channel="C0CARE", ts="1.000001", action_id="claim")


def test_forged_and_badly_signed_requests(fake: FakeSlack, bolt: BoltApp) -> None:
    @bolt.app.action("claim")
    def claim(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        bolt.seen.append(("claim", body))

    mallory = _user(fake, bolt)
    forged = mallory.forge_action(channel="C0ELSE", ts="1.5", action_id="claim", value="m9")
    assert isinstance(forged, requests.Response) and forged.ok  # over HTTP, not Socket Mode
    assert bolt.seen[0][1]["actions"][0]["value"] == "m9"
    assert bolt.seen[0][1]["container"]["channel_id"] == "C0ELSE"

    body = "payload=" + json.dumps({"type": "block_actions", "actions": []})
    assert mallory.send_raw(body, signature="v0=" + "0" * 64).status_code == 401
    assert mallory.send_raw(body, timestamp=int(time.time()) - 6 * 60).status_code == 401
    late = _user(fake, bolt, clock=lambda: time.time() - 600)
    assert late.forge_action(channel="C1", ts="1.5", action_id="claim").status_code == 401
    assert len(bolt.seen) == 1


def test_commands_modals_and_submissions(fake: FakeSlack, bolt: BoltApp) -> None:
    @bolt.app.command("/brand")
    def brand(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack("opening")
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @bolt.app.view("why")
    def why(ack: Ack, view: dict[str, Any]) -> None:
        bolt.seen.append(("why", view))
        ack()

    alice = _user(fake, bolt)
    response = alice.command("/brand", "dismiss", channel="C0CARE")
    assert response.status_code == 200 and response.text == "opening"
    fake.wait_for(lambda s: s.views)
    view = alice.last_view_for("U0ALICE")

    with pytest.raises(ValueError, match="reason/choice"):
        alice.submit_view(view["id"], {"note": {"text": "x"}})
    with pytest.raises(LookupError):
        alice.submit_view(view["id"], {"reason": {"other": "x"}})
    answer = alice.submit_view(
        view["id"], {"reason": {"choice": {"selected_option": {"value": "spam"}}}}
    )
    assert answer.status_code == 200
    [(_, submitted)] = bolt.seen
    assert submitted["private_metadata"] == MODAL["private_metadata"]
    assert submitted["state"]["values"] == {
        "reason": {"choice": {"type": "radio_buttons", "selected_option": {"value": "spam"}}},
        "note": {"text": {"type": "plain_text_input", "value": None}},
    }
    assert fake.violations == []


def test_response_url_and_unknown_paths(fake: FakeSlack) -> None:
    url = fake.new_response_url(channel="C1", user_id="U1")
    assert requests.post(url, json={"text": "hi", "response_type": "in_channel"}, timeout=5).ok
    last = fake.last_message("C1")
    assert last is not None and last["text"] == "hi"
    assert requests.post(url + "x", json={}, timeout=5).status_code == 404
    assert requests.get(fake.url.replace("/api/", "/nope"), timeout=5).status_code == 404
