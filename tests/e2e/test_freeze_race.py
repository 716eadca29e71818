"""Invariant 7 under real timing: once `/brand freeze` answers, no post starts, and the answer
names every post whose outcome is still unknown.

Real workers (publisher and outbox threads; in the main test also a second replica's publisher),
a slow fake X (0.2 to 1.0 s per post), the freeze sent at random moments while posts are on their
way. Each round checks, from what X itself recorded:

(a) no ``POST /2/tweets`` arrived at X after the confirmation reached Slack;
(b) every post X created after the confirmation, every post X had received but not yet answered
    when the confirmation was sent, and every draft that was POSTING at that moment and then
    turned out posted (or still of unknown outcome) is named as ``#<draft id>`` in the
    confirmation, which says it is "on its way to X" (or "on their way to X");
(c) the admin got one reply to the command, not a confirmation plus a warning.
"""

from __future__ import annotations

import inspect
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlmodel import col
from support import TEST_CONFIG

from bot.core.clock import SystemClock
from bot.core.db import transaction
from bot.core.models import Draft, DraftState, SlackMessage
from bot.drafts.service import DraftRequest
from bot.fakes.slack_api import FakeSlack, SlackCall
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.fakes.x_api import PostRecord
from bot.runtime import Runtime
from bot.slack.cards.approval_card import DraftAction
from bot.slack.clicks import Person
from policies.config import BrandConfig, parse_config

OPS = "C0OPS"  # where the admin runs /brand
ADMIN, APPROVER, AUTHOR = "U0ADMIN", "U0BOB", "U0ALICE"
FROZEN_NOTE = "Publishing is frozen"
ON_ITS_WAY = ("on its way to X", "on their way to X")
DRAFT_REF = re.compile(r"(?:• |: |, )#(\d+)")  # as the confirmation lists drafts, not hashtags
_ACCOUNT = "  - {handle: acme, credentials_env: ACME}"
RACE_CONFIG = TEST_CONFIG.replace(_ACCOUNT, _ACCOUNT[:-1] + ", max_posts_per_hour: 100}")
assert RACE_CONFIG != TEST_CONFIG

ROUNDS = 25  # per database; about 2 s each
PAUSED_ROUNDS = 8
DRAFTS_PER_ROUND = 3  # 25 rounds x 3 stays under the account's 100 posts an hour


# -- the world --------------------------------------------------------------------------------


def _config() -> BrandConfig:
    return parse_config(RACE_CONFIG, filename="race.yaml")


@dataclass
class Confirmation:
    text: str
    at: float  # time.time() when the fake Slack received it
    posting: set[int]  # drafts in state POSTING at that moment (the app waits on Slack meanwhile)
    replies: list[str] = field(default_factory=list)  # all it said to the admin for the command


class ConfirmationWatch:
    """On the fake Slack's `on_call` hook, which runs before the app gets Slack's answer: notes
    which drafts are POSTING at the moment the freeze confirmation reaches Slack."""

    def __init__(self, world: FakeWorld) -> None:
        self._world = world
        self._lock = threading.Lock()
        self._posting: dict[str, set[int]] = {}  # message ts -> drafts POSTING then

    def __call__(self, call: SlackCall) -> None:
        args = call.args
        if call.method != "chat.postEphemeral" or args.get("user") != ADMIN:
            return
        if FROZEN_NOTE not in str(args.get("text")):
            return
        posting = _drafts_in(self._world, DraftState.POSTING)
        with self._lock:
            self._posting[str(call.response.get("message_ts"))] = posting

    def posting_at(self, ts: str | None) -> set[int] | None:
        with self._lock:
            return self._posting.get(str(ts))


@dataclass
class Race:
    world: FakeWorld
    watch: ConfirmationWatch
    author: SlackUser
    approver: SlackUser
    admin: SlackUser
    replica: Runtime | None  # a second app process on the same database: its publisher races too
    by_text: dict[str, int] = field(default_factory=dict)  # every draft's text -> its id


def _start(world: FakeWorld, *, replica: bool) -> Race:
    world.start(workers=True)
    world.slack.set_usergroup("S0CARE", [APPROVER, "U0CAROL"])
    world.slack.add_channel(OPS, "brand-ops")
    watch = ConfirmationWatch(world)
    world.slack.on_call = watch
    second = world.build_runtime() if replica else None
    if second is not None:
        second.start_workers(poll=False, deliver=False)
    return Race(
        world,
        watch,
        world.user(AUTHOR, "alice"),
        world.user(APPROVER, "bob"),
        world.user(ADMIN, "admin"),
        second,
    )


@pytest.fixture
def race(database_url: str) -> Iterator[Race]:
    world = FakeWorld(config=_config(), database_url=database_url)
    with _running(world, replica=True) as running:
        yield running


@contextmanager
def _running(world: FakeWorld, *, replica: bool = False) -> Iterator[Race]:
    race = None
    try:
        race = _start(world, replica=replica)
        yield race
        assert world.slack.violations == [], "the app called Slack in ways its API spec forbids"
    finally:
        if race is not None and race.replica is not None:
            race.replica.stop()
        world.stop()


class PausingClock(SystemClock):
    """The review's pause: `FreezeService.freeze` reads the clock, then stalls 0.3 s."""

    def now(self) -> datetime:
        read = super().now()
        if _called_from_freeze():
            time.sleep(0.3)
        return read


def _called_from_freeze() -> bool:
    frame = inspect.currentframe()
    while frame is not None:
        code = frame.f_code
        if code.co_name == "freeze" and code.co_filename.replace("\\", "/").endswith(
            "bot/freeze/service.py"
        ):
            return True
        frame = frame.f_back
    return False


# -- helpers ----------------------------------------------------------------------------------


def _drafts_in(world: FakeWorld, state: DraftState) -> set[int]:
    with transaction(world.db) as session:
        ids = session.scalars(select(col(Draft.id)).where(col(Draft.state) == state))
        return {i for i in ids if i is not None}  # (a stored row's id never is)


def _states(world: FakeWorld, ids: set[int]) -> dict[int, str]:
    with transaction(world.db) as session:
        rows = session.execute(
            select(col(Draft.id), col(Draft.state)).where(col(Draft.id).in_(ids))
        )
        return {int(i): str(s) for i, s in rows}


def _posting_with_lease(world: FakeWorld) -> int:
    with transaction(world.db) as session:
        return len(
            session.scalars(
                select(col(Draft.id)).where(
                    col(Draft.state) == DraftState.POSTING,
                    col(Draft.lease_owner).is_not(None),
                )
            ).all()
        )


def _card_of(world: FakeWorld, draft_id: int) -> SlackMessage | None:
    with transaction(world.db) as session:
        draft = session.get(Draft, draft_id)
        card = session.get(SlackMessage, draft.card_id) if draft and draft.card_id else None
        return card if card is not None and card.ts else None


def _ephemerals(slack: FakeSlack, user: str) -> list[dict[str, object]]:
    return [e for e in list(slack.ephemerals) if e["user"] == user]


def _press(race: Race, draft_id: int, action: DraftAction) -> None:
    """Bob presses `action` on the draft's card, and his answer arrives."""
    slack = race.world.slack
    card = _card_of(race.world, draft_id)
    assert card is not None
    seen = len(_ephemerals(slack, APPROVER))
    reply = race.approver.click(channel=card.channel, ts=str(card.ts), action_id=action)
    assert reply.status_code == 200
    slack.wait_for(lambda s: len(_ephemerals(s, APPROVER)) > seen, timeout=15)


def _approved_drafts(race: Race, tag: str, count: int) -> list[int]:
    """`count` drafts by alice, approved by bob on their cards: the publisher takes them now."""
    world = race.world
    author = Person(AUTHOR, "alice")
    ids: list[int] = []
    for i in range(count):
        text = f"Storm update {tag}.{i}: crews are out, we'll post again within the hour"
        request = DraftRequest(account="acme", segment="customer_relations", text=text)
        draft = world.runtime.services.drafts.create(author=author, request=request)
        assert draft.id is not None
        race.by_text[text] = draft.id
        ids.append(draft.id)
    world.slack.wait_for(lambda _: all(_card_of(world, i) for i in ids), timeout=15)
    for draft_id in ids:
        _press(race, draft_id, DraftAction.APPROVE)
        state = _states(world, {draft_id})[draft_id]
        assert state != DraftState.PENDING, _ephemerals(world.slack, APPROVER)[-1]["text"]
    return ids


def _freeze(race: Race) -> Confirmation:
    """The admin freezes everything; returns the confirmation as it reached Slack."""
    slack = race.world.slack
    seen = len(_ephemerals(slack, ADMIN))

    def confirmation() -> dict[str, object] | None:
        said = _ephemerals(slack, ADMIN)[seen:]
        return next((e for e in said if FROZEN_NOTE in str(e["text"])), None)

    reply = race.admin.command("/brand", "freeze all Storm drill", channel=OPS)
    assert reply.status_code == 200
    slack.wait_for(lambda _: confirmation() is not None, timeout=30)
    returned = time.time()
    found = confirmation()
    assert found is not None
    ts = found.get("ts")
    at = float(str(ts)) if ts else returned  # via response_url the fake keeps no time
    posting = race.watch.posting_at(str(ts) if ts else None)
    return Confirmation(str(found["text"]), at, posting if posting is not None else set(), [])


def _settle(race: Race, confirmation: Confirmation, seen_before: int) -> None:
    """Wait until nothing is being posted: no leased POSTING draft, X done with every request."""
    world = race.world

    def settled(_: FakeSlack) -> bool:
        return _posting_with_lease(world) == 0 and all(r.done for r in world.x.post_records)

    world.slack.wait_for(settled, timeout=30)
    said = _ephemerals(world.slack, ADMIN)[seen_before:]
    confirmation.replies = [str(e["text"]) for e in said]


def _unfreeze(race: Race) -> None:
    slack = race.world.slack
    seen = len(_ephemerals(slack, ADMIN))
    reply = race.admin.command("/brand", "unfreeze all", channel=OPS)
    assert reply.status_code == 200
    slack.wait_for(lambda s: len(_ephemerals(s, ADMIN)) > seen, timeout=15)


def _named(text: str) -> set[int]:
    return {int(m) for m in DRAFT_REF.findall(text)}


def _check(race: Race, conf: Confirmation, records: list[PostRecord]) -> list[str]:
    """What the confirmation got wrong about the posts X saw (empty: nothing)."""
    problems: list[str] = []

    def draft(record: PostRecord) -> int:
        return race.by_text.get(record.text, -1)

    for r in records:
        if r.arrived > conf.at:
            problems.append(
                f"(a) the POST of #{draft(r)} arrived at X {r.arrived - conf.at:.3f}s "
                "after the confirmation"
            )
    must: dict[int, str] = {}
    for r in records:
        if r.created is not None and r.created > conf.at:
            must.setdefault(draft(r), f"created at X {r.created - conf.at:.3f}s after it")
        if r.arrived <= conf.at and (r.answered is None or r.answered > conf.at):
            must.setdefault(draft(r), "X had not answered when it was sent")
    finally_ = _states(race.world, conf.posting)
    for draft_id in conf.posting:
        if finally_.get(draft_id) in (DraftState.POSTED, DraftState.POSTING):
            must.setdefault(draft_id, f"POSTING when it was sent, now {finally_[draft_id]}")
    named = _named(conf.text)
    for draft_id, why in sorted(must.items()):
        if draft_id not in named:
            problems.append(f"(b) #{draft_id} is not named ({why})")
    if must and not any(words in conf.text for words in ON_ITS_WAY):
        problems.append("(b) it does not say what is on its way to X")
    if len(conf.replies) != 1:
        problems.append(f"(c) {len(conf.replies)} replies to the command: {conf.replies}")
    if problems:
        problems.append(f"   confirmation: {conf.text!r}")
    return problems


def _rounds(race: Race, rounds: int, seed: int) -> list[str]:
    """Play `rounds` freezes at random moments; return what went wrong, round by round."""
    rng = random.Random(seed)
    x_rng = random.Random(seed + 1)
    race.world.x.post_delays(
        before_create=lambda: x_rng.uniform(0.1, 0.6),
        before_answer=lambda: x_rng.uniform(0.1, 0.4),
    )
    failures: list[str] = []
    for number in range(rounds):
        _approved_drafts(race, f"{seed}.{number}", DRAFTS_PER_ROUND)
        time.sleep(rng.uniform(0.0, 1.5))  # the random moment of the freeze, not a wait
        seen = len(_ephemerals(race.world.slack, ADMIN))
        conf = _freeze(race)
        _settle(race, conf, seen)
        problems = _check(race, conf, race.world.x.post_records)
        if problems:
            failures.append(f"round {number + 1}:\n  " + "\n  ".join(problems))
        _unfreeze(race)  # what the freeze held stays held (state HELD): not posted later
    return failures


# -- the tests --------------------------------------------------------------------------------


def test_no_post_starts_after_a_freeze_is_confirmed(race: Race) -> None:
    failures = _rounds(race, ROUNDS, seed=7)
    posted = len(race.world.x.post_records)
    assert 0 < posted < ROUNDS * DRAFTS_PER_ROUND  # posts went out, and freezes held some
    assert not failures, f"{len(failures)} of {ROUNDS} rounds failed:\n" + "\n".join(failures)


def test_no_post_starts_after_a_freeze_that_stalls_after_reading_the_clock(
    database_url: str,
) -> None:
    world = FakeWorld(config=_config(), database_url=database_url, clock=PausingClock())
    with _running(world) as race:
        failures = _rounds(race, PAUSED_ROUNDS, seed=11)
        assert len(race.world.x.post_records) > 0
        assert not failures, f"{len(failures)} of {PAUSED_ROUNDS} rounds failed:\n" + "\n".join(
            failures
        )


def test_a_post_that_outlives_the_x_timeout_is_named_in_the_confirmation(
    database_url: str,
) -> None:
    world = FakeWorld(config=_config(), database_url=database_url, x_timeout_seconds=1.0)
    with _running(world) as race:
        x = race.world.x
        x.post_delays(before_create=1.6)  # X stores it 0.6 s after the gateway gave up
        (draft_id,) = _approved_drafts(race, "timeout", 1)
        (text,) = [t for t, i in race.by_text.items() if i == draft_id]
        x.wait_for(lambda: len(x.post_records) == 1, timeout=15)
        seen = len(_ephemerals(race.world.slack, ADMIN))
        conf = _freeze(race)
        x.wait_for(lambda: all(r.done for r in x.post_records), timeout=15)
        (record,) = x.post_records
        assert record.created is not None and record.tweet_id is not None
        _settle(race, conf, seen)
        problems = []
        if draft_id not in _named(conf.text):
            problems.append(f"#{draft_id} is not named: {conf.text!r}")
        if not any(words in conf.text for words in ON_ITS_WAY):
            problems.append(f"it does not say it is on its way to X: {conf.text!r}")
        if len(conf.replies) != 1:
            problems.append(f"{len(conf.replies)} replies to the command: {conf.replies}")

        # Lifted and released, the draft is found on X, never posted a second time.
        _unfreeze(race)
        world.slack.wait_for(lambda _: _posting_with_lease(world) == 0, timeout=15)
        if _states(world, {draft_id})[draft_id] == DraftState.HELD:
            _release(race, draft_id)
        unsettled = {DraftState.APPROVED, DraftState.POSTING}
        world.slack.wait_for(
            lambda _: _states(world, {draft_id})[draft_id] not in unsettled, timeout=30
        )
        with transaction(world.db) as session:
            draft = session.get(Draft, draft_id)
            assert draft is not None
        if draft.state == DraftState.POSTED and draft.tweet_id != record.tweet_id:
            problems.append(f"posted as {draft.tweet_id}, but X has it as {record.tweet_id}")
        posts = [r for r in x.post_records if r.text == text]
        if len(posts) != 1:
            problems.append(f"X got {len(posts)} POSTs of it")
        tweets = [t for t in x.posted_by("acme") if x.original_text(t["id"]) == text]
        if len(tweets) != 1:
            problems.append(f"X has {len(tweets)} tweets with its text")
        assert not problems, "\n".join([*problems, f"the draft ended {draft.state}"])


def _release(race: Race, draft_id: int) -> None:
    """Bob releases the held draft with the Release button on its card."""
    world = race.world

    def release_shown(_: FakeSlack) -> bool:
        card = _card_of(world, draft_id)
        if card is None:
            return False
        blocks = world.slack.message(card.channel, str(card.ts)).get("blocks") or []
        return DraftAction.RELEASE in str(blocks)

    world.slack.wait_for(release_shown, timeout=15)
    _press(race, draft_id, DraftAction.RELEASE)
