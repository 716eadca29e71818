"""AnswersFirst: handed-off work waits for Slack's answers, on a real thread pool and a clock the
test moves (the releaser re-reads it every 0.1 s)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.slack.answers import AnsweredBody, AnswersFirst

TIMEOUT = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def started() -> tuple[threading.Event, Callable[[], None]]:
    ran = threading.Event()
    return ran, ran.set


def test_work_waits_for_its_own_answer_to_be_written(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    answers = AnswersFirst(pool, threads=2, quiet=0, clock=clock)
    answer = answers.answering()
    ran, work = started()
    answers.submit(work, after=answer)
    clock.now += 5  # long past the quiet and max waits: only its own answer holds it
    assert not ran.wait(0.3) and answers.held() == 1
    answers.answered(answer)
    assert ran.wait(TIMEOUT) and answers.held() == 0


def test_work_waits_while_a_burst_of_requests_arrives(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    answers = AnswersFirst(pool, threads=2, quiet=0.03, max_wait=1.0, clock=clock)
    first, second = answers.answering(), answers.answering()  # two clicks of a burst
    ran, work = started()
    answers.submit(work, after=first)
    answers.answered(first)
    answers.answered(second)
    assert answers.held() == 1  # the clock has not moved: no quiet yet
    clock.now += 0.05
    assert ran.wait(TIMEOUT)


def test_a_lone_clicks_work_starts_once_no_second_click_came_close_behind(
    pool: ThreadPoolExecutor,
) -> None:
    clock = Clock()
    answers = AnswersFirst(pool, threads=2, quiet=0.03, alone=0.01, max_wait=1.0, clock=clock)
    answer = answers.answering()
    ran, work = started()
    answers.submit(work, after=answer)
    answers.answered(answer)
    assert not ran.wait(0.3)  # answered, but a burst's second click may be a moment behind
    clock.now += 0.011
    assert ran.wait(TIMEOUT)  # alone that long: not the whole quiet


def test_the_first_click_of_a_burst_waits_for_the_burst_though_answered_before_the_next(
    pool: ThreadPoolExecutor,
) -> None:
    clock = Clock()
    answers = AnswersFirst(pool, threads=2, quiet=0.03, alone=0.01, max_wait=1.0, clock=clock)
    first = answers.answering()
    ran, work = started()
    answers.submit(work, after=first)
    answers.answered(first)  # answered in a millisecond, while the second is on its way
    clock.now += 0.005
    second = answers.answering()
    answers.answered(second)
    clock.now += 0.01  # the first alone long enough, had the second not come
    assert not ran.wait(0.3) and answers.held() == 1
    clock.now += 0.03  # the burst is over
    assert ran.wait(TIMEOUT)


def test_a_steady_stream_of_requests_delays_work_by_max_wait_at_most(
    pool: ThreadPoolExecutor,
) -> None:
    clock = Clock()
    answers = AnswersFirst(pool, threads=2, quiet=0.03, max_wait=1.0, clock=clock)
    answers.answering()  # a request that is being answered the whole time
    ran, work = started()
    answers.submit(work, after=None)
    clock.now += 0.5
    assert not ran.wait(0.3) and answers.held() == 1
    clock.now += 0.6
    assert ran.wait(TIMEOUT)


def test_no_more_work_starts_than_the_pool_has_threads(pool: ThreadPoolExecutor) -> None:
    answers = AnswersFirst(pool, threads=1, quiet=0)
    go = threading.Event()
    first, second = threading.Event(), threading.Event()

    def slow() -> None:
        first.set()
        go.wait(TIMEOUT)

    answers.submit(slow, after=None)
    answers.submit(second.set, after=None)
    assert first.wait(TIMEOUT)
    assert answers.held() == 1  # queued here, not in the executor, while the first runs
    go.set()
    assert second.wait(TIMEOUT)


def test_drain_releases_everything_held_and_later_work_starts_at_once(
    pool: ThreadPoolExecutor,
) -> None:
    answers = AnswersFirst(pool, threads=2, clock=Clock())
    answer = answers.answering()  # never written: only a drain lets the work go
    ran, work = started()
    answers.submit(work, after=answer)
    answers.drain()
    assert ran.wait(TIMEOUT)
    late, late_work = started()
    answers.submit(late_work, after=answers.answering())
    assert late.wait(TIMEOUT)


def test_the_answered_body_marks_the_answer_written_when_the_server_closes_it(
    pool: ThreadPoolExecutor,
) -> None:
    answers = AnswersFirst(pool, threads=2, quiet=0)
    answer = answers.answering()
    body = AnsweredBody([b"{}"], answers, answer)
    assert list(body) == [b"{}"] and not answer.is_set()
    body.close()
    body.close()  # a second close counts once
    assert answer.is_set()
    ran, work = started()
    answers.submit(work, after=answer)
    assert ran.wait(TIMEOUT)


def test_work_that_raises_is_logged_not_dropped_with_its_future(
    pool: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody reads the executor's future: what the work raises must reach the log (and the
    work after it must still start)."""
    answers = AnswersFirst(pool, threads=1, quiet=0)

    def broken() -> None:
        raise ValueError("a bug in the work")

    ran, work = started()
    with caplog.at_level(logging.ERROR, logger="brandbot.slack"):
        answers.submit(broken, after=None)
        answers.submit(work, after=None)
        assert ran.wait(TIMEOUT)
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ValueError]
    assert logged, [r.getMessage() for r in caplog.records]


def test_requests_that_hand_off_no_work_are_not_remembered_for_ever(
    pool: ThreadPoolExecutor,
) -> None:
    """Refused requests (an unsigned flood) are counted as they arrive but queue no work: the
    arrivals must still age out, not pile up in memory until the next piece of work."""
    clock = Clock()
    answers = AnswersFirst(pool, threads=2, quiet=0.03, clock=clock)
    for _ in range(10_000):
        answers.answered(answers.answering())
        clock.now += 0.01
    assert len(answers._arrivals) <= 4  # those of the last 30 ms


def calm_waiter(answers: AnswersFirst) -> threading.Event:
    """A background worker about to start a pass: the event is set once it may."""
    calm = threading.Event()

    def wait() -> None:
        answers.wait_until_calm()
        calm.set()

    threading.Thread(target=wait, daemon=True).start()
    return calm


@pytest.mark.parametrize(
    ("clicks", "still_busy_after", "calm_after"),
    [
        (0, None, 0.0),  # nobody clicking: the pass starts at once
        (1, 0.005, 0.011),  # a lone click: once nobody came close behind it
        (2, 0.02, 0.05),  # a burst: once it has been quiet that long
    ],
)
def test_a_workers_pass_waits_for_the_answers_of_a_burst(
    pool: ThreadPoolExecutor, clicks: int, still_busy_after: float | None, calm_after: float
) -> None:
    clock = Clock()
    answers = AnswersFirst(pool, threads=2, quiet=0.03, alone=0.01, max_wait=1.0, clock=clock)
    being_answered = [answers.answering() for _ in range(clicks)]
    calm = calm_waiter(answers)
    if clicks:
        assert not calm.wait(0.3)  # answers are being written
        for answer in being_answered:
            answers.answered(answer)
    if still_busy_after is not None:
        clock.now += still_busy_after
        assert not calm.wait(0.3)
        clock.now += calm_after - still_busy_after
    assert calm.wait(TIMEOUT)


def test_a_steady_stream_of_requests_delays_a_workers_pass_by_max_wait_at_most(
    pool: ThreadPoolExecutor,
) -> None:
    clock = Clock()
    answers = AnswersFirst(pool, threads=2, quiet=0.03, max_wait=1.0, clock=clock)
    answers.answering()  # a request that is being answered the whole time
    calm = calm_waiter(answers)
    clock.now += 0.5
    assert not calm.wait(0.3)
    clock.now += 0.6
    assert calm.wait(TIMEOUT)


def test_a_workers_pass_waits_for_nothing_once_the_process_is_stopping(
    pool: ThreadPoolExecutor,
) -> None:
    answers = AnswersFirst(pool, threads=2, clock=Clock())
    answers.answering()  # never written
    calm = calm_waiter(answers)
    assert not calm.wait(0.3)
    answers.drain()
    assert calm.wait(TIMEOUT)
