"""Socket Mode: Bolt's handler, each envelope counted by `AnswersFirst` until its ack is sent.

Over Socket Mode the answer to a click or a submission is an ack on the socket, sent by the
handler once the listener has returned; the work handed off meanwhile must wait for it, as it
waits for an HTTP answer to be written: a form's outcome (`views.update`) that reached Slack
before the ack putting the form in its "working" state would be replaced by it for good.
"""

from __future__ import annotations

from time import time

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_bolt.request import BoltRequest
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.slack.answers import ANSWERED, AnswersFirst


class AnsweredSocketModeHandler(SocketModeHandler):
    """`SocketModeHandler`, with the request's "answered" event set once its ack is sent."""

    def __init__(self, app: App, app_token: str, *, answers: AnswersFirst) -> None:
        super().__init__(app, app_token)
        self._answers = answers

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time()
        answered = self._answers.answering()
        try:  # as Bolt's own handle (run_bolt_app, send_response), the event in the context
            request = BoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
            request.context[ANSWERED] = answered
            send_response(client, req, self.app.dispatch(request), start)
        finally:
            self._answers.answered(answered)
