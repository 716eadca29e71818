"""The loop the background workers share: work, and when idle sleep until woken or due."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Worker:
    idle_seconds: float = 0.5  # how often an idle worker looks for newly due work
    # Called before each pass: the runtime makes it wait while Slack's requests are being
    # answered (bot/slack/answers.py), so a pass never takes the interpreter from an answer.
    yield_to_answers: Callable[[], None] = field(default=lambda: None, repr=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def work(self) -> int:
        """Do what is due now; return how much was done."""
        raise NotImplementedError

    def idle_wait(self) -> float:
        """Seconds an idle worker sleeps unless woken: a worker that knows when its next work
        is due may say less."""
        return self.idle_seconds

    def wake(self) -> None:
        """New work was committed: look now rather than at the next idle check."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.yield_to_answers()
                done = self.work()
            except Exception:  # keep the worker alive; the work stays in the database
                log.exception("%s pass failed", type(self).__name__)
                done = 0
            if done == 0:
                self._wake.wait(self.idle_wait())
            self._wake.clear()
