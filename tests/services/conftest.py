"""Service tests: the services called directly on a real database (SQLite, or PostgreSQL with
BRANDBOT_TEST_DATABASE_URL), against the fake Slack and fake X over loopback. No Bolt, no HTTP
into the app; time moves only with the FakeClock.

Who is who (tests/support.py TEST_CONFIG): U0ADMIN is the admin; S0CARE approves customer
relations (U0BOB, U0CAROL, U0DANA); S0CRISIS approves and responds in crisis management
(U0CRISIS1-3, two approvals needed); U0ALICE drafts; U0MALLORY is in no group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from support import TEST_CONFIG

from bot.core.clock import FakeClock, utcnow
from bot.fakes.services import Fakes, ServiceKit, build_services, start_fakes
from policies.config import parse_config

MakeKit = Callable[..., ServiceKit]
GROUPS = {
    "S0CARE": ["U0BOB", "U0CAROL", "U0DANA"],
    "S0CRISIS": ["U0CRISIS1", "U0CRISIS2", "U0CRISIS3"],
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=utcnow())  # near real time: the fake X dates its tweets by it


@pytest.fixture
def make_kit(engine: Engine, clock: FakeClock) -> Iterator[MakeKit]:
    """Services on this test's database and clock, for TEST_CONFIG or a variant of it."""
    started: list[Fakes] = []

    def make(
        config_text: str = TEST_CONFIG, *, x_timeout: float = 10.0, paced: bool = False
    ) -> ServiceKit:
        config = parse_config(config_text, filename="test.yaml")
        fakes = start_fakes(config, clock)
        started.append(fakes)
        for group, members in GROUPS.items():
            fakes.slack.set_usergroup(group, members)
        return build_services(
            config, engine=engine, clock=clock, fakes=fakes, x_timeout=x_timeout, paced=paced
        )

    yield make
    for fakes in started:
        fakes.stop()
    for fakes in started:
        assert fakes.slack.violations == [], "a service called Slack in ways its API forbids"


@pytest.fixture
def kit(make_kit: MakeKit) -> ServiceKit:
    return make_kit()
