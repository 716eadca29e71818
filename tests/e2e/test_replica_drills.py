"""Fault drills on real `brandbot run` processes: two replicas behind one PostgreSQL, against the
fake Slack and fake X on loopback. A replica SIGKILLed while it polls X, while it claims, while it
posts (X created the tweet, its answer never came back), and every app connection dropped by the
server (`pg_terminate_backend`; a whole `pg_ctlcluster restart` only with
BRANDBOT_DRILL_PG_RESTART=1). After each: every mention carded exactly once,
every approved draft posted exactly once, the audit chain verifies. And on SQLite, which runs as
one process, a second `run` against the same file is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlmodel import col
from support import TEST_CONFIG, healthy_port, run_env, served_port

from bot.core.audit_report import entries_of
from bot.core.clock import utcnow
from bot.core.db import make_engine, transaction
from bot.core.leader import PRESENCE_PREFIX
from bot.core.models import Draft, DraftState, Mention, SlackMessage
from bot.fakes.services import add_draft
from bot.fakes.slack_api import FakeSlack, SlackCall
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import register_accounts
from bot.fakes.x_api import FakeX, XCall
from bot.slack.cards.mention_card import MentionAction
from policies.config import parse_config

BOT_TOKEN = "xoxb-drill-token-3c1e"
SIGNING_SECRET = "drill-signing-secret-7a0d"
X_BEARER = "drill-bearer-19bf"
AUDIT_KEY = "drill-audit-key-5e2b8c1f0a9d4e7b6c3a2f1e0d9c8b7a"
POLL_SECONDS = 5  # the shortest app.yaml allows: a takeover must come within two of these
CONFIG = TEST_CONFIG.replace("poll_seconds: 15", f"poll_seconds: {POLL_SECONDS}")
RUN = [sys.executable, "-m", "bot.cli", "run", "--http"]
WAIT = 30.0  # seconds: generous bounds for a loaded machine; the drills end as soon as done


def _until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> float:
    """Seconds until `condition()` held (polled: the processes are not ours to signal us)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"never happened: {what}"
        time.sleep(0.05)
    return time.monotonic() - start


class Replica:
    """One `brandbot run --http --port 0` process, its output in its own log: it binds a free
    port itself and names it there (see `served_port`)."""

    def __init__(self, name: str, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self._port: int | None = None
        self.log = cwd / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*RUN, "--host", "127.0.0.1", "--port", "0"],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def port(self) -> int | None:
        if self._port is None:
            self._port = served_port(self.log)
        return self._port

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} does not serve yet"
        return f"http://127.0.0.1:{self.port}/slack/events"

    def healthy(self) -> bool:
        assert self.proc.poll() is None, f"{self.name} exited:\n{self.log.read_text()[-3000:]}"
        return healthy_port(self.log) is not None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, as a supervisor stops it: it must exit 0."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"{self.name} ignored SIGTERM") from None
        assert code == 0, self.log.read_text()[-3000:]


class ReadGate:
    """Holds the fake X's answers to mentions reads while shut, so a drill can kill the leader
    in the middle of a poll."""

    def __init__(self) -> None:
        self.shut = False
        self.arrived = threading.Event()
        self.opened = threading.Event()

    def __call__(self, call: XCall) -> None:
        if self.shut and "/mentions" in call.path:
            self.arrived.set()
            self.opened.wait(WAIT)


class PostGate:
    """Holds the fake Slack's answer to the post of a card with these words (Slack has stored
    it), so a drill can kill the replica posting it."""

    def __init__(self, words: str) -> None:
        self.words = words
        self.arrived = threading.Event()
        self.opened = threading.Event()

    def __call__(self, call: SlackCall) -> None:
        if call.method == "chat.postMessage" and self.words in str(call.args.get("blocks")):
            self.arrived.set()
            self.opened.wait(WAIT)


def _leader_pid(database_url: str) -> int | None:
    """The OS pid of the replica holding the poller's advisory lock (its connection's name)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            name = conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                    " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                    " AND a.datname = current_database() AND a.application_name LIKE :app"
                ),
                {"app": f"{PRESENCE_PREFIX}%"},
            ).scalar()
    finally:
        engine.dispose()
    return _pid_of(name.removeprefix(PRESENCE_PREFIX)) if name else None


def _pid_of(owner: str) -> int:
    """The pid in a replica's owner name (host:pid:nonce)."""
    return int(owner.split(":")[1])


def _cards_of(slack: FakeSlack, tweet_text: str) -> int:
    return sum(tweet_text in str(c.args.get("blocks")) for c in slack.calls_to("chat.postMessage"))


def _carded_once(slack: FakeSlack, texts: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        counts = {t: _cards_of(slack, t) for t in texts}
        assert max(counts.values()) <= 1, f"a mention carded twice: {counts}"
        return min(counts.values()) == 1

    return check


def _card_of(slack: FakeSlack, tweet_text: str) -> tuple[str, str]:
    (call,) = [c for c in slack.calls_to("chat.postMessage") if tweet_text in str(c.args["blocks"])]
    return str(call.response["channel"]), str(call.response["ts"])


def _terminate_app_connections(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
            conn.commit()
    finally:
        engine.dispose()
    return int(ended or 0)


@contextmanager
def _replicas(
    tmp_path: Path, database_url: str
) -> Iterator[tuple[FakeSlack, FakeX, dict[str, str]]]:
    config = tmp_path / "app.yaml"
    config.write_text(CONFIG)
    with FakeSlack(bot_token=BOT_TOKEN) as slack, FakeX(bearer_token=X_BEARER) as x:
        env = run_env(
            slack.url,
            x.url,
            database_url,
            config,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            X_BEARER_TOKEN=X_BEARER,
            BRANDBOT_AUDIT_KEY=AUDIT_KEY,
            **register_accounts(x, parse_config(CONFIG, filename="app.yaml")),
        )
        yield slack, x, env


def _started(names: str, env: dict[str, str], cwd: Path, running: ExitStack) -> list[Replica]:
    """One replica per letter, started at once (one start-up to wait for), each stopped with
    SIGTERM when `running` closes."""
    replicas = [Replica(name, env, cwd) for name in names]
    for replica in replicas:
        running.callback(replica.stop)
    for replica in replicas:
        _until(replica.healthy, f"{replica.name} healthy")
    return replicas


def _audit_verifies(env: dict[str, str], cwd: Path) -> None:
    verified = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "verify"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain ok" in verified.stdout


def test_replicas_survive_sigkill_mid_poll_and_mid_claim_and_dropped_connections(
    tmp_path: Path, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (the suite's PostgreSQL run drills them)")
    postgres_url = database_url
    with _replicas(tmp_path, postgres_url) as (slack, x, env), ExitStack() as running:
        slack.add_user("U0ALICE", "alice")
        slack.add_user("U0BOB", "bob")
        slack.set_usergroup("S0CARE", ["U0BOB"])
        gate = ReadGate()
        x.on_call = gate
        texts = ["@acme outage in Leeds"]
        x.add_tweet(author="dana", text=texts[0])
        # Four replicas: each drill kills one.
        alive = _started("abcd", env, tmp_path, running)
        _until(_carded_once(slack, texts), "the first mention carded")

        def pid_holder(pid: int | None) -> Replica:
            (found,) = [r for r in alive if r.proc.pid == pid]
            return found

        def kill(replica: Replica) -> None:
            replica.kill()
            alive.remove(replica)

        leader = pid_holder(_leader_pid(postgres_url))

        # 1. SIGKILL the leader while it waits for X's answer to its mentions poll.
        gate.shut = True
        texts += ["@acme refund never arrived", "@acme outage again in York"]
        for n, words in enumerate(texts[1:]):
            x.add_tweet(author=f"fan{n}", text=words)
        assert gate.arrived.wait(WAIT), "the leader never polled"
        kill(leader)
        killed_at = time.monotonic()
        gate.shut = False
        gate.opened.set()
        _until(lambda: _leader_pid(postgres_url) in {r.proc.pid for r in alive}, "another leads")
        took_over = time.monotonic() - killed_at
        assert took_over <= 2 * POLL_SECONDS, f"took over after {took_over:.1f} s"
        _until(_carded_once(slack, texts), "the mentions the dead leader was fetching carded")

        # 2. SIGKILL a replica right after it acknowledged a claim; the claim is then retried
        #    on the other replica: one owner, one audit entry.
        channel, ts = _card_of(slack, texts[1])
        clicking, retrying = alive[0], alive[1]
        alice = {
            r.name: SlackUser(
                app_url=r.url,
                signing_secret=SIGNING_SECRET,
                slack=slack,
                user_id="U0ALICE",
                name="alice",
            )
            for r in (clicking, retrying)
        }

        def claim(via: Replica) -> int:
            clicked = alice[via.name].click(channel=channel, ts=ts, action_id=MentionAction.CLAIM)
            return int(getattr(clicked, "status_code", 0))

        assert claim(clicking) == 200
        kill(clicking)
        assert claim(retrying) == 200
        engine = make_engine(postgres_url)
        running.callback(engine.dispose)

        def claimed() -> bool:
            with transaction(engine) as session:
                mention = session.scalars(
                    select(Mention).where(col(Mention.text) == texts[1])
                ).one()
                claims = entries_of(
                    session, action="mention.claim", subject=f"mention:{mention.id}"
                )
            assert len(claims) <= 1, "claimed twice"
            return mention.claimed_by == "U0ALICE" and len(claims) == 1

        _until(claimed, "the mention claimed once")

        # 3. SIGKILL the replica posting a draft after X created the tweet, before X answered:
        #    the other replica takes the draft over at once (its owner is gone from the
        #    database), finds the tweet on the account and records it — posted once.
        x.post_delays(before_answer=WAIT)
        first_post = "Leeds is fixed: thank you all for bearing with us"
        killed = add_draft(
            engine,
            state=DraftState.APPROVED,
            at=utcnow(),
            text=first_post,
            approved_by=["U0BOB"],
            card_in_sync=False,
        )
        _until(lambda: len(x.posted_by("acme")) == 1, "the tweet created on X")
        with transaction(engine) as session:
            posting = session.get(Draft, killed.id)
            assert posting is not None and posting.lease_owner is not None
        kill(pid_holder(_pid_of(posting.lease_owner)))
        x.post_delays()

        def recorded() -> bool:
            with transaction(engine) as session:
                draft = session.get(Draft, killed.id)
                return draft is not None and draft.state == DraftState.POSTED

        _until(recorded, "the killed replica's post recorded by the other")
        assert [t["text"] for t in x.posted_by("acme")] == [first_post]

        # 4. Every app connection dropped by the server while a draft waits to post and a
        #    mention arrives: both go through once the replicas reconnect.
        draft = add_draft(
            engine,
            state=DraftState.APPROVED,
            at=utcnow(),
            text="Leeds is back online: thank you for your patience",
            approved_by=["U0BOB"],
            card_in_sync=False,
        )
        assert _terminate_app_connections(postgres_url) >= 1
        texts.append("@acme outage in Hull")
        x.add_tweet(author="erin", text=texts[-1])
        _until(lambda: len(x.posted_by("acme")) == 2, "the approved draft posted")
        _until(_carded_once(slack, texts), "the mention after the drop carded")

        # 5. Only when allowed: the whole PostgreSQL cluster restarted under the replicas.
        if os.environ.get("BRANDBOT_DRILL_PG_RESTART") == "1":
            version = next(iter(os.listdir("/etc/postgresql")))
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                check=True,
                timeout=120,
            )
            texts.append("@acme refund for order 77")
            x.add_tweet(author="finn", text=texts[-1])
            _until(_carded_once(slack, texts), "the mention after the restart carded", 60)

        with transaction(engine) as session:
            posted = session.get(Draft, draft.id)
            assert posted is not None and posted.state == DraftState.POSTED
        assert len(x.posted_by("acme")) == 2
        assert _carded_once(slack, texts)()
        running.close()  # the survivor stops cleanly (SIGTERM → exit 0)
        _audit_verifies(env, tmp_path)
        assert slack.violations == []


def test_a_second_run_against_one_sqlite_file_is_refused(tmp_path: Path, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only (the suite's SQLite run): PostgreSQL takes several replicas")
    sqlite_url = database_url
    with _replicas(tmp_path, sqlite_url) as (_, _x, env):
        first = Replica("first", env, tmp_path)
        try:
            _until(first.healthy, "the first run healthy")
            second = subprocess.run(
                [sys.executable, "-m", "bot.cli", "run", "--http", "--port", "0"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 2, second.stderr
            database = sqlite_url.removeprefix("sqlite:///")
            assert f"already serving the SQLite database {database}" in second.stderr
            assert f"pid {first.proc.pid}" in second.stderr
            assert first.healthy()  # the first one serves on, untouched
        finally:
            first.stop()


def test_a_replica_killed_mid_card_holds_its_channel_only_for_the_takeover_grace(
    tmp_path: Path, database_url: str
) -> None:
    """SIGKILL the replica posting a card after Slack stored it, before Slack answered: the
    other takes the card over once the takeover grace has passed (its owner is gone from the
    database), finds it by its metadata rather than posting it again, and the channel's next
    card follows, well before the 60 s lease would have run out."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (the suite's PostgreSQL run drills them)")
    postgres_url = database_url
    with _replicas(tmp_path, postgres_url) as (slack, x, env), ExitStack() as running:
        texts = ["@acme outage in Leeds"]
        held = PostGate("outage in Leeds")
        slack.on_call = held
        x.add_tweet(author="dana", text=texts[0])
        alive = _started("ab", env, tmp_path, running)
        assert held.arrived.wait(WAIT), "the card was never posted"
        engine = make_engine(postgres_url)
        running.callback(engine.dispose)
        with transaction(engine) as session:
            (card,) = session.scalars(
                select(SlackMessage).where(col(SlackMessage.lease_owner).is_not(None))
            ).all()
            owner, card_id = str(card.lease_owner), card.id
        (posting,) = [r for r in alive if r.proc.pid == _pid_of(owner)]
        posting.kill()
        killed_at = time.monotonic()
        held.opened.set()
        texts.append("@acme outage in Hull")
        x.add_tweet(author="erin", text=texts[-1])

        # Waited for past the lease, so that a channel held for all of it fails on the bound
        # below, with the time it took.
        _until(_carded_once(slack, texts), "the channel's next card", timeout=90)
        took = time.monotonic() - killed_at
        with transaction(engine) as session:
            recorded = session.get(SlackMessage, card_id)
            assert recorded is not None and recorded.ts is not None and not recorded.pending
        assert took < 45, f"the channel was held {took:.1f} s"  # the lease is 60 s
        assert slack.violations == []
    _audit_verifies(env, tmp_path)
