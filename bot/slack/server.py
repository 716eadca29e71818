"""HTTP serving: Bolt behind its WSGI adapter, behind our front door, on waitress (threaded,
production-grade)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from bot.slack.answers import AnswersFirst
from bot.slack.gate import SlackGate

EVENTS_PATH = "/slack/events"


def wsgi_app(
    bolt_app: App,
    *,
    healthy: Callable[[], bool],
    signing_secret: str,
    answers: AnswersFirst | None = None,
) -> Callable[..., Iterable[bytes]]:
    slack = SlackGate(
        SlackRequestHandler(bolt_app, path=EVENTS_PATH),
        bolt=bolt_app,
        signing_secret=signing_secret,
        path=EVENTS_PATH,
        answers=answers,
    )

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
            ok = healthy()
            body = json.dumps({"ok": ok}).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return slack(environ, start_response)

    return application


class HttpServer:
    """waitress in a background thread; port 0 picks a free port (tests, demo)."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], *, host: str, port: int, threads: int = 8
    ):
        self._server = create_server(app, host=host, port=port, threads=threads, ident="brandbot")
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except OSError:
            if not self._stopping.is_set():  # closing the listening socket ends the loop this way
                raise

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            if self._thread is None or not self._thread.is_alive():
                raise OSError("no loop to wake")
            # Closed from inside its own loop: closed from here, the loop would only notice at
            # its next wake-up (waitress polls once a second), and every stop would take 1 s.
            self._server.trigger.pull_trigger(self._server.close)
        except OSError:  # the loop is gone, or its trigger already closed: close it from here
            self._server.close()
        if self._thread:
            self._thread.join(timeout=5)
