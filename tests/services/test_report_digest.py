"""The digest: posted once per period through Slack's external upload flow (the PNG's bytes reach
the upload URL, the message with the file lands in the digest channel), never twice across a
lost answer, a restart or two processes, and not at all when its moment has long passed."""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from support import TEST_CONFIG, answered_mention

from bot.core.clock import FakeClock
from bot.core.db import is_postgres, transaction
from bot.core.models import ReportDigest
from bot.fakes.services import ServiceKit
from bot.fakes.world import BOT_TOKEN
from bot.reports.chart import HEIGHT_PX, WIDTH_PX
from bot.reports.digest import DigestWorker, due_period
from bot.slack.client import outbox_client

DIGEST = "C0DIGEST"
CONFIG = TEST_CONFIG + f"digest: {{channel: {DIGEST}, every: day, at: '09:00'}}\n"
MORNING = datetime(2026, 12, 2, 9, 0, 30, tzinfo=UTC)  # 30 s after the digest fell due


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=MORNING)


@pytest.fixture
def kit(make_kit: Callable[..., ServiceKit]) -> ServiceKit:
    kit = make_kit(CONFIG)
    tweeted = datetime(2026, 12, 1, 15, tzinfo=UTC)  # yesterday: in the digest
    with transaction(kit.engine) as session:
        session.add(
            answered_mention(
                tweeted,
                ingested_after=timedelta(minutes=3),
                replied_after=timedelta(minutes=7),
                via="brandbot",
            )
        )
    return kit


def worker(kit: ServiceKit, owner: str = "process-a") -> DigestWorker:
    """A digest worker as a process runs it (a second owner is a second process)."""
    client = outbox_client(token=BOT_TOKEN, base_url=kit.slack.url)
    return DigestWorker(ctx=kit.ctx, client=client, owner=owner)


def digest_messages(kit: ServiceKit) -> list[dict[str, object]]:
    return [m for m in kit.slack.messages.get(DIGEST, []) if m.get("files")]


def rows(kit: ServiceKit) -> list[ReportDigest]:
    with transaction(kit.engine) as session:
        return list(session.exec(select(ReportDigest)))


def test_the_digest_uploads_the_chart_and_posts_the_summary_once(kit: ServiceKit) -> None:
    assert worker(kit).work() == 1
    methods = [c.method for c in kit.slack.calls]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    asked, completed = kit.slack.calls
    (file,) = kit.slack.files.values()
    data = file["data"]
    assert isinstance(data, bytes) and int(asked.args["length"]) == len(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (WIDTH_PX, HEIGHT_PX)
    assert completed.args["channel_id"] == DIGEST
    assert completed.args["files"][0]["id"] == file["id"]
    (message,) = digest_messages(kit)
    assert "Acme report: Tue 01 Dec 2026 (UTC)" in str(message["text"])
    assert "customer_relations" in str(message["text"])
    (row,) = rows(kit)
    assert (row.state, row.file_id, row.period) == ("posted", file["id"], "day")
    assert row.period_start == datetime(2026, 12, 1, tzinfo=UTC)
    # Due again only tomorrow: another pass, or another process, does nothing.
    assert worker(kit).work() == 0 and worker(kit, "process-b").work() == 0
    assert len(kit.slack.calls) == 2


def test_nothing_before_the_digest_time_nor_long_after_it(
    kit: ServiceKit, clock: FakeClock
) -> None:
    clock.advance(seconds=-60)  # 08:59:30
    assert worker(kit).work() == 0
    clock.advance(hours=6, seconds=60)  # 15:00:30: the app was down all morning
    assert worker(kit).work() == 0
    assert rows(kit) == [] and kit.slack.calls == []


def test_a_lost_answer_to_the_share_is_found_in_the_channel_not_posted_again(
    kit: ServiceKit, clock: FakeClock
) -> None:
    # Slack shares the file, but the answer is lost (a 500 after the fact).
    kit.slack.fail_next("files.completeUploadExternal", status=500, apply=True)
    assert worker(kit).work() == 1
    (row,) = rows(kit)
    assert row.state == "pending" and row.attempted_at is not None and row.attempts == 1
    assert len(digest_messages(kit)) == 1
    clock.advance(minutes=5)
    # A restart: a new process picks the digest up, looks in the channel and finds it.
    assert worker(kit, "process-after-restart").work() == 1
    assert len(digest_messages(kit)) == 1
    assert [c.method for c in kit.slack.calls].count("files.getUploadURLExternal") == 1
    (row,) = rows(kit)
    assert row.state == "posted" and row.file_id == next(iter(kit.slack.files))


def test_a_failure_before_the_share_uploads_again_and_posts_once(
    kit: ServiceKit, clock: FakeClock
) -> None:
    kit.slack.fail_next("upload_url", status=500)  # the bytes never arrive
    worker(kit).work()
    assert digest_messages(kit) == []
    kit.slack.fail_next("files.getUploadURLExternal", status=429, retry_after=120)
    clock.advance(minutes=5)
    worker(kit).work()
    (row,) = rows(kit)
    assert row.state == "pending" and row.due_at == clock.now() + timedelta(seconds=120)
    assert worker(kit).work() == 0  # Retry-After is honoured
    clock.advance(minutes=3)
    assert worker(kit).work() == 1
    (message,) = digest_messages(kit)
    (shared,) = [f for f in kit.slack.files.values() if f["completed"]]
    assert message["files"][0]["id"] == shared["id"]  # type: ignore[index]
    assert shared["data"][:4] == b"\x89PNG"
    assert rows(kit)[0].state == "posted"


def test_two_processes_at_once_post_one_digest(kit: ServiceKit) -> None:
    workers = [worker(kit, f"process-{n}") for n in range(2)]
    start = threading.Barrier(2)
    done: list[int] = []

    def run(w: DigestWorker) -> None:
        start.wait()
        done.append(w.work())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(done) == [0, 1]
    assert len(digest_messages(kit)) == 1 and len(rows(kit)) == 1


def test_a_digest_another_process_is_taking_is_skipped_not_waited_for(kit: ServiceKit) -> None:
    if not is_postgres(kit.engine):
        pytest.skip("SQLite runs one process: its writers queue by design")
    taking, other = worker(kit, "process-a"), worker(kit, "process-b")
    config = kit.config
    assert config.digest is not None
    window = due_period(config.digest, kit.clock.now(), config.time_zone)
    assert window is not None
    taking._insert(window, DIGEST, kit.clock.now())
    (row,) = rows(kit)
    done: list[int] = []

    with kit.engine.connect() as conn, conn.begin():  # process-a's transaction taking it
        conn.execute(select(ReportDigest).where(ReportDigest.id == row.id).with_for_update())
        thread = threading.Thread(target=lambda: done.append(other.work()), daemon=True)
        thread.start()
        thread.join(5)
        assert not thread.is_alive(), "process-b waited for the row process-a holds"
    assert done == [0]

    assert other.work() == 1  # free again: taken on the next pass
    assert len(digest_messages(kit)) == 1
