"""Answers to Slack before the work they hand off.

Slack waits at most 3 s for an answer to a click, a command or a submission; the work behind
it (a claim, a card update) is in no such hurry. On a small machine both share the interpreter
(and the GIL), so a burst of clicks answered while their own work runs is answered about twice
as slowly as by a bare Bolt app (bench/click_ack.py): the answers queue behind the work.

So handed-off work waits for the answers. `AnswersFirst` sits between the listeners and Bolt's
executor: the front door (`bot/slack/gate.py`) counts each HTTP request from its arrival until
waitress has written the answer, and work is released to the executor only when

- the answer to its own request has been written (a modal's `views.update` from the work can
  never reach Slack before the answer that put the modal in its "working" state), and
- none is being answered and no request arrived in the last `quiet` seconds, or just one (a
  lone click: its own) that has been alone for `alone` seconds — a burst of clicks reaches the
  app one by one, each answered in a few milliseconds, with gaps between them, so "none in
  flight" alone is true in every gap of a burst; a lone click's work must not wait for the
  whole quiet, but the first click of a burst is answered before the second arrives, so it
  waits the few milliseconds that tell the two apart — or the work has waited `max_wait`
  already: a steady stream of clicks delays the work by at most that, never starves it;

and no more work is started than the executor has threads, so what is still queued when the
next burst arrives waits for it too. Socket Mode envelopes are counted the same way, from their
arrival until their ack is sent (`bot/slack/socket.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("brandbot.slack")

MAX_WAIT_SECONDS = 1.0  # the most an answer-free moment is waited for; Slack's deadline is 3 s
QUIET_SECONDS = 0.03  # a gap between requests this long ends a burst (they come ms apart)
# A click this long alone is a lone click, its work due now: the first click of a burst is
# answered before the next one arrives, and its work started then ran under all the others'
# answers (bench/click_ack.py: 50-click p99 1.4-1.5x a bare app; 0.8x when it waited).
ALONE_SECONDS = 0.01
# An answer never marked written (a bug) must not hold the work behind it for ever.
STUCK_SECONDS = 10.0
LOOK_AGAIN_SECONDS = 0.1  # the releaser re-reads the clock at least this often while work waits
# Where the gate leaves the request's "answered" event, in the BoltRequest's context.
ANSWERED = "brandbot_answered"


@dataclass
class _Queued:
    queued_at: float
    after: threading.Event | None
    work: Callable[..., Any]
    kwargs: dict[str, Any]


@dataclass
class AnswersFirst:
    """Holds handed-off work until Slack has been answered (see the module docstring)."""

    executor: Executor
    threads: int
    max_wait: float = MAX_WAIT_SECONDS
    quiet: float = QUIET_SECONDS
    alone: float = ALONE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _answering: int = 0
    _arrivals: deque[float] = field(default_factory=deque)  # within the last `quiet` seconds
    _running: int = 0
    _queue: deque[_Queued] = field(default_factory=deque)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _releaser: threading.Thread | None = None
    _closed: bool = False

    def answering(self) -> threading.Event:
        """An answer is being made; set the event it returns once it has been written."""
        answered = threading.Event()
        with self._changed:
            now = self.clock()
            self._answering += 1
            self._forget_arrivals_before(now - self.quiet)  # requests that queue no work too
            self._arrivals.append(now)
        return answered

    def answered(self, event: threading.Event) -> None:
        with self._changed:
            if not event.is_set():
                event.set()
                self._answering -= 1
                self._changed.notify_all()

    def submit(
        self, work: Callable[..., Any], *, after: threading.Event | None, **kwargs: Any
    ) -> None:
        """Run `work(**kwargs)` on the executor once it may (never in the caller's thread)."""
        with self._changed:
            if self._closed:  # stopping: nothing is held back any more
                self._start(_Queued(self.clock(), None, work, kwargs))
                return
            self._queue.append(_Queued(self.clock(), after, work, kwargs))
            if self._releaser is None:
                self._releaser = threading.Thread(
                    target=self._release, name="slack-work-release", daemon=True
                )
                self._releaser.start()
            self._changed.notify_all()

    def drain(self) -> None:
        """Release everything held, at once (the process is stopping: lose nothing)."""
        with self._changed:
            self._closed = True
            while self._queue:
                self._start(self._queue.popleft())
            self._changed.notify_all()

    def held(self) -> int:
        with self._changed:
            return len(self._queue)

    def _release(self) -> None:
        with self._changed:
            while not self._closed:
                wait = self._next_wait()
                if wait is None:
                    self._start(self._queue.popleft())
                else:
                    self._changed.wait(min(wait, LOOK_AGAIN_SECONDS) if self._queue else wait)

    def _next_wait(self) -> float | None:
        """None when the oldest held work may start now, else how long to wait at most before
        looking again (a change of the counts wakes the releaser earlier)."""
        if not self._queue or self._running >= self.threads:
            return self.max_wait
        head = self._queue[0]
        now = self.clock()
        waited = now - head.queued_at
        if head.after is not None and not head.after.is_set() and waited < STUCK_SECONDS:
            return self.max_wait  # its own answer is not written yet: `answered` wakes us
        if waited >= self.max_wait:
            return None
        # A lone click: its work alone is held. (Several pieces held are a burst's, which waits
        # for the whole quiet: a burst has gaps of a few milliseconds between its clicks too.)
        busy_for = self._busy_for(now, lone_click_ends=len(self._queue) == 1)
        return None if busy_for is None else min(self.max_wait - waited, busy_for)

    def wait_until_calm(self) -> None:
        """Hold a background worker's next pass (the outbox's, the poller's…) while requests are
        being answered, for `max_wait` at most: a pass started in a gap of a burst takes the
        interpreter from the answers still to come, as the clicks' own work would."""
        with self._changed:
            start = self.clock()
            while not self._closed:
                now = self.clock()
                busy_for = self._busy_for(now, lone_click_ends=True)
                left = self.max_wait - (now - start)
                if busy_for is None or left <= 0:
                    return
                self._changed.wait(min(busy_for, left, LOOK_AGAIN_SECONDS))

    def _busy_for(self, now: float, *, lone_click_ends: bool) -> float | None:
        """None when no request is being answered and none arrived in the last `quiet` seconds
        (or, where `lone_click_ends`, just one, alone for `alone` seconds: no second click came
        close behind it); else how long to wait before looking again (an arrival or an answer
        wakes the waiter earlier)."""
        self._forget_arrivals_before(now - self.quiet)
        if self._answering == 0:
            if not self._arrivals:
                return None
            if lone_click_ends and len(self._arrivals) == 1:
                alone_for = now - self._arrivals[0]
                return None if alone_for >= self.alone else max(self.alone - alone_for, 0.001)
        # Look again when the oldest recent arrival has aged out.
        aged_out = self.quiet - (now - self._arrivals[0]) if self._arrivals else self.quiet
        return max(aged_out, 0.001)

    def _forget_arrivals_before(self, moment: float) -> None:
        while self._arrivals and self._arrivals[0] <= moment:
            self._arrivals.popleft()

    def _start(self, queued: _Queued) -> None:
        self._running += 1

        def run() -> None:
            try:
                queued.work(**queued.kwargs)
            except Exception:  # nobody reads the executor's future: say it here, or never
                log.exception("handed-off work failed")
            finally:
                with self._changed:
                    self._running -= 1
                    self._changed.notify_all()

        try:
            self.executor.submit(run)
        except RuntimeError:  # the executor is shut down (the interpreter is exiting)
            self._running -= 1
            log.warning("could not start handed-off work: the executor is shut down")


class AnsweredBody:
    """A WSGI response body that tells `AnswersFirst` when waitress has written it (WSGI servers
    call `close()` after the last byte, or when the client has gone)."""

    def __init__(self, body: Iterable[bytes], answers: AnswersFirst, event: threading.Event):
        self._body = body
        self._answers = answers
        self._event = event

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        try:
            if callable(close):
                close()
        finally:
            self._answers.answered(self._event)
