"""Reports in Slack, over the real app: `/brand report` answers the caller alone (in a team
channel, or an admin anywhere), and a running app posts the digest with its chart by itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from support import TEST_CONFIG, answered_mention

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.fakes.drafting import said
from bot.fakes.world import FakeWorld
from policies.config import BrandConfig, parse_config

DIGEST = "C0DIGEST"
MORNING = datetime(2026, 12, 2, 9, 0, 30, tzinfo=UTC)  # a Wednesday, just after 09:00


@pytest.fixture
def config() -> BrandConfig:
    digest = f"digest: {{channel: {DIGEST}, every: day, at: '09:00'}}\n"
    return parse_config(TEST_CONFIG + digest, filename="test.yaml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=MORNING)


@pytest.fixture
def answered(world: FakeWorld) -> Iterator[FakeWorld]:
    """Yesterday one customer waited 12 minutes for our reply."""
    tweeted = datetime(2026, 12, 1, 15, tzinfo=UTC)
    with transaction(world.db) as session:
        session.add(
            answered_mention(
                tweeted,
                ingested_after=timedelta(minutes=9),
                replied_after=timedelta(minutes=12),
                via="x",
            )
        )
    yield world


def report(world: FakeWorld, user_id: str, text: str, *, channel: str) -> str:
    user = world.user(user_id, user_id.lower())
    return said(world, user, partial(user.command, "/brand", text, channel=channel))


def test_brand_report_in_a_segment_channel_is_for_the_caller_alone(answered: FakeWorld) -> None:
    answer = report(answered, "U0BOB", "report", channel="C0CUSTOMER")
    assert "Acme report: Tue 01 Dec 2026 (UTC)" in answer
    care = next(line for line in answer.splitlines() if line.startswith("customer_relations"))
    assert care.split()[1] == "1" and "12m" in care  # from the tweet's time, not ingest
    assert "(1 posted directly on X)" in answer
    assert answered.slack.messages.get("C0CUSTOMER", []) == []  # nothing posted for all to see
    week = report(answered, "U0BOB", "report week", channel="C0CUSTOMER")
    assert "Acme report: week of Mon 23 Nov 2026 (UTC)" in week


def test_outside_team_channels_only_admins_may_ask(answered: FakeWorld) -> None:
    refused = report(answered, "U0MALLORY", "report", channel="C0RANDOM")
    assert "Reports are for the team" in refused
    assert "Acme report" in report(answered, "U0ADMIN", "report", channel="C0RANDOM")
    assert "Acme report" in report(answered, "U0MALLORY", "report", channel=DIGEST)


@pytest.mark.parametrize("text", ["report month", "report day week", "report yesterday"])
def test_a_bad_argument_gets_the_usage(answered: FakeWorld, text: str) -> None:
    answer = report(answered, "U0BOB", text, channel="C0CUSTOMER")
    assert answer.startswith("Usage: `/brand report [day|week]`")


def test_a_running_app_posts_the_digest_with_its_chart(answered: FakeWorld) -> None:
    answered.runtime.start_workers(poll=False, publish=False, homes=False)

    def shared(slack: object) -> list[dict[str, object]]:
        return [m for m in answered.slack.messages.get(DIGEST, []) if m.get("files")]

    answered.slack.wait_for(lambda s: shared(s), timeout=30)
    (message,) = shared(answered.slack)
    assert "Acme report: Tue 01 Dec 2026" in str(message["text"])
    (file,) = answered.slack.files.values()
    assert file["completed"] and file["data"][:4] == b"\x89PNG"
