"""A local fake of Slack's Socket Mode server: the WebSocket end of ``apps.connections.open``.

``FakeSlack(app_token="xapp-…")`` starts one and hands its ``ws://127.0.0.1:PORT/link/?ticket=…``
URLs out from ``apps.connections.open``; the app's own Socket Mode client (slack_sdk's builtin one,
which uses a plain socket when the port is not 443) connects, gets Slack's ``hello``, and receives
envelopes that a test sends with ``deliver`` and that the app must acknowledge with
``{"envelope_id": …}`` within 3 seconds, as on Slack.

It speaks RFC 6455 itself (handshake, masked client frames, unmasked server frames, fragments,
ping/pong, close) because it is stdlib only, like the rest of ``bot/fakes``. What Slack would
not accept (an unknown ticket, an unmasked frame, a late or unknown ack, an ack with a payload
for an envelope that accepts none) becomes a violation.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import socket
import socketserver
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from bot.fakes.loopback import LoopbackServer

JSON = dict[str, Any]
Kind = Literal["interactive", "slash_commands", "events_api"]
KINDS = ("interactive", "slash_commands", "events_api")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
ACK_DEADLINE = 3.0  # seconds Slack waits for an envelope's ack
# Interactive payload types whose ack may carry a response (errors, options, a new view).
RESPONDING_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def encode_frame(opcode: int, data: bytes, *, mask: bool = False, fin: bool = True) -> bytes:
    """One WebSocket frame; servers send unmasked frames, clients masked ones."""
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if mask else 0
    if len(data) < 126:
        head += bytes([bit | len(data)])
    elif len(data) < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", len(data))
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", len(data))
    if not mask:
        return head + data
    key = secrets.token_bytes(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(data))


class ProtocolError(Exception):
    """The client broke RFC 6455; the connection is closed with 1002."""


@dataclass
class Envelope:
    """One envelope sent to the app, and its ack once it came."""

    envelope_id: str
    kind: str
    payload: JSON
    accepts_response_payload: bool
    sent_at: float
    connection: int
    ack: JSON | None = None
    acked_at: float | None = None

    @property
    def ack_seconds(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at


@dataclass
class SocketAck:
    """An ack, shaped enough like a ``requests.Response`` for tests that run over either
    transport: ``status_code`` 200, ``json()`` is the ack's response payload."""

    ack: JSON
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def payload(self) -> JSON | None:
        return self.ack.get("payload")

    @property
    def text(self) -> str:
        return json.dumps(self.payload) if self.payload is not None else ""

    def json(self) -> Any:
        if self.payload is None:
            raise ValueError(f"ack {self.ack.get('envelope_id')} carries no payload")
        return self.payload


class _Connection:
    def __init__(self, number: int, sock: socket.socket, ticket: str) -> None:
        self.number = number
        self.sock = sock
        self.ticket = ticket
        self.opened_at = time.time()
        self.open = True
        self.close_code: int | None = None
        self._send_lock = threading.Lock()

    def send(self, opcode: int, data: bytes) -> bool:
        with self._send_lock:
            if not self.open and opcode != OP_CLOSE:
                return False
            try:
                self.sock.sendall(encode_frame(opcode, data))
                return True
            except OSError:
                return False

    def send_json(self, message: JSON) -> bool:
        return self.send(OP_TEXT, json.dumps(message).encode())

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.open:
            self.open = False
            self.send(OP_CLOSE, struct.pack("!H", code) + reason.encode())
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class FakeSocketMode:
    """Slack's Socket Mode WebSocket server on loopback."""

    def __init__(
        self,
        *,
        app_id: str = "A0BRANDBOT",
        ack_deadline: float = ACK_DEADLINE,
        on_violation: Callable[[str], None] | None = None,
    ) -> None:
        self.app_id = app_id
        self.ack_deadline = ack_deadline
        self._on_violation = on_violation
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.violations: list[str] = []
        self.envelopes: dict[str, Envelope] = {}
        self.received: list[JSON] = []  # every text message from the app, parsed
        self.pongs: list[bytes] = []
        self.tickets: dict[str, int] = {}  # ticket -> times used to connect
        self.connections: list[_Connection] = []
        self._loopback: LoopbackServer | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._loopback = LoopbackServer(server, name="fake-slack-socket")
        self.url = f"ws://127.0.0.1:{self._loopback.port}/link/"
        return self.url

    def stop(self) -> None:
        with self._lock:
            connections = [c for c in self.connections if c.open]
        for connection in connections:
            connection.close(1001, "server stopping")
        if self._loopback is not None:
            self._loopback.stop()
            self._loopback = None

    def __enter__(self) -> FakeSocketMode:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what apps.connections.open hands out ------------------------------------------------

    def issue_url(self) -> str:
        """A fresh ``ws://…/link/?ticket=…`` URL, as ``apps.connections.open`` returns."""
        if not self.url:
            raise RuntimeError("FakeSocketMode is not started")
        ticket = str(uuid.uuid4())
        with self._lock:
            self.tickets[ticket] = 0
        return f"{self.url}?ticket={ticket}&app_id={self.app_id}"

    # -- what Slack sends --------------------------------------------------------------------

    def wait_connected(self, timeout: float = 10, *, count: int = 1) -> None:
        """Return once ``count`` connections are open (the app said hello back by connecting)."""
        self._wait(lambda: self.open_connections() >= count, timeout, f"{count} connection(s)")

    def wait_for(self, predicate: Callable[[FakeSocketMode], object], timeout: float = 10) -> None:
        """Return once ``predicate(self)`` is truthy; it is checked, under the lock, whenever a
        connection opens or closes, a message arrives or an envelope is acked."""
        self._wait(lambda: bool(predicate(self)), timeout, "wait_for predicate")

    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for c in self.connections if c.open)

    def send(
        self,
        payload: JSON,
        *,
        kind: Kind,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        connect_timeout: float = 10,
    ) -> str:
        """Send one envelope over the newest open connection; return its ``envelope_id``."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.wait_connected(connect_timeout)
        if accepts_response_payload is None:
            accepts_response_payload = kind == "slash_commands" or (
                kind == "interactive" and payload.get("type") in RESPONDING_INTERACTIONS
            )
        envelope_id = str(uuid.uuid4())
        message: JSON = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            message |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        with self._lock:
            connection = next((c for c in reversed(self.connections) if c.open), None)
            if connection is None:
                raise AssertionError("the app's Socket Mode connection closed before the envelope")
            self.envelopes[envelope_id] = Envelope(
                envelope_id, kind, payload, accepts_response_payload, time.time(), connection.number
            )
        if not connection.send_json(message):
            raise AssertionError(f"the app's socket {connection.number} closed before envelope")
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 10) -> JSON:
        """The app's ack of ``envelope_id`` (``{"envelope_id": …, "payload"?: …}``)."""
        envelope = self.envelopes[envelope_id]
        self._wait(
            lambda: envelope.ack is not None, timeout, f"the ack of {envelope.kind} {envelope_id}"
        )
        assert envelope.ack is not None
        return dict(envelope.ack)

    def deliver(
        self,
        payload: JSON,
        *,
        kind: Kind,
        timeout: float = 10,
        accepts_response_payload: bool | None = None,
    ) -> JSON:
        """Send an envelope and return the app's ack; AssertionError if none within ``timeout``."""
        envelope_id = self.send(
            payload,
            kind=kind,
            accepts_response_payload=accepts_response_payload,
            connect_timeout=timeout,
        )
        return self.wait_for_ack(envelope_id, timeout)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does every few hours (``refresh_requested``),
        shortly before it drops a connection (``warning``) or when the app is disabled."""
        message: JSON = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-fake"},
        }
        with self._lock:
            connections = [c for c in self.connections if c.open]
        for connection in connections:
            connection.send_json(message)

    def ping(self, timeout: float = 10) -> None:
        """Ping every open connection and wait for as many pongs."""
        with self._lock:
            connections = [c for c in self.connections if c.open]
            wanted = len(self.pongs) + len(connections)
        for connection in connections:
            connection.send(OP_PING, f"fake-slack:{connection.number}".encode())
        self._wait(lambda: len(self.pongs) >= wanted, timeout, f"{len(connections)} pong(s)")

    # -- internals ---------------------------------------------------------------------------

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_report(what, timeout))
                self._cond.wait(remaining)

    def _timeout_report(self, what: str, timeout: float) -> str:
        lines = [f"Socket Mode: no {what} within {timeout}s"]
        lines += [f"  tickets issued: {len(self.tickets)}, used: {sum(self.tickets.values())}"]
        lines += [
            f"  connection {c.number}: {'open' if c.open else f'closed ({c.close_code})'}"
            for c in self.connections
        ]
        pending = [e.envelope_id for e in self.envelopes.values() if e.ack is None]
        lines += [f"  unacked envelopes: {pending}", f"  violations: {self.violations}"]
        return "\n".join(lines)

    def _violation(self, what: str) -> None:
        with self._cond:
            self.violations.append(what)
            self._cond.notify_all()
        if self._on_violation is not None:
            self._on_violation(f"socket mode: {what}")

    def _admit(self, path: str) -> str | None:
        """The ticket of a handshake path, or None (and a violation) when Slack would refuse."""
        url = urlsplit(path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._lock:
            known = url.path.rstrip("/") == "/link" and ticket in self.tickets
            if known:
                self.tickets[ticket] += 1
        if not known:
            self._violation(f"connected to {path!r}, not a URL from apps.connections.open")
            return None
        return ticket

    def _opened(self, sock: socket.socket, ticket: str) -> _Connection:
        with self._cond:
            connection = _Connection(len(self.connections) + 1, sock, ticket)
            self.connections.append(connection)
            count = sum(1 for c in self.connections if c.open)
            self._cond.notify_all()
        connection.send_json(
            {
                "type": "hello",
                "num_connections": count,
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        return connection

    def _closed(self, connection: _Connection, code: int | None) -> None:
        with self._cond:
            connection.open = False
            connection.close_code = code
            self._cond.notify_all()

    def _text(self, connection: _Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self._violation(f"connection {connection.number} sent non-JSON text {text[:80]!r}")
            return
        if not isinstance(message, dict):
            self._violation(f"connection {connection.number} sent {text[:80]!r}")
            return
        with self._cond:
            self.received.append(message)
            envelope = self.envelopes.get(str(message.get("envelope_id")))
            problem = None
            if envelope is None:
                problem = f"ack for unknown envelope {message.get('envelope_id')!r}"
            elif envelope.ack is not None:
                problem = f"second ack for envelope {envelope.envelope_id}"
            else:
                envelope.ack, envelope.acked_at = message, time.time()
                seconds = envelope.acked_at - envelope.sent_at
                if seconds > self.ack_deadline:
                    problem = (
                        f"{envelope.kind} envelope acked after {seconds:.1f}s "
                        f"(Slack gives up after {self.ack_deadline:g}s)"
                    )
                elif "payload" in message and not envelope.accepts_response_payload:
                    problem = (
                        f"{envelope.kind} {envelope.payload.get('type', '')} envelope acked with "
                        f"a payload, which Slack ignores: {str(message['payload'])[:80]}"
                    )
            self._cond.notify_all()
        if problem:
            self._violation(problem)

    def _pong(self, data: bytes) -> None:
        with self._cond:
            self.pongs.append(data)
            self._cond.notify_all()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _read_exactly(rfile: Any, n: int) -> bytes:
    data = rfile.read(n) if n else b""
    if len(data) < n:
        raise EOFError
    return data


def _read_frame(rfile: Any) -> tuple[bool, int, bytes]:
    """(fin, opcode, unmasked payload) of the next client frame."""
    b1, b2 = _read_exactly(rfile, 2)
    fin, opcode, length = bool(b1 & 0x80), b1 & 0x0F, b2 & 0x7F
    if b1 & 0x70:
        raise ProtocolError(f"reserved bits set in {b1:#04x} (no extension was negotiated)")
    if not b2 & 0x80:
        raise ProtocolError("client frame is not masked (RFC 6455 §5.1)")
    if length == 126:
        (length,) = struct.unpack("!H", _read_exactly(rfile, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exactly(rfile, 8))
    if opcode >= OP_CLOSE and (length > 125 or not fin):
        raise ProtocolError(f"control frame {opcode:#x} is fragmented or longer than 125 bytes")
    key = _read_exactly(rfile, 4)
    data = _read_exactly(rfile, length)
    return fin, opcode, bytes(b ^ key[i % 4] for i, b in enumerate(data))


def _handler_for(fake: FakeSocketMode) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            ticket = self._handshake()
            if ticket is None:
                return
            connection = fake._opened(self.request, ticket)
            code: int | None = None
            try:
                code = self._frames(connection)
            except ProtocolError as exc:
                fake._violation(f"connection {connection.number}: {exc}")
                connection.close(1002, "protocol error")
                code = 1002
            except (EOFError, OSError, ValueError):
                pass  # the app hung up (slack_sdk closes its socket without a close frame)
            finally:
                fake._closed(connection, code)

        def _handshake(self) -> str | None:
            request_line = self.rfile.readline(8192).decode("latin-1").strip()
            headers: dict[str, str] = {}
            while line := self.rfile.readline(8192).decode("latin-1").strip():
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            verb, _, rest = request_line.partition(" ")
            path = rest.rpartition(" ")[0]
            if (
                verb != "GET"
                or headers.get("upgrade", "").lower() != "websocket"
                or "upgrade" not in headers.get("connection", "").lower()
                or headers.get("sec-websocket-version") != "13"
                or not headers.get("sec-websocket-key")
            ):
                fake._violation(f"not a WebSocket handshake: {request_line!r} {headers}")
                self._refuse("400 Bad Request")
                return None
            ticket = fake._admit(path)
            if ticket is None:
                self._refuse("401 Unauthorized")
                return None
            self.wfile.write(
                (
                    "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n"
                    "\r\n"
                ).encode()
            )
            self.wfile.flush()
            return ticket

        def _refuse(self, status: str) -> None:
            self.wfile.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
            self.wfile.flush()

        def _frames(self, connection: _Connection) -> int | None:
            message: bytearray | None = None
            message_opcode = OP_TEXT
            while True:
                fin, opcode, data = _read_frame(self.rfile)
                if opcode == OP_PING:
                    connection.send(OP_PONG, data)
                elif opcode == OP_PONG:
                    fake._pong(data)
                elif opcode == OP_CLOSE:
                    code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                    connection.close(1000 if code == 1005 else code)
                    return code
                elif opcode in (OP_TEXT, OP_BINARY):
                    if message is not None:
                        raise ProtocolError("new data frame before the last one finished")
                    message, message_opcode = bytearray(data), opcode
                elif opcode == OP_CONT:
                    if message is None:
                        raise ProtocolError("continuation frame with nothing to continue")
                    message += data
                else:
                    raise ProtocolError(f"unknown opcode {opcode:#x}")
                if fin and message is not None and opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                    if message_opcode == OP_BINARY:
                        fake._violation(f"connection {connection.number} sent a binary frame")
                    else:
                        try:
                            text = message.decode("utf-8")
                        except UnicodeDecodeError as exc:
                            raise ProtocolError(f"text frame is not UTF-8: {exc}") from exc
                        fake._text(connection, text)
                    message = None

    return Handler
