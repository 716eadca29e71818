"""A local fake of the slice of the Slack Web API that brandbot calls through ``slack_sdk``.

It serves ``http://127.0.0.1:PORT/api/<method>`` (give it to ``WebClient(base_url=...)``), checks
every call against Slack's OpenAPI v2 spec (missing or unknown arguments, malformed blocks and
views become ``violations``), keeps channels, messages, ephemerals and modals in memory, and can
fail on purpose (429 with ``Retry-After``, 5xx, lost responses). It also accepts the
``response_url`` POSTs that Bolt's ``respond()`` makes, and Slack's external file upload
(``files.getUploadURLExternal``, the raw POST of the bytes to the URL it returns — fail it with
``fail_next("upload_url")`` — and ``files.completeUploadExternal``, which shares the file in the
channel as a message carrying it). Given an ``app_token`` it also serves
Socket Mode: ``apps.connections.open`` (app token only) hands out URLs of ``self.socket``, a
``FakeSocketMode`` (see ``slack_socket.py``). stdlib only, because ``brandbot demo`` ships it.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import inspect
import json
import math
import random
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.fakes.loopback import LoopbackServer
from bot.fakes.slack_socket import FakeSocketMode

JSON = dict[str, Any]
DEFAULT_SPEC = Path(__file__).with_name("slack_api_spec") / "slack_web_openapi_v2.json"
BOT_USER_ID, BOT_ID, TEAM_ID, APP_ID = "U0BRANDBOT", "B0BRANDBOT", "T0BRAND", "A0BRANDBOT"
TEAM_DOMAIN = "fake"
# Bolt hands listeners a WebClient(team_id=...), and slack_sdk adds that team_id to every call.
ALWAYS_ALLOWED = frozenset({"team_id"})
# Real arguments newer than the 2021 spec.
NEWER_ARGS: dict[str, frozenset[str]] = {
    "chat.postMessage": frozenset({"metadata", "markdown_text"}),
    "chat.update": frozenset({"metadata", "markdown_text", "reply_broadcast", "file_ids"}),
    "chat.postEphemeral": frozenset({"markdown_text"}),
    "conversations.history": frozenset({"include_all_metadata"}),
    "conversations.replies": frozenset({"include_all_metadata"}),
}
# Required by Slack although the spec leaves them optional.
ALSO_REQUIRED: dict[str, frozenset[str]] = {
    "conversations.history": frozenset({"channel"}),
    "conversations.replies": frozenset({"channel", "ts"}),
    "conversations.info": frozenset({"channel"}),
    "conversations.members": frozenset({"channel"}),
    "chat.delete": frozenset({"channel", "ts"}),
    "users.info": frozenset({"user"}),
    "views.update": frozenset({"view"}),
}


@dataclass(frozen=True)
class MethodSpec:
    required: frozenset[str]
    known: frozenset[str]


# Methods newer than the 2021 spec, from Slack's method docs (docs.slack.dev/reference/methods):
# the external upload flow that replaced the retired files.upload.
NEWER_METHODS = {
    "files.getUploadURLExternal": MethodSpec(
        frozenset({"filename", "length"}),
        frozenset({"filename", "length", "alt_txt", "snippet_type"}),
    ),
    "files.completeUploadExternal": MethodSpec(
        frozenset({"files"}),
        frozenset({"files", "channel_id", "channels", "initial_comment", "thread_ts", "blocks"}),
    ),
}
JSON_ARGS = frozenset({"blocks", "attachments", "view", "metadata", "files"})
VIEW_METHODS = frozenset({"views.open", "views.update", "views.push", "views.publish"})
ERROR_NAMES = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}
# Methods that take the app-level token (xapp-…) rather than the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


_SPEC_CACHE: dict[Path, dict[str, MethodSpec]] = {}
_SPEC_LOCK = threading.Lock()


def load_spec(path: Path = DEFAULT_SPEC) -> dict[str, MethodSpec]:
    """Method name → its required and known argument names (``token`` excluded), parsed once."""
    with _SPEC_LOCK:
        if path not in _SPEC_CACHE:
            methods: dict[str, MethodSpec] = {}
            for url, operations in json.loads(path.read_text())["paths"].items():
                params = [p for op in operations.values() for p in op.get("parameters", [])]
                names = {p["name"] for p in params} - {"token"}
                required = {p["name"] for p in params if p.get("required")} - {"token"}
                methods[url.lstrip("/")] = MethodSpec(frozenset(required), frozenset(names))
            # Newer than the 2021 spec: no arguments beyond the (app-level) token.
            methods["apps.connections.open"] = MethodSpec(frozenset(), frozenset())
            methods.update(NEWER_METHODS)
            _SPEC_CACHE[path] = methods
        return _SPEC_CACHE[path]


@dataclass(frozen=True)
class SlackCall:
    """One Web API call the fake answered (args JSON-decoded, ``token`` removed)."""

    method: str
    args: JSON
    http_status: int
    response: JSON
    at: float

    @property
    def ok(self) -> bool:
        return self.http_status == 200 and bool(self.response.get("ok"))


@dataclass
class _Failure:
    method: str | None
    status: int
    retry_after: int | None
    count: int
    apply: bool
    skip: int = 0  # let this many matching calls through first
    error: str | None = None  # the `error` answered (status 200: Slack's ok:false refusals)


@dataclass
class _ChannelRate:
    """Slack's per-channel message limit, as a token bucket on the fake's clock."""

    per_second: float
    burst: int
    methods: frozenset[str]
    clock: Callable[[], float]
    buckets: dict[str, tuple[float, float]]  # channel -> (tokens, when counted)

    def refuse(self, channel: str) -> int | None:
        """Take a send for `channel`; the Retry-After to answer when there is none left."""
        now = self.clock()
        tokens, at = self.buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.per_second)
        if tokens < 1:
            self.buckets[channel] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.per_second))
        self.buckets[channel] = (tokens - 1, now)
        return None


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _micros(ts: Any) -> int:
    return int(Decimal(str(ts)) * 1_000_000)


def _cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode() if ts else ""


def block_problems(blocks: Any, *, limit: int) -> list[str]:
    """What Slack would refuse in a ``blocks`` list (empty when it is fine)."""
    if not isinstance(blocks, list):
        return [f"blocks must be a JSON list, got {str(blocks)[:80]!r}"]
    problems = [f"{len(blocks)} blocks (max {limit})"] if len(blocks) > limit else []
    bad = [i for i, b in enumerate(blocks) if not isinstance(b, dict) or not b.get("type")]
    if bad:
        problems.append(f"block(s) at {bad} are not objects with a type")
    ids = [b["block_id"] for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if dup := sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"duplicate block_id {dup}")
    return problems


def view_problems(view: Any, *, surface: str = "modal") -> list[str]:
    """What Slack would refuse in a view: a modal (views.open/update/push), or a Home tab
    (views.publish: no title, and none of a modal's buttons)."""
    if not isinstance(view, dict):
        return [f"view must be a JSON object, got {str(view)[:80]!r}"]
    problems = (
        [] if view.get("type") == surface else [f"view type {view.get('type')!r} != {surface}"]
    )
    if surface == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or not title.get("text"):
            problems.append("view has no title")
        elif len(title["text"]) > 24:
            problems.append(f"view title {title['text']!r} is longer than 24 characters")
    else:
        problems += [
            f"a {surface} view has no {k!r}" for k in ("title", "submit", "close") if k in view
        ]
    if len(view.get("private_metadata") or "") > 3000:
        problems.append("view private_metadata is longer than 3000 characters")
    if len(json.dumps(view)) > 250_000:
        problems.append("view is larger than 250 kB")
    return problems + block_problems(view.get("blocks", []), limit=100)


class FakeSlack:
    """The Slack Web API on loopback, with state, spec checks and failure injection."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-token",
        app_token: str | None = None,
        spec_path: Path | None = None,
        on_call: Callable[[SlackCall], None] | None = None,
        strict_channels: bool = False,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.on_call = on_call
        self.strict_channels = strict_channels
        self.trigger_ttl = 3.0  # seconds a trigger_id stays usable (Slack: 3)
        self._spec = load_spec(spec_path or DEFAULT_SPEC)
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.calls: list[SlackCall] = []
        self.violations: list[str] = []
        self.channels: dict[str, JSON] = {}
        self.messages: dict[str, list[JSON]] = {}
        self.ephemerals: list[JSON] = []
        self.users: dict[str, JSON] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.usergroup_names: dict[str, tuple[str, str]] = {}  # id -> (handle, name)
        self.views: dict[str, JSON] = {}
        self.home_views: dict[str, JSON] = {}  # user -> the Home tab view published to them
        # file id -> {filename, length, data (the bytes POSTed to its upload URL), title,
        # completed, channel}: the external upload flow
        self.files: dict[str, JSON] = {}
        self.responses: list[JSON] = []
        self._triggers: dict[str, tuple[str, float]] = {}  # id -> (user, monotonic issue time)
        self._response_urls: dict[str, JSON] = {}
        self._failures: list[_Failure] = []
        self._random: tuple[float, tuple[int, ...], random.Random, set[str] | None] | None = None
        self._channel_rate: _ChannelRate | None = None
        self._last_micros = 0
        self._loopback: LoopbackServer | None = None
        self.url = ""
        # Socket Mode, when there is an app token: ``apps.connections.open`` points here.
        self.socket: FakeSocketMode | None = None
        if app_token:
            self.socket = FakeSocketMode(app_id=APP_ID, on_violation=self._record_violation)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        self._loopback = LoopbackServer(
            _Server(("127.0.0.1", 0), _handler_for(self)), name="fake-slack"
        )
        self.url = f"http://127.0.0.1:{self._loopback.port}/api/"
        if self.socket is not None:
            self.socket.start()
        return self.url

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.stop()
        if self._loopback is not None:
            self._loopback.stop()
            self._loopback = None

    def __enter__(self) -> FakeSlack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the world ---------------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: list[str] | None = None,
        private: bool | None = None,  # default: G… ids are private
        bot_member: bool = True,  # is the app in it (it sees a private channel only if so)
        archived: bool = False,
    ) -> None:
        with self._lock:
            self.channels[channel_id] = {
                "id": channel_id,
                "name": name,
                "members": members,
                "private": channel_id.startswith("G") if private is None else private,
                "bot_member": bot_member,
                "archived": archived,
            }

    def channel_name(self, channel_id: str) -> str:
        with self._lock:
            return str(self.channels.get(channel_id, {}).get("name") or channel_id.lower())

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        tz: str = "America/New_York",
        tz_offset: int = -18000,
        is_admin: bool = False,
    ) -> JSON:
        real = real_name or name.title()
        user = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real,
            "deleted": False,
            "is_bot": False,
            "is_admin": is_admin,
            "tz": tz,
            "tz_offset": tz_offset,
            "profile": {"real_name": real, "display_name": name},
        }
        with self._lock:
            self.users[user_id] = user
        return user

    def set_usergroup(
        self, group_id: str, user_ids: list[str], *, handle: str | None = None, name: str = ""
    ) -> None:
        with self._lock:
            self.usergroups[group_id] = list(user_ids)
            self.usergroup_names[group_id] = (handle or group_id.lower(), name or group_id)

    def add_message(
        self, channel: str, text: str, *, user: str, thread_ts: str | None = None
    ) -> JSON:
        """A message some person posted (not the bot)."""
        with self._lock:
            self._known_channel(channel)
            return self._store(channel, text=text, blocks=None, thread_ts=thread_ts, user=user)

    def new_trigger_id(self, user_id: str) -> str:
        trigger = f"{secrets.randbelow(10**12)}.{int(time.time())}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger] = (user_id, time.monotonic())
        return trigger

    def new_response_url(self, *, channel: str, user_id: str, message_ts: str | None = None) -> str:
        key = secrets.token_hex(8)
        with self._lock:
            self._response_urls[key] = {"channel": channel, "user": user_id, "ts": message_ts}
        return self.url.replace("/api/", f"/response_url/{key}")

    # -- failure injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None = None,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        count: int = 1,
        apply: bool = False,
        skip: int = 0,
        error: str | None = None,
    ) -> None:
        """Fail the next ``count`` calls (of ``method``, or any), after letting ``skip`` of them
        through. ``apply``: do it, then fail (the response is lost: Slack changed state but the
        app sees an error). ``status=200, error="not_in_channel"``: Slack refuses, ok:false."""
        with self._lock:
            self._failures.append(
                _Failure(method, status, retry_after, count, apply, skip, error=error)
            )

    def fail_randomly(
        self,
        rate: float,
        *,
        statuses: tuple[int, ...] = (429, 500, 503),
        seed: int = 0,
        methods: set[str] | None = None,
    ) -> None:
        with self._lock:
            self._random = (rate, tuple(statuses), random.Random(seed), methods)

    def enforce_channel_rate(
        self,
        *,
        per_second: float = 1.0,
        burst: int = 3,
        methods: frozenset[str] = frozenset({"chat.postMessage"}),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Refuse messages into a channel faster than Slack allows (about one a second, short
        bursts), with 429 and Retry-After, like Slack. Off unless asked; `clock` in seconds
        (a test passes its FakeClock's timestamp)."""
        with self._lock:
            self._channel_rate = _ChannelRate(per_second, burst, methods, clock, {})

    def stop_failing(self) -> None:
        with self._lock:
            self._failures.clear()
            self._random = None

    # -- inspection --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def message(self, channel: str, ts: str) -> JSON:
        with self._lock:
            found = self._find(channel, str(ts))
            if found is None:
                raise LookupError(f"no message {ts} in {channel} (it has {self._ts_list(channel)})")
            return copy.deepcopy(found)

    def last_message(self, channel: str) -> JSON | None:
        with self._lock:
            found = self.messages.get(channel)
            return copy.deepcopy(found[-1]) if found else None

    def find_messages(self, predicate: Callable[[JSON], bool]) -> list[JSON]:
        with self._lock:
            every = [m for msgs in self.messages.values() for m in msgs]
            return [copy.deepcopy(m) for m in every if predicate(m)]

    def view(self, view_id: str) -> JSON:
        with self._lock:
            if view_id not in self.views:
                raise LookupError(f"no view {view_id}; there are {list(self.views)}")
            return copy.deepcopy(self.views[view_id])

    def home_view(self, user_id: str) -> JSON:
        """The Home tab view last published to this person (LookupError: none yet)."""
        with self._lock:
            if user_id not in self.home_views:
                raise LookupError(f"no Home tab was published to {user_id}")
            return copy.deepcopy(self.home_views[user_id])

    def replace_view(self, view_id: str, view: JSON) -> JSON:
        """What Slack does with a submission answered ``response_action: update``."""
        with self._lock:
            current = self.views[view_id]
            user, root = current["user_id"], current["root_view_id"]
            self._store_view(view, user_id=user, view_id=view_id, root=root)
            return copy.deepcopy(self.views[view_id])

    def close_view(self, view_id: str) -> None:
        """A submission answered with nothing (or ``clear``): the modal is gone; an update of it
        is answered not_found, as Slack does."""
        with self._lock:
            if view_id in self.views:
                self.views[view_id]["closed"] = True

    def views_for(self, user_id: str) -> list[JSON]:
        with self._lock:
            return [copy.deepcopy(v) for v in self.views.values() if v["user_id"] == user_id]

    def wait_for(self, predicate: Callable[[FakeSlack], object], timeout: float = 10) -> None:
        """Return once ``predicate(self)`` is truthy; checked after each call and every 50 ms
        (it may look at the app's database too). The predicate runs outside the fake's lock."""
        deadline = time.monotonic() + timeout
        error: Exception | None = None
        while True:
            try:
                if predicate(self):
                    return
            except RuntimeError as exc:  # a dict changed size while the predicate iterated it
                error = exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(self._timeout_report(predicate, timeout, error))
            with self._cond:
                self._cond.wait(min(remaining, 0.05))

    def _timeout_report(self, predicate: Callable[..., object], timeout: float, error: Any) -> str:
        try:
            what = inspect.getsource(predicate).strip()
        except (OSError, TypeError):
            what = repr(predicate)
        with self._lock:
            recent = [
                f"  {c.method} -> {c.http_status} {c.response.get('error', 'ok')}"
                for c in self.calls[-12:]
            ]
            violations = list(self.violations)
        lines = [f"wait_for timed out after {timeout}s: {what}"]
        lines += [f"  (predicate raised {error!r})"] if error else []
        lines += [f"last {len(recent)} of {len(self.calls)} Slack calls:", *recent]
        return "\n".join([*lines, f"violations: {violations}"])

    # -- HTTP --------------------------------------------------------------------------------

    def handle_http(
        self, verb: str, path: str, query: str, headers: Mapping[str, str] | Message, raw: bytes
    ) -> tuple[int, dict[str, str], JSON]:
        if path.startswith("/response_url/"):
            return self._response_url(path.rsplit("/", 1)[1], raw)
        if path.startswith("/upload/v1/"):
            return self._upload(path.rsplit("/", 1)[1], verb, raw)
        if not path.startswith("/api/"):
            return 404, {}, {"ok": False, "error": "not_found"}
        method = path.removeprefix("/api/")
        args: JSON = dict(parse_qsl(query, keep_blank_values=True))
        if raw and "json" in headers.get("Content-Type", ""):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                body = {"_body": raw.decode(errors="replace")[:200]}
            args.update(body)
        elif raw:
            args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        args.pop("token", None)
        for key in JSON_ARGS & args.keys():
            if isinstance(args[key], str) and args[key].strip()[:1] in ("[", "{"):
                with contextlib.suppress(ValueError):  # else left a string: validation says so
                    args[key] = json.loads(args[key])
        return self._call(method, args, token)

    def _call(self, method: str, args: JSON, token: Any) -> tuple[int, dict[str, str], JSON]:
        """Answer one call and record it; ``on_call`` runs after, outside the lock."""
        with self._cond:
            status, headers, body = self._answer(method, args, token)
            call = SlackCall(method, copy.deepcopy(args), status, copy.deepcopy(body), time.time())
            self.calls.append(call)
            self._cond.notify_all()
        if self.on_call is not None:
            try:
                self.on_call(call)
            except Exception:
                traceback.print_exc()
        return status, headers, body

    def _record_violation(self, what: str) -> None:
        with self._cond:
            self.violations.append(what)
            self._cond.notify_all()

    def _answer(self, method: str, args: JSON, token: Any) -> tuple[int, dict[str, str], JSON]:
        wanted = self.app_token if method in APP_TOKEN_METHODS else self.bot_token
        if not token or token != wanted:
            error: str | None = "not_authed" if not token else "invalid_auth"
            if token and token in (self.bot_token, self.app_token):
                error = "not_allowed_token_type"
            self.violations.append(f"{method}: {error} (token {str(token)[:9]!r}...)")
            return 200, {}, {"ok": False, "error": error}
        if method not in self._spec:
            self.violations.append(f"{method}: no such Web API method")
            return 404, {}, {"ok": False, "error": "unknown_method"}
        error = self._validate(method, args)
        failure = self._take_failure(method)
        limit = self._channel_rate
        if failure is None and not error and limit is not None and method in limit.methods:
            wait = limit.refuse(str(args.get("channel")))
            failure = None if wait is None else _Failure(method, 429, wait, 1, False)
        if failure is None or failure.apply:
            handler = getattr(self, "_api_" + method.replace(".", "_"), None)
            response = {"ok": False, "error": error} if error else {"ok": True}
            if not error and handler is not None:
                response = handler(args)
            if failure is None:
                return 200, {}, response
        headers = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
        reason = failure.error or (
            "ratelimited" if failure.status == 429 else ERROR_NAMES.get(failure.status)
        )
        return failure.status, headers, {"ok": False, "error": reason or f"http_{failure.status}"}

    def _take_failure(self, method: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method in (None, method):
                if failure.skip > 0:
                    failure.skip -= 1
                    return None
                failure.count -= 1
                if failure.count <= 0:
                    self._failures.remove(failure)
                return failure
        if self._random is not None:
            rate, statuses, rng, methods = self._random
            if (methods is None or method in methods) and rng.random() < rate:
                return _Failure(method, rng.choice(statuses), 1, 1, False)
        return None

    def _validate(self, method: str, args: JSON) -> str | None:
        """Record what Slack would refuse; return the error Slack would answer with."""
        spec = self._spec[method]
        problems: list[tuple[str, str]] = []
        required = spec.required | ALSO_REQUIRED.get(method, frozenset())
        if missing := sorted(required - args.keys()):
            problems.append(("invalid_arguments", f"missing required argument(s) {missing}"))
        allowed = spec.known | ALWAYS_ALLOWED | NEWER_ARGS.get(method, frozenset())
        if unknown := sorted(args.keys() - allowed - {"_body"}):
            problems.append(("invalid_arguments", f"argument(s) not in the API spec {unknown}"))
        if "blocks" in args:
            problems += [("invalid_blocks", p) for p in block_problems(args["blocks"], limit=50)]
        if method in VIEW_METHODS and "view" in args:
            surface = "home" if method == "views.publish" else "modal"
            problems += [
                ("invalid_arguments", p) for p in view_problems(args["view"], surface=surface)
            ]
        meta = args.get("metadata")
        if "_body" in args:
            problems.append(("invalid_json", f"body is not a JSON object: {args['_body']!r}"))
        if "metadata" in args and not (
            isinstance(meta, dict)
            and isinstance(meta.get("event_type"), str)
            and isinstance(meta.get("event_payload"), dict)
        ):
            problems.append(("invalid_metadata_format", f"metadata {str(meta)[:80]!r}"))
        if method == "chat.postMessage" and not any(
            args.get(k) for k in ("text", "blocks", "attachments")
        ):
            problems.append(("no_text", "no text, blocks or attachments"))
        self.violations += [f"{method}: {what}" for _, what in problems]
        return problems[0][0] if problems else None

    def _response_url(self, key: str, raw: bytes) -> tuple[int, dict[str, str], JSON]:
        with self._cond:
            target = self._response_urls.get(key)
            if target is None:
                return 404, {}, {"ok": False, "error": "no_such_response_url"}
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"text": raw.decode(errors="replace")}
            self.responses.append({**target, "body": body, "at": time.time()})
            channel, ts = target["channel"], target["ts"]
            original = self._find(channel, ts) if ts else None
            if _truthy(body.get("delete_original")) and original is not None:
                self.messages[channel].remove(original)
            elif _truthy(body.get("replace_original")) and original is not None:
                original.update(text=body.get("text", ""), blocks=body.get("blocks"))
                original["edits"] += 1
            elif body.get("response_type") == "in_channel":
                self._store(channel, text=body.get("text", ""), blocks=body.get("blocks"))
            else:
                self.ephemerals.append(
                    {"channel": channel, "user": target["user"], "text": body.get("text", "")}
                    | {"blocks": body.get("blocks"), "thread_ts": None, "via": "response_url"}
                )
            self._cond.notify_all()
            return 200, {}, {"ok": True}

    def _upload(self, key: str, verb: str, raw: bytes) -> tuple[int, dict[str, str], JSON]:
        """The upload URL files.getUploadURLExternal handed out: a raw POST of the file's bytes,
        exactly as long as announced (Slack answers 200 with a plain "OK - <length>")."""
        with self._cond:
            file = next((f for f in self.files.values() if f["upload_key"] == key), None)
            if file is None or verb != "POST":
                return 404, {}, {"ok": False, "error": "no_such_upload_url"}
            failure = self._take_failure("upload_url")
            if failure is not None and not failure.apply:
                return failure.status, {}, {"ok": False, "error": "upload_failed"}
            if len(raw) != file["length"]:
                self.violations.append(
                    f"upload of {file['id']}: {len(raw)} bytes, announced {file['length']}"
                )
                return 400, {}, {"ok": False, "error": "length_mismatch"}
            file["data"] = raw
            file["uploads"] += 1
            self._cond.notify_all()
            if failure is not None:
                return failure.status, {}, {"ok": False, "error": "upload_failed"}
            return 200, {}, {"ok": True}

    # -- state helpers (called with the lock held) -------------------------------------------

    def _known_channel(self, channel: Any) -> bool:
        if not channel:
            return False
        if channel in self.channels:
            return True
        if isinstance(channel, str) and channel[:1] in "UW" and channel in self.users:
            # chat.postMessage to a user id posts in the app's DM with them (kept under the id)
            self.channels[channel] = {
                "id": channel,
                "name": f"dm-{channel.lower()}",
                "members": None,
            }
            return True
        if self.strict_channels or not isinstance(channel, str) or channel[:1] not in "CGD":
            return False
        self.channels[channel] = {"id": channel, "name": channel.lower(), "members": None}
        return True

    def _find(self, channel: str, ts: Any) -> JSON | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def _ts_list(self, channel: str) -> list[str]:
        return [m["ts"] for m in self.messages.get(channel, [])]

    def _next_ts(self) -> str:
        self._last_micros = max(int(time.time() * 1_000_000), self._last_micros + 1)
        return f"{self._last_micros // 1_000_000}.{self._last_micros % 1_000_000:06d}"

    def _store(self, channel: str, *, user: str = BOT_USER_ID, **fields: Any) -> JSON:
        message = {
            "channel": channel,
            "ts": self._next_ts(),
            "text": fields.get("text") or "",
            "blocks": fields.get("blocks"),
            "thread_ts": fields.get("thread_ts"),
            "metadata": fields.get("metadata"),
            "user": user,
            "bot_id": BOT_ID if user == BOT_USER_ID else None,
            "edits": 0,
        }
        self.messages.setdefault(channel, []).append(message)
        return message

    def _public(self, message: JSON, *, metadata: bool = True) -> JSON:
        out: JSON = {"type": "message", "team": TEAM_ID}
        out |= {k: message[k] for k in ("user", "bot_id", "text", "ts") if message[k] is not None}
        if message["blocks"] is not None:
            out["blocks"] = message["blocks"]
        if message["thread_ts"]:
            out["thread_ts"] = message["thread_ts"]
        replies = [m for m in self.messages[message["channel"]] if self._is_reply_to(m, message)]
        if replies:
            out |= {"thread_ts": message["ts"], "reply_count": len(replies)}
            out["latest_reply"] = replies[-1]["ts"]
        if metadata and message["metadata"]:
            out["metadata"] = message["metadata"]
        if message["edits"]:
            out["edited"] = {"user": message["user"], "ts": message["ts"]}
        if message.get("files"):
            out["files"] = message["files"]
        return copy.deepcopy(out)

    @staticmethod
    def _is_reply_to(message: JSON, root: JSON) -> bool:
        return bool(message["thread_ts"] == root["ts"] and message["ts"] != root["ts"])

    def _page(self, items: list[JSON], args: JSON) -> tuple[list[JSON], str] | None:
        """One page of ``items`` from ``cursor`` (a ts), or None for a bad cursor."""
        start, limit = 0, 100
        try:
            limit = max(1, min(int(args.get("limit") or 100), 999))
            if args.get("cursor"):
                ts = base64.b64decode(str(args["cursor"])).decode().removeprefix("next_ts:")
                start = [m["ts"] for m in items].index(ts)
        except ValueError:
            return None
        page = items[start : start + limit]
        following = items[start + limit]["ts"] if start + limit < len(items) else ""
        return page, _cursor(following)

    def _use_trigger(self, trigger_id: Any) -> str | JSON:
        """The user a trigger was issued for, or an error response."""
        issued = self._triggers.get(str(trigger_id))
        if issued is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        self._triggers[str(trigger_id)] = (issued[0], -math.inf)  # works once
        if time.monotonic() - issued[1] > self.trigger_ttl:
            return {"ok": False, "error": "expired_trigger_id"}
        return issued[0]

    def _store_view(
        self, view: JSON, *, user_id: str, view_id: str | None = None, root: str | None = None
    ) -> JSON:
        view_id = view_id or f"V{secrets.token_hex(5).upper()}"
        stored = copy.deepcopy(view) | {
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "user_id": user_id,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "state": {"values": {}},
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "root_view_id": root or view_id,
        }
        self.views[view_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    # -- Web API methods with state (the rest answer {"ok": true}) ---------------------------

    def _api_auth_test(self, _: JSON) -> JSON:
        return {"ok": True, "url": f"https://{TEAM_DOMAIN}.slack.com/", "team": "Brand"} | {
            "user": "brandbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _api_apps_connections_open(self, _: JSON) -> JSON:
        assert self.socket is not None  # an app token was given, so there is a socket
        return {"ok": True, "url": self.socket.issue_url()}

    def _api_chat_postMessage(self, a: JSON) -> JSON:
        if not self._known_channel(a["channel"]):
            return {"ok": False, "error": "channel_not_found"}
        fields: JSON = {k: a.get(k) for k in ("text", "blocks", "thread_ts", "metadata")}
        message = self._store(a["channel"], **fields)
        return {"ok": True, "channel": a["channel"], "ts": message["ts"]} | {
            "message": self._public(message)
        }

    def _api_files_getUploadURLExternal(self, a: JSON) -> JSON:
        try:
            length = int(a["length"])
        except (TypeError, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        if length <= 0:
            return {"ok": False, "error": "invalid_length"}
        file_id, key = f"F{secrets.token_hex(5).upper()}", secrets.token_urlsafe(12)
        self.files[file_id] = {"id": file_id, "filename": str(a["filename"]), "length": length}
        self.files[file_id] |= {"upload_key": key, "data": None, "uploads": 0, "title": None}
        self.files[file_id] |= {"completed": False, "channel": None}
        base = self.url.removesuffix("api/")
        return {"ok": True, "upload_url": f"{base}upload/v1/{key}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, a: JSON) -> JSON:
        entries = a["files"]
        if not isinstance(entries, list) or not entries:
            self.violations.append(f"files.completeUploadExternal: files {str(entries)[:80]!r}")
            return {"ok": False, "error": "invalid_arguments"}
        files = []
        for entry in entries:
            file = self.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if file is None or file["data"] is None:
                return {
                    "ok": False,
                    "error": "file_not_found" if file is None else "file_not_uploaded",
                }
            if file["completed"]:
                return {"ok": False, "error": "file_already_completed"}
            files.append((file, entry))
        channel = a.get("channel_id")
        if channel is not None and not self._known_channel(channel):
            return {"ok": False, "error": "channel_not_found"}
        shared = []
        for file, entry in files:
            file |= {"completed": True, "channel": channel, "title": entry.get("title")}
            shared.append({"id": file["id"], "name": file["filename"], "title": file["title"]})
        if channel is not None:
            # Shared as one message carrying the files; initial_comment wins over blocks.
            text = a.get("initial_comment") or ""
            blocks = None if text else a.get("blocks")
            message = self._store(channel, text=text, blocks=blocks, thread_ts=a.get("thread_ts"))
            message["files"] = copy.deepcopy(shared)
        return {"ok": True, "files": shared}

    def _api_chat_update(self, a: JSON) -> JSON:
        message = self._find(a["channel"], a["ts"])
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.update({k: a[k] for k in ("text", "blocks", "metadata") if k in a})
        message["edits"] += 1
        return {"ok": True, "channel": a["channel"], "ts": a["ts"], "text": message["text"]} | {
            "message": self._public(message)
        }

    def _api_chat_postEphemeral(self, a: JSON) -> JSON:
        if not self._known_channel(a["channel"]):
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        fields = {k: a.get(k) for k in ("channel", "user", "text", "blocks", "thread_ts")}
        self.ephemerals.append(fields | {"ts": ts})
        return {"ok": True, "message_ts": ts}

    def _api_chat_delete(self, a: JSON) -> JSON:
        message = self._find(a["channel"], a["ts"])
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        self.messages[a["channel"]].remove(message)
        return {"ok": True, "channel": a["channel"], "ts": a["ts"]}

    def _api_chat_getPermalink(self, a: JSON) -> JSON:
        if self._find(a["channel"], a["message_ts"]) is None:
            return {"ok": False, "error": "message_not_found"}
        digits = str(a["message_ts"]).replace(".", "")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{a['channel']}/p{digits}"
        return {"ok": True, "channel": a["channel"], "permalink": link}

    def _api_conversations_history(self, a: JSON) -> JSON:
        # A user ID names no conversation here (as on Slack: a DM's history needs its D… id).
        if not self._known_channel(a["channel"]) or a["channel"][:1] in ("U", "W"):
            return {"ok": False, "error": "channel_not_found"}
        try:
            oldest = _micros(a.get("oldest") or 0)
            latest = _micros(a["latest"]) if a.get("latest") else None
        except InvalidOperation:
            return {"ok": False, "error": "invalid_ts_oldest"}
        inclusive = _truthy(a.get("inclusive"))

        def wanted(m: JSON) -> bool:
            t = _micros(m["ts"])
            after = t >= oldest if inclusive else t > oldest
            before = latest is None or (t <= latest if inclusive else t < latest)
            return after and before and m["thread_ts"] in (None, m["ts"])

        messages = [m for m in reversed(self.messages.get(a["channel"], [])) if wanted(m)]
        paged = self._page(messages, a)
        if paged is None:
            return {"ok": False, "error": "invalid_cursor"}
        meta = _truthy(a.get("include_all_metadata"))
        return {"ok": True, "messages": [self._public(m, metadata=meta) for m in paged[0]]} | {
            "has_more": bool(paged[1]),
            "pin_count": 0,
            "response_metadata": {"next_cursor": paged[1]},
        }

    def _api_conversations_replies(self, a: JSON) -> JSON:
        root = self._find(a["channel"], a["ts"])
        if root is None:
            return {"ok": False, "error": "thread_not_found"}
        thread = [root] + [m for m in self.messages[a["channel"]] if self._is_reply_to(m, root)]
        paged = self._page(thread, a)
        if paged is None:
            return {"ok": False, "error": "invalid_cursor"}
        meta = _truthy(a.get("include_all_metadata"))
        return {"ok": True, "messages": [self._public(m, metadata=meta) for m in paged[0]]} | {
            "has_more": bool(paged[1]),
            "response_metadata": {"next_cursor": paged[1]},
        }

    def _api_conversations_info(self, a: JSON) -> JSON:
        if not self._known_channel(a["channel"]):
            return {"ok": False, "error": "channel_not_found"}
        channel = self.channels[a["channel"]]
        private = channel.get("private", channel["id"].startswith("G"))
        member = channel.get("bot_member", True)
        if private and not member:  # a private channel is invisible to an app not in it
            return {"ok": False, "error": "channel_not_found"}
        info = {"id": channel["id"], "name": channel["name"], "is_channel": not private}
        return {
            "ok": True,
            "channel": info
            | {
                "is_private": private,
                "is_member": member,
                "is_archived": channel.get("archived", False),
            },
        }

    def _api_conversations_join(self, a: JSON) -> JSON:
        if not self._known_channel(a["channel"]):
            return {"ok": False, "error": "channel_not_found"}
        channel = self.channels[a["channel"]]
        if channel.get("private", channel["id"].startswith("G")):
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        if channel.get("archived"):
            return {"ok": False, "error": "is_archived"}
        channel["bot_member"] = True
        return {"ok": True, "channel": {"id": channel["id"], "name": channel["name"]}}

    def _api_conversations_members(self, a: JSON) -> JSON:
        if not self._known_channel(a["channel"]):
            return {"ok": False, "error": "channel_not_found"}
        members = self.channels[a["channel"]]["members"]
        members = list(self.users) if members is None else members
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}

    def _api_users_info(self, a: JSON) -> JSON:
        user = self.users.get(a["user"])
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": copy.deepcopy(user)}

    def _api_users_list(self, _: JSON) -> JSON:
        members = copy.deepcopy(list(self.users.values()))
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}

    def _api_usergroups_users_list(self, a: JSON) -> JSON:
        if a["usergroup"] not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[a["usergroup"]])}

    def _api_views_open(self, a: JSON) -> JSON:
        user = self._use_trigger(a["trigger_id"])
        return user if isinstance(user, dict) else self._store_view(a["view"], user_id=user)

    def _api_views_push(self, a: JSON) -> JSON:
        user = self._use_trigger(a["trigger_id"])
        if isinstance(user, dict):
            return user
        stack = [v for v in self.views.values() if v["user_id"] == user]
        root = stack[-1]["root_view_id"] if stack else None
        return self._store_view(a["view"], user_id=user, root=root)

    def _api_views_publish(self, a: JSON) -> JSON:
        user = a["user_id"]
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        current = self.home_views.get(user)
        if a.get("hash") and current is not None and a["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        stored = copy.deepcopy(a["view"]) | {
            "id": current["id"] if current else f"V{secrets.token_hex(5).upper()}",
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "state": {"values": {}},
            "private_metadata": a["view"].get("private_metadata", ""),
            "callback_id": a["view"].get("callback_id", ""),
            "external_id": a["view"].get("external_id", ""),
        }
        stored["root_view_id"] = stored["id"]
        self.home_views[user] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _api_usergroups_list(self, a: JSON) -> JSON:
        groups = []
        for group_id, members in self.usergroups.items():
            handle, name = self.usergroup_names.get(group_id, (group_id.lower(), group_id))
            group: JSON = {"id": group_id, "team_id": TEAM_ID, "is_usergroup": True}
            group |= {"is_subteam": True, "name": name, "handle": handle, "description": ""}
            group |= {"is_external": False, "date_create": 0, "date_update": 0}
            group |= {"date_delete": 0, "auto_type": None, "user_count": len(members)}
            if _truthy(a.get("include_users")):
                group["users"] = list(members)
            groups.append(group)
        return {"ok": True, "usergroups": groups}

    def _api_views_update(self, a: JSON) -> JSON:
        if "view_id" in a:
            view = self.views.get(a["view_id"])
            view = None if view is None or view.get("closed") else view
        else:
            found = [v for v in self.views.values() if v["external_id"] == a.get("external_id")]
            view = found[-1] if found and a.get("external_id") else None
        if view is None:
            return {"ok": False, "error": "not_found"}
        if a.get("hash") and a["hash"] != view["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        return self._store_view(
            a["view"], user_id=view["user_id"], view_id=view["id"], root=view["root_view_id"]
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of concurrent clicks and retries


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                status, headers, body = fake.handle_http(
                    self.command, url.path, url.query, self.headers, raw
                )
            except Exception as exc:  # a bug in the fake: say so loudly, as a 500
                traceback.print_exc()
                status, headers, body = 500, {}, {"ok": False, "error": f"fake_bug: {exc!r}"}
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
