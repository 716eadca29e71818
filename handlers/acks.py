"""The one way a listener is registered: Slack is answered first, the work is done after.

Bolt runs with `process_before_response=True`, so a listener runs in the request thread and its
answer is the HTTP response. Each listener registered here calls `ack()` first and hands the work
to Bolt's executor (the `slack-work` pool), which runs it after the answer has gone: a click,
command or event is acknowledged before any database or Slack call, and never waits behind
earlier clicks' work for a pool slot. (Bolt's own lazy listeners do the same, at the price of a
deep copy of the request per click; see `_hand_off`.)

The work first records the request in the replay guard (a write) and does nothing when it
was seen before; a replay is acknowledged like the original, and changes nothing.

View submissions are answered first too (`Listen.view`): the answer puts the form in a
"working" state, and the work, which decides from the database (who may dismiss, whether the
channel exists...), then shows the form again with its errors on the fields, or done
(`bot/slack/cards/form_states.py`). A form whose checks are pure and whose outcome is a message
closes in the answer (`Listen.form`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from re import Pattern
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.slack.answers import ANSWERED, AnswersFirst
from bot.slack.cards import form_states
from bot.slack.gate import ReplayGuard
from handlers.errors import describe, report, tell

log = logging.getLogger("brandbot.handlers")

Matcher = str | Pattern[str]
# A listener's work takes any of `body`, `client`, `view`, `event` (and `ack`, a `Decision`,
# views only), by name, as Bolt would give them. A view listener may return a note for the
# person, or what is left to do once the form shows its outcome.
Work = Callable[..., Any]
Then = Callable[[], None]
# Field errors of a submitted form ({block_id: message}), none when it may go ahead.
FormCheck = Callable[[dict[str, Any]], dict[str, str]]
TIMESTAMP_HEADER = "x-slack-request-timestamp"
UNCOUNTED_THREADS = 64  # no limit of its own: the executor queues what its threads can't run


class Listen:
    """Registers listeners on `app`; `replays` is the guard HTTP requests are checked against
    (None: none is, for an app that serves no HTTP)."""

    def __init__(
        self, app: App, *, replays: ReplayGuard | None, answers: AnswersFirst | None = None
    ) -> None:
        self._app = app
        self._replays = replays
        executor = app.listener_runner.listener_executor
        # Without a front door counting answers (Socket Mode only, a test), work starts at once.
        self._answers = answers or AnswersFirst(executor, threads=UNCOUNTED_THREADS, max_wait=0)

    def action(self, matcher: Matcher) -> Callable[[Work], Work]:
        return self._lazily(self._app.action(matcher))

    def command(self, name: str) -> Callable[[Work], Work]:
        return self._lazily(self._app.command(name))

    def event(self, name: str) -> Callable[[Work], Work]:
        return self._lazily(self._app.event(name))

    def view(self, callback_id: str) -> Callable[[Work], Work]:
        """A submission decided from what the database says. The answer only puts the form in
        its "working" state; the listener runs after it, with a `Decision` for `ack`, and the
        form then shows what it decided (`views.update`): again with the errors on the fields,
        or done. What the listener returns is a note for the person (shown on the done form, and
        told where they acted) or what is left to do, if anything."""

        def register(listener: Work) -> Work:
            _check_takes(listener, "ack", may_ack=True)

            def decide(request: BoltRequest, body: dict[str, Any], client: WebClient) -> None:
                self._decide(listener, request, body, client)

            def submitted(
                ack: Ack, request: BoltRequest, body: dict[str, Any], client: WebClient
            ) -> None:
                ack(response_action="update", view=form_states.working(body.get("view")))
                self._hand_off(decide, request, body, client)

            submitted.__name__ = getattr(listener, "__name__", "view_submission")
            self._app.view(callback_id)(submitted)
            return listener

        return register

    def _decide(
        self, listener: Work, request: BoltRequest, body: dict[str, Any], client: WebClient
    ) -> None:
        """The replay check, the listener, and the form shown as it decided."""
        submitted = body.get("view")
        try:
            if not self._first_time(request):
                return  # a replay: the original's form shows the original's outcome
            decision = Decision()
            outcome = _call(listener, ack=decision, body=body, client=client)
        except Exception as error:  # nothing was done: the form again, as typed, and why
            problem = describe(error, body)
            _show(client, body, form_states.again(submitted, {}, problem=problem), problem)
            return
        if decision.errors is not None:
            shown = form_states.again(submitted, decision.errors)
            _show(client, body, shown, " ".join(decision.errors.values()))
            return
        note = outcome if isinstance(outcome, str) else None
        # If Slack won't show it done, the person still hears it (the note is told anyway).
        told = None if note else form_states.done_told(submitted)
        _show(client, body, form_states.done(submitted, note), told)
        if note:
            tell(client, body, note)
        elif callable(outcome):
            _run(lambda body, client: outcome(), body=body, client=client)

    def form(self, callback_id: str, check: FormCheck) -> Callable[[Work], Work]:
        """A submission whose outcome is told as a message, not on the form: `check` (pure,
        no database) answers with the field errors, else the form closes and the work runs."""

        def register(work: Work) -> Work:
            later = self._later(work)

            def answer(
                ack: Ack, request: BoltRequest, body: dict[str, Any], client: WebClient
            ) -> None:
                errors = check(body.get("view") or {})
                if errors:
                    ack(response_action="errors", errors=errors)  # the form stays open as typed
                    return
                ack()
                self._hand_off(later, request, body, client)

            answer.__name__ = getattr(work, "__name__", "form")
            self._app.view(callback_id)(answer)
            return work

        return register

    def _lazily(self, bolt_register: Callable[..., Any]) -> Callable[[Work], Work]:
        def register(work: Work) -> Work:
            later = self._later(work)

            def answer(
                ack: Ack, request: BoltRequest, body: dict[str, Any], client: WebClient
            ) -> None:
                ack()  # nothing before it: no database, no Slack
                self._hand_off(later, request, body, client)

            answer.__name__ = getattr(work, "__name__", "work")
            bolt_register(answer)
            return work

        return register

    def _hand_off(
        self, later: Callable[..., None], request: BoltRequest, body: Any, client: WebClient
    ) -> None:
        """Queue the work on Bolt's executor; the answer is returned as soon as this returns.

        Not Bolt's `lazy=[...]`: it deep-copies the request (the body with the whole card, the
        context, the WebClient) for each lazy function, in the request thread: ~5 ms of CPU a
        click, which 50 concurrent clicks queue behind. The work gets the request's own body and
        client instead; Bolt touches neither once the answer is returned."""
        after = request.context.get(ANSWERED)
        self._answers.submit(later, after=after, request=request, body=body, client=client)

    def _later(self, work: Work) -> Callable[..., None]:
        """The work after the answer: the replay check, then the work, its errors told to the
        person."""
        _check_takes(work)

        def later(request: BoltRequest, body: dict[str, Any], client: WebClient) -> None:
            if self._fresh(request, body, client):
                _run(work, body=body, client=client)

        return later

    def _fresh(self, request: BoltRequest, body: dict[str, Any], client: WebClient) -> bool:
        """Whether to act on this request: not a replay. If it cannot be recorded, the person is
        told and nothing is done, rather than risk acting on a replay."""
        try:
            return self._first_time(request)
        except Exception as error:
            report(error, body, client)
            return False

    def _first_time(self, request: BoltRequest) -> bool:
        """False for a replay of an HTTP request already handled (Socket Mode has no replays
        to guard against: Slack itself holds the connection)."""
        if self._replays is None or request.mode != "http":
            return True
        timestamp = (request.headers.get(TIMESTAMP_HEADER) or [""])[0]
        if self._replays.first_time(timestamp, request.raw_body.encode("utf-8")):
            return True
        log.warning("ignored a replayed Slack request")
        return False


def _check_takes(work: Work, *required: str, may_ack: bool = False) -> None:
    """Checked when registered, not at the first click: the work must take what it is given
    (only a view listener acks itself; other work runs after the answer)."""
    names = set(inspect.signature(work).parameters)
    unknown = names - {"body", "client", "view", "event", *(["ack"] if may_ack else [])}
    missing = {"body", "client", *required} - names
    if unknown or missing:
        raise TypeError(
            f"{getattr(work, '__name__', work)} takes {sorted(unknown)}, lacks {sorted(missing)}"
        )


class Decision:
    """What a view listener is given for `ack`: it records the answer the listener would have
    given Slack (`ack()` to go ahead, `ack(response_action="errors", errors=...)` to refuse)."""

    def __init__(self) -> None:
        self.errors: dict[str, str] | None = None

    def __call__(self, response_action: str | None = None, **answer: Any) -> None:
        if response_action == "errors":
            self.errors = {str(k): str(v) for k, v in dict(answer.get("errors") or {}).items()}


def _show(
    client: WebClient, body: dict[str, Any], view: dict[str, Any], fallback: str | None
) -> None:
    """Show `view` in the submitted form's place; if Slack won't (the person closed the form,
    say), tell them `fallback` where they acted instead."""
    submitted = body.get("view")
    view_id = submitted.get("id") if isinstance(submitted, dict) else None
    try:
        client.views_update(view_id=str(view_id or ""), view=view)
    except Exception as error:
        log.warning("could not show a submitted form's outcome (%s)", type(error).__name__)
        if fallback:
            tell(client, body, fallback)


def _call(work: Work, **given: Any) -> Any:
    """Call `work` with what it asks for of `given` (and the payload's view and event)."""
    body: dict[str, Any] = given["body"]
    offered = given | {"view": body.get("view"), "event": body.get("event")}
    wanted = inspect.signature(work).parameters
    return work(**{name: value for name, value in offered.items() if name in wanted})


def _run(work: Work, **given: Any) -> Any:
    """`_call`; what it raises becomes a note to the person."""
    try:
        return _call(work, **given)
    except Exception as error:
        report(error, given["body"], given["client"])
        return None
