"""A whole brandbot on loopback: fake Slack, fake X, the real app behind its real HTTP server.

Used by the end-to-end tests, the benchmarks and `brandbot demo`, so all three exercise the same
code paths: HTTP to the fakes, signed requests into the Bolt app.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlmodel import col

from bot.core.clock import Clock, SystemClock
from bot.core.db import make_engine, transaction
from bot.core.models import Mention, SlackMessage
from bot.core.settings import Secret, Settings
from bot.fakes.slack_api import FakeSlack
from bot.fakes.slack_user import SlackUser
from bot.fakes.x_api import FakeX
from bot.mentions.ingest import PollResult
from bot.mentions.service import MENTION_CARD
from bot.runtime import Runtime, build_runtime
from bot.slack.server import HttpServer
from policies.config import BrandConfig

# Every Slack Web API method an app in a FakeWorld (or a service kit) called, over the whole test
# run: the test suite checks the manifest asks for a scope covering each (tests/conftest.py).
APP_SLACK_METHODS: set[str] = set()
BOT_TOKEN = "xoxb-fake-brandbot-token"
X_BEARER = "fake-x-bearer-token"


@dataclass
class FakeWorld:
    config: BrandConfig
    database_url: str
    clock: Clock = field(default_factory=SystemClock)
    engine: Engine | None = None
    signing_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    # Each world keys its own audit chain, as each deployment does with BRANDBOT_AUDIT_KEY.
    audit_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    env: dict[str, str] = field(default_factory=dict)
    x_timeout_seconds: float = 10.0  # the X gateway's per-request timeout (small in tests)
    shorten_links: bool = False  # the fake X rewrites links to t.co, as X does
    x_reply_rule: bool = True  # the fake X refuses replies to tweets that didn't summon us
    # the outbox paces itself by app.yaml's slack_pacing; off unless a test asks, as the fake
    # Slack enforces Slack's rate only when asked (a test may post many cards at one instant)
    paced: bool = False
    # given, the fake Slack serves Socket Mode too (an app connects with `Runtime.socket_mode`)
    app_token: str | None = None
    slack: FakeSlack = field(init=False)
    x: FakeX = field(init=False)
    runtime: Runtime = field(init=False)
    server: HttpServer = field(init=False)

    def start(self, *, workers: bool = False) -> FakeWorld:
        self.slack = FakeSlack(bot_token=BOT_TOKEN, app_token=self.app_token)
        self.slack.start()
        self.x = FakeX(
            bearer_token=X_BEARER,
            shorten_links=self.shorten_links,
            reply_rule=self.x_reply_rule,
            now=lambda: self.clock.now().timestamp(),  # X's resets in the app's time
        )
        self.x.start()
        self.env |= register_accounts(self.x, self.config)
        self.runtime = self.build_runtime()
        self.server = HttpServer(self.runtime.wsgi(), host="127.0.0.1", port=0).start()
        if workers:
            self.runtime.start_workers()
        return self

    def build_runtime(self) -> Runtime:
        """A fresh app process over the same database and fakes (restarts are tested this way)."""
        settings = Settings(
            slack_bot_token=Secret(BOT_TOKEN),
            slack_signing_secret=Secret(self.signing_secret),
            slack_api_url=self.slack.url,
            x_api_url=self.x.url,
            x_bearer_token=Secret(X_BEARER),
            audit_key=Secret(self.audit_key),
            x_timeout_seconds=self.x_timeout_seconds,
            database_url=self.database_url,
        )
        engine = self.engine or make_engine(self.database_url)
        self.engine = engine
        runtime = build_runtime(
            settings, self.config, clock=self.clock, engine=engine, env=self.env
        )
        if not self.paced:
            runtime.outbox.pacing = None
        return runtime

    def stop(self) -> None:
        self.runtime.stop()
        self.server.stop()
        APP_SLACK_METHODS.update(call.method for call in self.slack.calls)
        self.slack.stop()
        self.x.stop()
        if self.engine is not None:
            # Pooled connections would outlive the world: on PostgreSQL a test run would run
            # out of server connections.
            self.engine.dispose()

    @property
    def db(self) -> Engine:
        """The engine, once start() has made it."""
        assert self.engine is not None, "the world has not started"
        return self.engine

    def __enter__(self) -> FakeWorld:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def app_url(self) -> str:
        return self.server.url

    def user(self, user_id: str, name: str) -> SlackUser:
        self.slack.add_user(user_id, name)
        return SlackUser(
            app_url=self.app_url,
            signing_secret=self.signing_secret,
            slack=self.slack,
            user_id=user_id,
            name=name,
        )

    def poll(self) -> list[PollResult]:
        return self.runtime.ingestor.poll_due()

    def deliver(self, *, rounds: int = 1000) -> int:
        """Run the outbox until nothing due is left; return messages sent."""
        sent_total = 0
        for _ in range(rounds):
            sent = self.runtime.outbox.deliver_due()
            sent_total += sent
            if sent == 0:
                break
        return sent_total

    def card(self, mention_id: str) -> SlackMessage:
        """The live card of a mention."""
        with transaction(self.db) as session:
            mention = session.get(Mention, mention_id)
            assert mention is not None, f"no mention {mention_id}"
            card = session.get(SlackMessage, mention.card_id)
            assert card is not None
            return card

    def mention(self, mention_id: str) -> Mention:
        with transaction(self.db) as session:
            mention = session.get(Mention, mention_id)
            assert mention is not None, f"no mention {mention_id}"
            return mention

    def cards(self, kind: str = MENTION_CARD) -> list[SlackMessage]:
        """The app's messages of one kind (mention cards unless told), oldest first."""
        with transaction(self.db) as session:
            return list(
                session.scalars(
                    select(SlackMessage)
                    .where(col(SlackMessage.kind) == kind)
                    .order_by(col(SlackMessage.id))
                )
            )


def posting_env(prefix: str, user_id: str) -> dict[str, str]:
    """Fake OAuth 1.0a credentials for one account (X access tokens start with the user id)."""
    return {
        f"{prefix}_X_CONSUMER_KEY": f"ck-{prefix.lower()}",
        f"{prefix}_X_CONSUMER_SECRET": f"cs-{prefix.lower()}",
        f"{prefix}_X_ACCESS_TOKEN": f"{user_id}-at-{prefix.lower()}",
        f"{prefix}_X_ACCESS_TOKEN_SECRET": f"ats-{prefix.lower()}",
    }


def register_accounts(x: FakeX, config: BrandConfig) -> dict[str, str]:
    """Give each account of the config posting credentials on the fake X; the environment that
    holds them (`<PREFIX>_X_*`)."""
    env: dict[str, str] = {}
    for account in config.accounts:
        prefix = account.credentials_env
        creds = posting_env(prefix, x.add_user(account.handle))
        x.register_account(
            account.handle,
            consumer_key=creds[f"{prefix}_X_CONSUMER_KEY"],
            consumer_secret=creds[f"{prefix}_X_CONSUMER_SECRET"],
            access_token=creds[f"{prefix}_X_ACCESS_TOKEN"],
            access_token_secret=creds[f"{prefix}_X_ACCESS_TOKEN_SECRET"],
        )
        env |= creds
    return env
