"""The services on a real database against the fake Slack and fake X, with no Bolt and no HTTP into
the app: for service tests and benchmarks that call DraftService, Publisher, Outbox,
FreezeService, Ingestor, MentionService and the App Home directly.

`start_fakes` starts FakeSlack and FakeX with the config's accounts able to post;
`build_services` wires one ServiceContext and every service on an engine and a clock the caller
owns, as `bot.runtime.build_runtime` does; `add_draft` and `add_mention` put a draft or a
mention in any state straight into the database, each with its card.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlmodel import SQLModel, col

from bot.alerts.outside_posts import OutsidePostService
from bot.alerts.spikes import SpikeService
from bot.core.audit_report import entries_of
from bot.core.clock import Clock
from bot.core.context import OnContext, ServiceContext
from bot.core.db import transaction
from bot.core.models import (
    AuditEntry,
    Draft,
    DraftApproval,
    DraftEdit,
    DraftState,
    Mention,
    MentionState,
    SlackMessage,
)
from bot.core.outbox import Outbox
from bot.drafts.publisher import Publisher
from bot.drafts.service import APPROVAL_CARD, DraftService
from bot.fakes.slack_api import FakeSlack
from bot.fakes.world import APP_SLACK_METHODS, BOT_TOKEN, X_BEARER, register_accounts
from bot.fakes.x_api import FakeX
from bot.freeze.held_queue import HeldQueueService
from bot.freeze.service import FreezeService
from bot.home.service import HomeService
from bot.home.tabs import HomeTabs
from bot.mentions.history import AuthorHistory
from bot.mentions.inbox import InboxService
from bot.mentions.ingest import Ingestor
from bot.mentions.service import CardRequest, MentionService, create_cards
from bot.mentions.surge import SurgeService
from bot.mentions.timers import ResponseTimers
from bot.runtime import posting_credentials, wire
from bot.slack.clicks import Click, Person
from bot.slack.client import interactive_client, outbox_client
from bot.steering.service import SteeringService
from bot.x.budget import XBudgetService
from bot.x.gateway import XGateway
from policies.config import BrandConfig
from policies.lint import text_fingerprint

OWNER = "services-under-test"  # the lease owner of every worker a kit builds
Row = TypeVar("Row", bound=SQLModel)
SOMEONE = Person("U0AUTHOR", "author")  # who wrote a draft, when a test does not care


@dataclass
class Fakes:
    """A running FakeSlack and FakeX, and the posting credentials of every account."""

    slack: FakeSlack
    x: FakeX
    env: dict[str, str]

    def stop(self) -> None:
        APP_SLACK_METHODS.update(call.method for call in self.slack.calls)
        self.slack.stop()
        self.x.stop()


def start_fakes(config: BrandConfig, clock: Clock) -> Fakes:
    """The fakes the services talk to; the fake X dates its rate-limit windows by `clock`."""
    slack = FakeSlack(bot_token=BOT_TOKEN)
    x = FakeX(bearer_token=X_BEARER, now=lambda: clock.now().timestamp())
    slack.start()
    x.start()
    return Fakes(slack=slack, x=x, env=register_accounts(x, config))


@dataclass
class ServiceKit(OnContext):
    """Every service on one database, clock and pair of fakes, with what a test needs to drive
    them: people, clicks on cards, rows read back, the outbox drained, the audit log."""

    config: BrandConfig
    fakes: Fakes
    ctx: ServiceContext
    outbox: Outbox
    drafts: DraftService
    publisher: Publisher
    freeze: FreezeService
    held_queue: HeldQueueService
    mentions: MentionService
    authors: AuthorHistory
    inbox: InboxService
    ingestor: Ingestor
    steering: SteeringService
    homes: HomeService
    tabs: HomeTabs
    timers: ResponseTimers
    outside_posts: OutsidePostService
    spikes: SpikeService
    x_budget: XBudgetService
    surges: SurgeService
    _tweet_ids: Iterator[int] = field(
        default_factory=lambda: itertools.count(1_790_000_000_000_000_001), repr=False
    )

    @property
    def slack(self) -> FakeSlack:
        return self.fakes.slack

    @property
    def x(self) -> FakeX:
        return self.fakes.x

    # -- people and clicks ----------------------------------------------------------------

    def person(self, user_id: str) -> Person:
        """Someone Slack knows (so the audit log has a name): U0BOB is "bob"."""
        name = user_id.removeprefix("U0").lower()
        if user_id not in self.slack.users:
            self.slack.add_user(user_id, name)
        return Person(user_id, name)

    def click(self, user_id: str, card: SlackMessage, value: str | None = None) -> Click:
        """A press on a card as Slack's envelope reports it: where the card is in Slack."""
        assert card.ts is not None, f"card {card.id} is not in Slack yet: deliver() first"
        return Click(self.person(user_id), card.channel, card.ts, value)

    def on_draft(self, user_id: str, draft: Draft, *, text_hash: str | None = None) -> Click:
        """A button on the draft's approval card, carrying the text the card showed."""
        value = f"{draft.id}:{text_hash or draft.text_hash}"
        return self.click(user_id, self.card(draft.card_id), value)

    def on_mention(self, user_id: str, mention: Mention) -> Click:
        return self.click(user_id, self.card(mention.card_id), mention.id)

    # -- rows -------------------------------------------------------------------------------

    def add_draft(
        self,
        state: DraftState = DraftState.PENDING,
        *,
        segment: str = "customer_relations",
        text: str = "Back online now: thanks for bearing with us",
        author: str = "U0ALICE",
        approved_by: Iterable[str] = (),
        edited_by: Iterable[str] = (),
    ) -> Draft:
        """A draft in `state`, due now, with its approval card posted to Slack."""
        draft = add_draft(
            self.engine,
            state=state,
            at=self.clock.now(),
            channel=self.ctx.segments.channel(segment),
            segment=segment,
            author=self.person(author),
            text=text,
            approved_by=approved_by,
            edited_by=edited_by,
            card_in_sync=False,
        )
        self.deliver()
        return self.draft(draft.id)

    def add_mention(
        self,
        text: str = "@acme is the app down?",
        *,
        segment: str = "customer_relations",
        state: MentionState = MentionState.OPEN,
        claimed_by: str | None = None,
    ) -> Mention:
        """A mention in `state`, with its card posted to its segment's channel."""
        mention = add_mention(
            self.engine,
            tweet_id=str(next(self._tweet_ids)),
            at=self.clock.now(),
            text=text,
            segment=segment,
            channel=self.ctx.segments.channel(segment),
            state=state,
            claimed_by=claimed_by,
        )
        self.deliver()
        return self.mention(mention.id)

    def draft(self, draft_id: int | None) -> Draft:
        return self._row(Draft, draft_id)

    def mention(self, mention_id: str) -> Mention:
        return self._row(Mention, mention_id)

    def card(self, card_id: int | None) -> SlackMessage:
        return self._row(SlackMessage, card_id)

    def _row(self, model: type[Row], key: object) -> Row:
        """The row as the database has it now."""
        with transaction(self.engine) as session:
            row = session.get(model, key)
            assert row is not None, f"no {model.__name__} {key}"
            return row

    def messages(self, kind: str) -> list[SlackMessage]:
        """Every outbox row of this kind, oldest first."""
        with transaction(self.engine) as session:
            query = select(SlackMessage).where(col(SlackMessage.kind) == kind)
            return list(session.scalars(query.order_by(col(SlackMessage.id))))

    def audit(self, action: str | None = None, *, subject: str | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first, of one action and/or one subject."""
        with transaction(self.engine) as session:
            return entries_of(session, action=action, subject=subject)

    # -- workers ----------------------------------------------------------------------------

    def deliver(self, *, rounds: int = 100) -> int:
        """Run the outbox until nothing due is left; return the messages sent."""
        passes = (self.outbox.deliver_due() for _ in range(rounds))
        return sum(itertools.takewhile(bool, passes))


def build_services(
    config: BrandConfig,
    *,
    engine: Engine,
    clock: Clock,
    fakes: Fakes,
    x_timeout: float = 10.0,
    paced: bool = False,
) -> ServiceKit:
    """The services as `build_runtime` wires them, on this engine and clock, against the fakes.
    The engine must be migrated and keyed for the audit log (`audit.use_key`). `paced`: the
    outbox keeps to app.yaml's slack_pacing (off by default: with a FakeClock that does not
    move, a test could send only a burst's worth into a channel)."""
    wired = wire(
        config,
        engine=engine,
        clock=clock,
        client=interactive_client(token=BOT_TOKEN, base_url=fakes.slack.url),
        outbox_client=outbox_client(token=BOT_TOKEN, base_url=fakes.slack.url),
        gateway=XGateway(
            bearer_token=X_BEARER,
            api_url=fakes.x.url,
            credentials=posting_credentials(config, fakes.env),
            timeout=x_timeout,
        ),
        owner=OWNER,
        x_timeout=x_timeout,
    )
    if not paced:
        wired.outbox.pacing = None
    services = wired.services
    return ServiceKit(
        config=config,
        fakes=fakes,
        ctx=wired.ctx,
        outbox=wired.outbox,
        drafts=services.drafts,
        publisher=wired.publisher,
        freeze=services.freeze,
        held_queue=services.held_queue,
        mentions=services.mentions,
        authors=services.authors,
        inbox=services.inbox,
        ingestor=wired.ingestor,
        steering=services.steering,
        homes=services.homes,
        tabs=wired.homes,
        timers=services.timers,
        outside_posts=services.outside_posts,
        spikes=services.spikes,
        x_budget=services.x_budget,
        surges=services.surges,
    )


# -- row factories: straight into the database, no service involved ------------------------


def add_draft(
    engine: Engine,
    *,
    state: DraftState,
    at: datetime,
    channel: str = "C0CUSTOMER",
    segment: str = "customer_relations",
    account: str = "acme",
    author: Person = SOMEONE,
    text: str = "hello",
    approved_by: Iterable[str] = (),
    edited_by: Iterable[str] = (),
    card_in_sync: bool = True,
) -> Draft:
    """A draft in `state`, due at `at`, written by `author` (and `edited_by`), with an approval
    of its text by each of `approved_by`, and its approval card: as Slack shows it already
    (`card_in_sync`), or queued for the outbox to post."""
    digest = text_fingerprint(text)
    with transaction(engine) as session:
        card = SlackMessage(
            kind=APPROVAL_CARD,
            subject_id="",
            channel=channel,
            pending=not card_in_sync,
            synced_revision=0 if card_in_sync else -1,
            due_at=at,
            created_at=at,
        )
        session.add(card)
        session.flush()
        draft = Draft(
            account=account,
            segment=segment,
            author_id=author.user_id,
            author_name=author.user_name,
            text=text,
            text_hash=digest,
            state=state,
            due_at=at,
            card_id=card.id,
            created_at=at,
            updated_at=at,
        )
        session.add(draft)
        session.flush()
        assert draft.id is not None
        card.subject_id = str(draft.id)
        for editor in (author.user_id, *edited_by):
            session.add(
                DraftEdit(
                    draft_id=draft.id, editor_id=editor, editor_name=editor, text_hash=digest, at=at
                )
            )
        for approver in approved_by:
            session.add(
                DraftApproval(
                    draft_id=draft.id,
                    approver_id=approver,
                    approver_name=approver,
                    text_hash=digest,
                    at=at,
                )
            )
        return draft


def add_mention(
    engine: Engine,
    *,
    tweet_id: str,
    at: datetime,
    text: str,
    segment: str,
    channel: str,
    account: str = "acme",
    author_handle: str = "dana",
    author_id: str = "200001",
    state: MentionState = MentionState.OPEN,
    claimed_by: str | None = None,
) -> Mention:
    """A mention of `account` in `segment` and `state`, with its card queued in `channel`."""
    closed = state in (MentionState.RESOLVED, MentionState.DISMISSED)
    with transaction(engine) as session:
        mention = Mention(
            id=tweet_id,
            account=account,
            author_id=author_id,
            author_handle=author_handle,
            text=text,
            url=f"https://x.com/{author_handle}/status/{tweet_id}",
            tweeted_at=at,
            conversation_id=tweet_id,
            sentiment=0.0,
            found_by=f"mentions:{account}",
            segment=segment,
            route_reason="added by a test",
            state=state,
            claimed_by=claimed_by,
            claimed_at=at if claimed_by else None,
            closed_by="U0ADMIN" if closed else None,
            closed_at=at if closed else None,
            ingested_at=at,
        )
        session.add(mention)
        session.flush()
        create_cards(session, [CardRequest(tweet_id, tweet_id, channel)], now=at)
    with transaction(engine) as session:
        stored = session.get(Mention, tweet_id)
        assert stored is not None
        return stored
