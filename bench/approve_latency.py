"""Approve latency: an approver's click on the approval card → the tweet recorded by the fake X.

The real path with every background worker running as `brandbot run` starts them (outbox,
publisher, homes, digests, and the poller under its leader election, so the publisher's
skip-locked lease and its taking over from dead replicas are on the path; the system clock): the signed click goes over HTTP into the Bolt app, which acks, records the
approval, queues the draft and wakes the publisher, which leases it and posts it through tweepy
to the fake X. Drafts are created through /tweet + the modal as U0ALICE and approved one at a
time by U0BOB, so the figure is latency, not queueing.
Run: python bench/approve_latency.py [--drafts 200] [--database-url URL]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest_throughput import arguments, scratch_database  # bench/ is on sys.path when run
from sqlalchemy import select
from sqlmodel import col

from bot.core.clock import SystemClock
from bot.core.db import transaction
from bot.core.models import Draft, DraftApproval, DraftState, SlackMessage
from bot.fakes.drafting import get_draft, latest_draft
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.fakes.x_api import XCall
from bot.slack.cards.approval_card import DraftAction
from policies.config import parse_config

AUTHOR, APPROVER, APPROVER_GROUP = ("U0ALICE", "alice"), ("U0BOB", "bob"), "S0CARELEADS"
CHANNEL = "C0CUSTOMER"  # customer_relations: approvals_required 1, approvers S0CARELEADS
HOURLY_LIMIT = "max_posts_per_hour: 6"
RAISED_LIMIT = "max_posts_per_hour: 100"  # the schema's maximum (1-100)
TIMEOUT = 30.0


class TweetWatch:
    """Fake X ``on_call`` hook: when each POST /2/tweets (by text) was recorded, time.time()."""

    def __init__(self) -> None:
        self._posted: dict[str, float] = {}
        self._cond = threading.Condition()

    def __call__(self, call: XCall) -> None:
        if call.method == "POST" and call.path == "/2/tweets" and call.status == 201:
            with self._cond:
                self._posted.setdefault(str(call.json["text"]), call.at)
                self._cond.notify_all()

    def wait(self, text: str, timeout: float = TIMEOUT) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: text in self._posted, timeout):
                raise TimeoutError(f"fake X never got POST /2/tweets for {text!r}")
            return self._posted[text]


def epoch(at: datetime | None) -> float:
    """A stored timestamp as time.time() seconds (SQLite gives them back without a zone)."""
    assert at is not None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def card_of(world: FakeWorld, draft_id: int) -> SlackMessage | None:
    """The draft's approval card once the outbox worker has posted it (it has a ts), else None."""
    with transaction(world.db) as session:
        draft = session.get(Draft, draft_id)
        card = session.get(SlackMessage, draft.card_id) if draft and draft.card_id else None
        return card if card is not None and card.ts is not None else None


def draft_via_slack(world: FakeWorld, author: SlackUser, text: str) -> int:
    """What a person does: /tweet, fill the modal, submit; then wait for the approval card.
    The draft's id."""
    before = len(world.slack.views)
    author.command("/tweet", "", channel=CHANNEL)
    world.slack.wait_for(lambda s: len(s.views) > before, timeout=TIMEOUT)
    view = author.last_view_for(author.user_id)
    response = author.submit_view(
        view["id"], {"text": {"value": {"type": "plain_text_input", "value": text}}}
    )
    assert response.done, response
    world.slack.wait_for(
        lambda _: (d := latest_draft(world)) is not None and d.text == text, timeout=TIMEOUT
    )
    draft = latest_draft(world)
    assert draft is not None and draft.id is not None
    draft_id = draft.id
    world.slack.wait_for(lambda _: card_of(world, draft_id) is not None, timeout=TIMEOUT)
    return draft_id


def posted(world: FakeWorld, draft_id: int) -> Draft:
    """The draft once the publisher has recorded it as posted."""
    world.slack.wait_for(
        lambda _: get_draft(world, draft_id).state == DraftState.POSTED, timeout=TIMEOUT
    )
    return get_draft(world, draft_id)


def age_out_of_the_hour(world: FakeWorld, draft_id: int) -> None:
    """Move a posted draft's posted_at back an hour, so it stops counting toward the account's
    rolling hourly limit (at most 100, fewer than --drafts). Done after it is measured."""
    with transaction(world.db) as session:
        draft = session.get(Draft, draft_id)
        assert draft is not None and draft.posted_at is not None
        # computed here: SQLite would turn "text minus interval" into a number
        draft.posted_at -= timedelta(hours=1, minutes=1)
        session.add(draft)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):7.1f}  p95 {percentile(values, 95):7.1f}"
        f"  max {max(values):7.1f}"
    )


def main() -> int:
    args = arguments(__doc__, "drafts", 200)
    yaml_text = (Path(__file__).parents[1] / "app.yaml").read_text()
    assert HOURLY_LIMIT in yaml_text, f"app.yaml no longer says {HOURLY_LIMIT!r}"
    config = parse_config(yaml_text.replace(HOURLY_LIMIT, RAISED_LIMIT), filename="app.yaml")
    totals: list[float] = []  # click → POST /2/tweets recorded by the fake X, ms
    acks: list[float] = []  # click → the app's HTTP answer (Bolt's ack), ms
    recorded: list[float] = []  # click → the approval's `at` (service passed its checks), ms
    leased: list[float] = []  # click → publisher's attempt_at (woken, draft leased), ms
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        world = FakeWorld(config=config, database_url=url, clock=SystemClock()).start()
        try:
            watch = TweetWatch()
            world.x.on_call = watch
            world.slack.set_usergroup(APPROVER_GROUP, [APPROVER[0]])
            world.runtime.start_workers()  # every worker, the leader election included
            alice, bob = world.user(*AUTHOR), world.user(*APPROVER)
            for n in range(1, args.drafts + 1):
                text = f"Update #{n}: our status page has the latest on today's maintenance."
                draft_id = draft_via_slack(world, alice, text)
                card = card_of(world, draft_id)
                assert card is not None
                started = time.time()
                reply = bob.click(
                    channel=card.channel, ts=str(card.ts), action_id=DraftAction.APPROVE
                )
                acked = time.time()
                assert reply.status_code == 200, reply
                at_x = watch.wait(text)
                draft = posted(world, draft_id)
                with transaction(world.db) as session:
                    approval = session.scalars(
                        select(DraftApproval).where(col(DraftApproval.draft_id) == draft_id)
                    ).one()
                    approved_at = epoch(approval.at)
                totals.append((at_x - started) * 1000)
                acks.append((acked - started) * 1000)
                recorded.append((approved_at - started) * 1000)
                leased.append((epoch(draft.attempt_at) - started) * 1000)
                age_out_of_the_hour(world, draft_id)
            tweets = len(world.x.posted_by("acme"))
        finally:
            world.stop()
    backend = url.split(":")[0].split("+")[0]
    print(f"backend: {backend} (all workers running, the leader election included)")
    print(
        f"config: repo app.yaml with the account's {HOURLY_LIMIT} raised to "
        f"{RAISED_LIMIT.split(': ')[1]} (its maximum); each measured post is then moved an "
        "hour back in the database so the rolling hourly limit never holds a draft"
    )
    print(f"drafts approved one at a time: {len(totals)}, tweets on the fake X: {tweets}")
    print(f"approve click → tweet on fake X (ms): {summary(totals)}")
    print("  stages, each measured from the click (ms; the ack and the service overlap):")
    print(f"    service checked, approving:     {summary(recorded)}")
    print(f"    app answered the click (ack):   {summary(acks)}")
    print(f"    publisher leased (after wake):  {summary(leased)}")
    print(f"    tweet recorded by fake X:       {summary(totals)}")
    return 0 if len(totals) == tweets == args.drafts else 1


if __name__ == "__main__":
    sys.exit(main())
