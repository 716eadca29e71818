"""The front door for Slack's HTTP requests, in front of Bolt's WSGI adapter.

Bolt answers some garbage with a 500 and a traceback: a non-numeric timestamp makes its verifier's
`int()` raise, a non-UTF-8 body fails to decode in the adapter, and a signed payload of the wrong
shape (`"actions": "x"`, `"view": 5`) raises while it parses or matches listeners. So each request
is checked here first, with Bolt's own semantics, and refused with one short log line:

- no usable signature (missing, garbled, wrong, or a timestamp that is not digits or more than
  5 minutes off) → 401, as Bolt would;
- correctly signed but not UTF-8, or not a payload of a kind and shape this app serves → 400.

Nothing here touches the database: the door answers at the speed of an HMAC. What passes is
dispatched to Bolt as the `BoltRequest` parsed here (the bytes and headers Bolt's WSGI adapter
would give it; parsing a card-sized form body twice cost a millisecond a click); Bolt verifies the
signature again. Replays (the same
timestamp and body, correctly signed) are refused by `ReplayGuard`, which the listeners' work
consults before it changes anything (handlers/acks.py): the first to record a digest wins.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, delete
from sqlmodel import col

from bot.core.clock import utcnow
from bot.core.db import insert_ignoring_conflicts, rowcount, table_of, transaction
from bot.core.models import SeenRequest
from bot.slack.answers import ANSWERED, AnsweredBody, AnswersFirst
from bot.slack.payload import CHECKED_AT_THE_DOOR, payload_problem

log = logging.getLogger("brandbot.slack")

WsgiApp = Callable[..., Iterable[bytes]]
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # int() would take " 1", "+1", "1_0"
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")  # hmac.compare_digest raises on non-ASCII text
STATUS = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized"}
MAX_SKEW_SECONDS = 5 * 60  # as SignatureVerifier.is_valid
# Slack refuses (and so do we) a timestamp more than 5 minutes off; a digest older than twice
# that can never match a request we would still accept.
REPLAY_WINDOW = timedelta(minutes=10)
PRUNE_EVERY = timedelta(minutes=1)


class ReplayGuard:
    """Remembers each handled request's digest in `seen_request`; the first to insert it wins
    (across replicas too: they share the table)."""

    def __init__(self, engine: Engine, *, now: Callable[[], datetime] = utcnow) -> None:
        # Wall time, not the app's clock: the window is Slack's, measured against real time.
        self._engine = engine
        self._now = now
        self._pruned_at: datetime | None = None

    def first_time(self, timestamp: str, body: bytes) -> bool:
        digest = hashlib.sha256(timestamp.encode() + b":" + body).hexdigest()
        now = self._now()
        table = table_of(SeenRequest)
        insert = insert_ignoring_conflicts(self._engine, table).values(digest=digest, seen_at=now)
        with transaction(self._engine) as session:
            # RETURNING, not rowcount: a driver may report -1 for an INSERT it did perform.
            fresh = session.execute(insert.returning(table.c.digest)).first() is not None
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            try:  # housekeeping: a failure here must not refuse the request just recorded
                self.prune(now)
            except Exception as error:
                log.warning("could not prune seen Slack requests (%s)", type(error).__name__)
        return fresh

    def prune(self, now: datetime) -> int:
        old = delete(SeenRequest).where(col(SeenRequest.seen_at) < now - REPLAY_WINDOW)
        with transaction(self._engine) as session:
            return int(rowcount(session.execute(old)))


class SlackGate:
    """WSGI middleware: checks POSTs to `path` and dispatches them to `bolt`; passes everything
    else straight to `inner`."""

    def __init__(
        self,
        inner: WsgiApp,
        *,
        bolt: App,
        signing_secret: str,
        path: str,
        answers: AnswersFirst | None = None,
    ) -> None:
        self._inner = inner
        self._bolt = bolt
        self._verifier = SignatureVerifier(signing_secret)
        self._path = path
        self._answers = answers

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self._path:
            return self._inner(environ, start_response)
        if self._answers is None:
            return self._serve(environ, start_response, None)
        # Counted from arrival until waitress has written the answer: work waits for it.
        answered = self._answers.answering()
        try:
            body = self._serve(environ, start_response, answered)
        except BaseException:
            self._answers.answered(answered)
            raise
        return AnsweredBody(body, self._answers, answered)

    def _serve(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        answered: threading.Event | None,
    ) -> Iterable[bytes]:
        try:
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        except (ValueError, OSError):
            return self._refuse(start_response, 400, "the body could not be read")
        parsed, status, reason = self._check(environ, raw)
        if parsed is None:
            return self._refuse(start_response, status, reason)
        if answered is not None:  # the listeners' work waits for it (handlers/acks.py)
            parsed.context[ANSWERED] = answered
        answer = self._bolt.dispatch(parsed)  # as SlackRequestHandler does with its own parse
        response = WsgiHttpResponse(answer.status, headers=answer.headers, body=answer.body)
        start_response(response.status, response.get_headers())
        return response.get_body()

    def _check(self, environ: dict[str, Any], raw: bytes) -> tuple[BoltRequest | None, int, str]:
        """The request to dispatch, or None with the status to refuse with and why."""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        if not TIMESTAMP.fullmatch(timestamp):
            return None, 401, "no usable X-Slack-Request-Timestamp"
        if not SIGNATURE.fullmatch(signature):
            return None, 401, "no usable X-Slack-Signature"
        text = _utf8(raw)
        # SignatureVerifier decodes a bytes body itself, and raises if it can't: a body that is
        # not text is checked by `_signed`, the same HMAC over the bytes.
        if text is None:
            signed = self._signed(raw, timestamp, signature)
        else:
            signed = self._verifier.is_valid(text, timestamp, signature)
        if not signed:
            return None, 401, "bad signature or stale timestamp"
        if text is None:
            return None, 400, "the body is not UTF-8"
        try:  # Bolt's own parsing, as its adapter will run it; whatever it raises on is refused
            query = environ.get("QUERY_STRING", "")
            parsed = BoltRequest(body=text, query=query, headers=_headers(environ))
            problem = payload_problem(parsed.body)
        except Exception as error:
            return None, 400, f"the body cannot be parsed ({type(error).__name__})"
        if problem:
            return None, 400, problem
        parsed.context[CHECKED_AT_THE_DOOR] = True  # RefuseMalformed need not check it again
        return parsed, 200, ""

    def _signed(self, raw: bytes, timestamp: str, signature: str) -> bool:
        """SignatureVerifier.is_valid, for a body that is not text."""
        if abs(self._verifier.clock.now() - int(timestamp)) > MAX_SKEW_SECONDS:
            return False
        base = b"v0:" + timestamp.encode() + b":" + raw
        digest = hmac.new(self._verifier.signing_secret.encode(), base, hashlib.sha256)
        return hmac.compare_digest(f"v0={digest.hexdigest()}", signature)

    def _refuse(
        self, start_response: Callable[..., Any], status: int, reason: str
    ) -> Iterable[bytes]:
        log.warning("refused a Slack request with %d: %s", status, reason)
        return self._answer(start_response, status)

    @staticmethod
    def _answer(start_response: Callable[..., Any], status: int) -> Iterable[bytes]:
        start_response(STATUS[status], [("Content-Length", "0")])
        return [b""]


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _headers(environ: dict[str, Any]) -> dict[str, str | Sequence[str]]:
    """The request headers as Bolt's WSGI adapter collects them."""
    headers: dict[str, str | Sequence[str]] = {
        k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if key in environ:
            headers[key.lower().replace("_", "-")] = environ[key]
    return headers
