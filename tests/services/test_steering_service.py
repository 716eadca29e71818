"""The steering service on a real database: races between admins, Slack failing mid-change,
overrides that no longer fit app.yaml."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select
from support import TEST_CONFIG

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.errors import ConfigRefused, Conflict
from bot.core.models import ConfigOverride
from bot.fakes.services import ServiceKit
from bot.steering.service import ANNOUNCEMENT

OPS = "C0OPS"


def _overrides(kit: ServiceKit) -> dict[tuple[str, str], object]:
    with transaction(kit.engine) as session:
        rows = session.scalars(select(ConfigOverride)).all()
        return {(r.scope, r.key): json.loads(r.value) for r in rows}


def test_a_change_validated_against_an_older_revision_is_not_written(kit: ServiceKit) -> None:
    admin = kit.person("U0ADMIN")
    kit.slack.set_usergroup("S0SOLO", ["U0BOB"])
    kit.ctx.segments.refresh()
    seen = kit.ctx.segments.revision  # what a second admin's change was validated against
    assert seen == 0
    kit.steering.set_approvers(admin, "customer_relations", ["S0SOLO"], where=OPS)
    with (
        pytest.raises(Conflict, match="Another admin changed the configuration"),
        kit.ctx.transaction() as session,
    ):
        kit.steering._bump(session, seen=seen)
    assert kit.ctx.segments.revision == seen + 1
    assert _overrides(kit) == {("customer_relations", "approvers"): ["S0SOLO"]}


def test_concurrent_changes_each_land_once_and_the_revision_counts_them(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kits = [make_kit(), make_kit()]  # two replicas on one database
    admin = kits[0].person("U0ADMIN")
    kits[1].person("U0ADMIN")
    outcomes: list[str] = []

    def change(kit: ServiceKit, minutes: int) -> None:
        try:
            kit.steering.set_response_target(admin, "customer_relations", minutes, where=OPS)
            outcomes.append("changed")
        except Conflict:
            outcomes.append("conflict")
        except Exception as exc:
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=change, args=(k, 20 + i)) for i, k in enumerate(kits)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    changed = outcomes.count("changed")
    assert len(outcomes) == 2 and changed >= 1, outcomes and sorted(outcomes) in (
        ["changed", "changed"],
        ["changed", "conflict"],
    )
    assert len(kits[0].audit("config.changed")) == changed
    kits[0].ctx.segments.refresh(force=True)
    assert kits[0].ctx.segments.revision == changed


def test_slack_failing_while_checking_the_channel_changes_nothing(kit: ServiceKit) -> None:
    admin = kit.person("U0ADMIN")
    kit.slack.fail_next("conversations.info", status=500, retry_after=None)
    with pytest.raises(ConfigRefused) as refused:
        kit.steering.set_channel(admin, "customer_relations", "C0NEWCARE", where=OPS)
    assert "Slack" in refused.value.problems["channel"]
    assert _overrides(kit) == {} and kit.audit("config.changed") == []
    assert kit.ctx.segments.channel("customer_relations") == "C0CUSTOMER"


def test_slack_unable_to_list_a_group_refuses_the_approvers(kit: ServiceKit) -> None:
    admin = kit.person("U0ADMIN")
    with pytest.raises(ConfigRefused) as refused:
        kit.steering.set_approvers(admin, "customer_relations", ["S0NOSUCH"], where=OPS)
    assert "no_such_subteam" in refused.value.problems["approvers"]
    assert _overrides(kit) == {}


def test_slack_failing_to_take_an_announcement_delays_it(kit: ServiceKit) -> None:
    admin = kit.person("U0ADMIN")
    kit.steering.set_response_target(admin, "customer_relations", 25, where=OPS)
    kit.slack.fail_next("chat.postMessage", status=503, retry_after=None)
    kit.deliver(rounds=1)
    (note,) = kit.messages(ANNOUNCEMENT)
    assert note.ts is None  # not lost: due again later
    assert isinstance(kit.clock, FakeClock)
    kit.clock.advance(minutes=5)
    kit.deliver()
    (note,) = kit.messages(ANNOUNCEMENT)
    assert note.ts is not None
    posted = [m for m in kit.slack.messages["C0CUSTOMER"] if "first-response target" in m["text"]]
    assert len(posted) == 1


def test_an_override_app_yaml_no_longer_allows_is_left_out_at_start(
    make_kit: Callable[..., ServiceKit],
) -> None:
    two = TEST_CONFIG.replace(
        "  - {handle: acme, credentials_env: ACME}\n",
        "  - {handle: acme, credentials_env: ACME}\n  - {handle: acme_help, credentials_env: HELP}\n",
    )
    kit = make_kit(two)
    admin = kit.person("U0ADMIN")
    kit.steering.set_accounts(admin, "customer_relations", ["acme_help"], where=OPS)
    kit.steering.set_response_target(admin, "customer_relations", 25, where=OPS)

    restarted = make_kit(TEST_CONFIG)  # app.yaml lost @acme_help; the database still names it
    segments = restarted.ctx.segments
    assert segments.config.segments["customer_relations"].accounts is None
    assert segments.config.segments["customer_relations"].first_response_minutes == 25
    ((left_out, why),) = segments.ignored()
    assert left_out.key == "accounts" and "unknown account 'acme_help'" in why
