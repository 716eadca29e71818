"""Socket Mode end to end: `brandbot run --socket` against the fake Slack's WebSocket server.

The fake's own WebSocket protocol is checked first with slack_sdk's builtin Socket Mode client
(the one Bolt's ``SocketModeHandler`` uses), then a real ``brandbot run --socket`` process polls
X, posts a card and handles a Claim click that arrives over the socket, with no signing secret.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from support import TEST_CONFIG, brandbot_run, first_card, run_env

from bot.fakes.slack_api import FakeSlack
from bot.fakes.slack_socket import (
    OP_CLOSE,
    OP_TEXT,
    FakeSocketMode,
    SocketAck,
    accept_key,
    encode_frame,
)
from bot.fakes.slack_user import SlackUser
from bot.fakes.x_api import FakeX
from bot.slack.cards.mention_card import MentionAction

BOT_TOKEN = "xoxb-socket-test-token-3c9e"
APP_TOKEN = "xapp-1-A0BRANDBOT-socket-test-8d21"
X_BEARER = "socket-test-bearer-e4a7"
AUDIT_KEY = "socket-test-audit-key-8b2e5d1a9c4f7e0b3d6a"


# -- the fake Socket Mode server, driven by slack_sdk's own client ----------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake


def _client(slack: FakeSlack, acks: bool = True) -> SocketModeClient:
    client = SocketModeClient(
        app_token=APP_TOKEN,
        web_client=WebClient(token=BOT_TOKEN, base_url=slack.url),
        logger=logging.getLogger("test.socket_mode"),
    )
    if acks:

        def ack(client: BaseSocketModeClient, req: SocketModeRequest) -> None:
            body = {"text": "got it"} if req.accepts_response_payload else None
            client.send_socket_mode_response(SocketModeResponse(req.envelope_id, body))

        client.socket_mode_request_listeners.append(ack)
    return client


def test_slack_sdk_client_connects_gets_hello_and_acks(slack: FakeSlack) -> None:
    socket_mode = slack.socket
    assert socket_mode is not None
    hellos: list[dict] = []
    client = _client(slack)
    client.message_listeners.append(lambda _c, message, _raw: hellos.append(message))
    client.connect()
    try:
        socket_mode.wait_connected(timeout=10)
        opened = slack.calls_to("apps.connections.open")
        assert len(opened) == 1 and opened[0].ok
        assert opened[0].response["url"].startswith(f"{socket_mode.url}?ticket=")

        ack = socket_mode.deliver({"type": "block_actions", "actions": []}, kind="interactive")
        assert set(ack) == {"envelope_id"}  # block_actions accept no response payload
        ack = socket_mode.deliver({"command": "/brand", "text": ""}, kind="slash_commands")
        assert ack["payload"] == {"text": "got it"}
        event = {"type": "event_callback", "event": {"type": "app_mention"}}
        assert socket_mode.deliver(event, kind="events_api")["envelope_id"]
        socket_mode.ping()  # the client answers Slack's pings
        assert socket_mode.pongs
        assert hellos[0]["type"] == "hello" and hellos[0]["num_connections"] == 1
    finally:
        client.close()
    assert slack.violations == []


def test_refresh_requested_reconnects_through_a_new_url(slack: FakeSlack) -> None:
    socket_mode = slack.socket
    assert socket_mode is not None
    client = _client(slack)
    client.connect()
    try:
        socket_mode.wait_connected(timeout=10)
        socket_mode.disconnect("refresh_requested")
        # a new URL, a new connection, and the old one closed by the client
        socket_mode.wait_for(
            lambda s: len(s.connections) == 2 and not s.connections[0].open, timeout=15
        )
        assert len(slack.calls_to("apps.connections.open")) == 2
        ack = socket_mode.deliver({"type": "block_actions", "actions": []}, kind="interactive")
        envelope = socket_mode.envelopes[ack["envelope_id"]]
        assert envelope.connection == 2
    finally:
        client.close()
    assert slack.violations == []


def test_app_token_only_opens_connections(slack: FakeSlack) -> None:
    bot = WebClient(token=BOT_TOKEN, base_url=slack.url)
    app = WebClient(token=APP_TOKEN, base_url=slack.url)
    for call in (lambda: bot.apps_connections_open(app_token=BOT_TOKEN), app.auth_test):
        with pytest.raises(SlackApiError) as refused:
            call()
        assert refused.value.response["error"] == "not_allowed_token_type"
    assert len(slack.violations) == 2
    assert app.apps_connections_open(app_token=APP_TOKEN)["url"].startswith("ws://127.0.0.1:")


def test_late_and_unknown_acks_are_violations(slack: FakeSlack) -> None:
    socket_mode = slack.socket
    assert socket_mode is not None
    socket_mode.ack_deadline = 0.0  # every real ack is "late"
    client = _client(slack)
    client.connect()
    try:
        socket_mode.deliver({"type": "block_actions", "actions": []}, kind="interactive")
        client.send_socket_mode_response({"envelope_id": "never-sent"})
        slack.wait_for(lambda s: len(s.violations) >= 2, timeout=10)
    finally:
        client.close()
    assert any("acked after" in v for v in slack.violations)
    assert any("unknown envelope 'never-sent'" in v for v in slack.violations)


def _handshake(sock: socket.socket, path: str) -> tuple[bytes, BinaryIO]:
    """(the server's handshake response, a reader positioned at the first frame)."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    reader = sock.makefile("rb")
    response = b""
    while (line := reader.readline()) not in (b"\r\n", b""):
        response += line
    if response.startswith(b"HTTP/1.1 101 "):
        assert f"Sec-WebSocket-Accept: {accept_key(key)}".encode() in response
        assert accept_key(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455's own example
    return response, reader


def _read_frame(reader: BinaryIO) -> tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        data = reader.read(n)
        assert len(data) == n, "server hung up"
        return data

    b1, b2 = exactly(2)
    assert not b2 & 0x80, "server frames must not be masked"
    length = b2 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", exactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", exactly(8))
    return b1 & 0x0F, exactly(length)


def test_handshake_needs_a_ticket_and_frames_must_be_masked() -> None:
    violations: list[str] = []
    with FakeSocketMode(on_violation=violations.append) as server:
        port = int(server.url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            response, _ = _handshake(sock, "/link/?ticket=made-up")
            assert response.startswith(b"HTTP/1.1 401")
        assert "not a URL from apps.connections.open" in violations[0]

        path = server.issue_url().removeprefix(f"ws://127.0.0.1:{port}")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            response, reader = _handshake(sock, path)
            assert response.startswith(b"HTTP/1.1 101")
            opcode, data = _read_frame(reader)
            assert opcode == OP_TEXT and json.loads(data)["type"] == "hello"
            sock.sendall(encode_frame(OP_TEXT, b'{"envelope_id": "x"}', mask=False))
            opcode, data = _read_frame(reader)
            assert opcode == OP_CLOSE and struct.unpack("!H", data[:2])[0] == 1002
        assert any("not masked" in v for v in violations)


# -- `brandbot run --socket`, a real process ----------------------------------------------------


def test_run_socket_mode_delivers_cards_and_handles_clicks_over_the_socket(
    tmp_path: Path, database_url: str
) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(TEST_CONFIG)
    with (
        FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack,
        FakeX(bearer_token=X_BEARER) as x,
    ):
        socket_mode = slack.socket
        assert socket_mode is not None
        x.add_user("acme")
        tweet = x.add_tweet(author="dana", text="@acme outage since this morning")
        env = run_env(  # and no SLACK_SIGNING_SECRET: Socket Mode needs none
            slack.url,
            x.url,
            database_url,
            config,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_APP_TOKEN=APP_TOKEN,
            X_BEARER_TOKEN=X_BEARER,
            BRANDBOT_AUDIT_KEY=AUDIT_KEY,
        )
        with brandbot_run("--socket", env=env, cwd=tmp_path):
            socket_mode.wait_connected(timeout=30)
            opened = slack.calls_to("apps.connections.open")
            assert opened and all(c.ok for c in opened)
            posted = first_card(slack, database_url)
            assert tweet["text"] in str(posted.args["blocks"])
            slack.add_user("U0ALICE", "alice")
            alice = SlackUser(slack=slack, user_id="U0ALICE", name="alice", socket=socket_mode)
            reply = alice.click(
                channel=posted.response["channel"],
                ts=posted.response["ts"],
                action_id=MentionAction.CLAIM,
            )
            assert reply.status_code == 200
            assert isinstance(reply, SocketAck)  # over Socket Mode, not HTTP
            ack = reply.ack
            envelope = socket_mode.envelopes[ack["envelope_id"]]
            assert envelope.kind == "interactive"
            assert envelope.payload["actions"][0]["action_id"] == MentionAction.CLAIM
            assert envelope.ack_seconds is not None and envelope.ack_seconds < 3
            slack.wait_for(lambda s: s.calls_to("chat.update"), timeout=30)
            assert "Claimed* by <@U0ALICE>" in str(slack.calls_to("chat.update")[-1].args["blocks"])
            alice.open_home()  # an event over the socket, past the same payload checks
            slack.wait_for(lambda s: "U0ALICE" in s.home_views, timeout=30)
            assert "Mentions you claimed (1)" in str(slack.home_view("U0ALICE")["blocks"])
        output = (tmp_path / "run.log").read_text()
        for secret in (BOT_TOKEN, APP_TOKEN, X_BEARER, AUDIT_KEY):
            assert secret not in output, "a secret reached the logs"
        assert "Socket Mode" in output
        assert slack.violations == []


def test_run_socket_mode_with_a_refused_app_token_exits_2_with_a_message(
    tmp_path: Path, database_url: str
) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(TEST_CONFIG)
    wrong = "xapp-1-A0BRANDBOT-revoked-0000"
    with (
        FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake,
        FakeX(bearer_token=X_BEARER) as x,
    ):
        x.add_user("acme")
        env = run_env(
            fake.url,
            x.url,
            database_url,
            config,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_APP_TOKEN=wrong,
            X_BEARER_TOKEN=X_BEARER,
            BRANDBOT_AUDIT_KEY=AUDIT_KEY,
        )
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run"],  # Socket Mode: SLACK_APP_TOKEN is set
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "Slack refused SLACK_APP_TOKEN" in result.stderr
    assert wrong not in result.stderr + result.stdout
