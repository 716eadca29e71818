"""Wiring: one Runtime holds the engine, clients, services, workers and the Bolt app."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from sqlalchemy import Engine, text

from bot.alerts.outside_posts import (
    OUTSIDE_POST_ALERT,
    OutsidePostService,
    outside_post_renderer,
)
from bot.alerts.rendering import render_spike_alert
from bot.alerts.spikes import SPIKE_ALERT, SpikeService
from bot.core import audit, migrate
from bot.core.audit_report import AuditTrail
from bot.core.clock import Clock, SystemClock
from bot.core.context import OnContext, ServiceContext
from bot.core.db import make_engine, transaction
from bot.core.leader import Leader
from bot.core.outbox import Outbox, Renderer
from bot.core.segments import SegmentCatalog
from bot.core.settings import Settings, SettingsError
from bot.drafts.publisher import Publisher
from bot.drafts.rendering import (
    approval_card_posted,
    approval_card_renderer,
    author_dm_renderer,
)
from bot.drafts.service import APPROVAL_CARD, AUTHOR_DM, DraftService
from bot.freeze.held_queue import HELD_QUEUE, HeldQueueService, render_held_queue
from bot.freeze.service import FreezeService
from bot.home.content import HomeContent, Permalinks
from bot.home.service import HomeService
from bot.home.tabs import HomeTabs
from bot.mentions.history import AuthorHistory
from bot.mentions.inbox import ASSIGNMENT_DM, MENTION_NOTE, InboxService
from bot.mentions.inbox_rendering import assignment_dm_renderer, note_renderer
from bot.mentions.ingest import Ingestor
from bot.mentions.rendering import mention_card_renderer
from bot.mentions.service import MENTION_CARD, MentionService
from bot.mentions.surge import SURGE_SUMMARY, SurgeService
from bot.mentions.surge_rendering import surge_summary_renderer
from bot.mentions.timer_rendering import reminder_renderer
from bot.mentions.timers import RESPONSE_REMINDER, ResponseTimers
from bot.reports.digest import DigestWorker
from bot.reports.service import ReportService
from bot.services import Services
from bot.slack.answers import AnswersFirst
from bot.slack.client import interactive_client, outbox_client
from bot.slack.directory import SlackDirectory
from bot.slack.gate import ReplayGuard
from bot.slack.pacing import Rate
from bot.slack.server import wsgi_app
from bot.slack.socket import AnsweredSocketModeHandler
from bot.slack.team import TeamUrl
from bot.steering.rendering import render_announcement
from bot.steering.service import ANNOUNCEMENT, SteeringService
from bot.x.budget import BUDGET_ALERT, XBudgetService, budget_alert_renderer
from bot.x.gateway import PostingCredentials, XGateway
from bot.x.reads import ReadLedger
from policies.config import BrandConfig

log = logging.getLogger(__name__)
WORK_THREADS = 8  # Bolt's default is 5; as many as waitress has request threads
WORK_THREAD_NAME = "slack-work"


@dataclass
class Runtime(OnContext):
    settings: Settings
    config: BrandConfig
    ctx: ServiceContext
    client: WebClient
    outbox: Outbox
    ingestor: Ingestor
    publisher: Publisher
    homes: HomeTabs
    digests: DigestWorker
    services: Services
    bolt: App
    answers: AnswersFirst
    owner: str
    leader: Leader
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start_workers(
        self,
        *,
        poll: bool = True,
        deliver: bool = True,
        publish: bool = True,
        homes: bool = True,
        digests: bool = True,
    ) -> None:
        self._stop.clear()
        if deliver:
            self._spawn("outbox", self.outbox.run)
        if poll or publish or deliver:
            # The election's connection is also this replica's presence: a post or a card a
            # dead replica left half done is taken over soon, not when its lease runs out. A
            # replica that does not poll keeps the connection but never leads.
            self.leader.candidate = poll
            self.publisher.take_from_the_dead = publish
            self.outbox.take_from_the_dead = deliver
            self.leader.tick()  # lead at once if nobody does, before the first pass
            self._spawn("leader", self.leader.run)
        if poll:
            # Every replica runs a poller; only the elected one polls X (see bot/core/leader.py).
            self.ingestor.may_poll = self.leader.is_leader
            self._spawn("poller", self.ingestor.run)
        if publish:
            self._spawn("publisher", self.publisher.run)
        if homes:
            self._spawn("homes", self.homes.run)
        if digests:  # its own thread: an upload never delays a post or a card
            self._spawn("digests", self.digests.run)

    def _spawn(self, name: str, target: Callable[[threading.Event], object]) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self.answers.drain()  # the clicks' work still held starts now, and is not lost
        self._stop.set()
        self.outbox.wake()
        self.publisher.wake()
        self.homes.wake()
        self.digests.wake()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def healthy(self) -> bool:
        try:
            with transaction(self.engine) as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def socket_mode(self, app_token: str) -> SocketModeHandler:
        """Bolt's Socket Mode handler; the work waits for each ack as for an HTTP answer."""
        return AnsweredSocketModeHandler(self.bolt, app_token, answers=self.answers)

    def wsgi(self) -> Callable[..., Iterable[bytes]]:
        return wsgi_app(
            self.bolt,
            healthy=self.healthy,
            signing_secret=str(self.settings.slack_signing_secret),
            answers=self.answers,
        )


def build_runtime(
    settings: Settings,
    config: BrandConfig,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    upgrade_db: bool = True,
    socket_mode: bool = False,
    env: Mapping[str, str] | None = None,
) -> Runtime:
    # Imported here so `handlers` (which imports bot) stays out of bot's import graph.
    import handlers

    if not socket_mode and not settings.slack_signing_secret:
        # Without it no request could be verified: refuse to serve rather than trust any.
        raise SettingsError("SLACK_SIGNING_SECRET is required to serve Slack over HTTP")
    # Every action appends a keyed audit entry: without the key, refuse to start rather than
    # fail at the first click (or, worse, write entries anyone could recompute).
    audit_key = settings.audit_key_bytes()
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    audit.use_key(engine, audit_key)
    if upgrade_db:
        migrate.upgrade(engine)
    # The pid names the process behind a lease (an operator, or a drill, can find it).
    owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    base_url = settings.slack_api_base()
    client = interactive_client(token=settings.slack_bot_token, base_url=base_url)
    gateway = XGateway(
        bearer_token=settings.x_bearer_token,
        api_url=settings.x_api_url,
        credentials=posting_credentials(config, os.environ if env is None else env),
        timeout=settings.x_timeout_seconds,
    )
    wired = wire(
        config,
        engine=engine,
        clock=clock,
        client=client,
        outbox_client=outbox_client(token=settings.slack_bot_token, base_url=base_url),
        gateway=gateway,
        owner=owner,
        x_timeout=settings.x_timeout_seconds,
    )
    # Named, so logs say which lines came from listeners' work.
    work = ThreadPoolExecutor(WORK_THREADS, thread_name_prefix=WORK_THREAD_NAME)
    bolt = App(
        client=client,
        signing_secret=settings.slack_signing_secret or None,  # Socket Mode needs none
        # Each listener's ack runs in the request thread and answers Slack at once; the work
        # runs on its executor after the answer (handlers/acks.py).
        process_before_response=True,
        listener_executor=work,
        raise_error_for_unhandled_request=False,
    )
    answers = AnswersFirst(work, threads=WORK_THREADS)  # the work waits for Slack's answers
    handlers.register(bolt, wired.services, replays=ReplayGuard(engine), answers=answers)
    # The workers' passes wait for a burst's answers too (the leader's renewals do not: cheap,
    # and a lease must not lapse behind a stream of clicks).
    for worker in (wired.outbox, wired.publisher, wired.homes, wired.digests, wired.ingestor):
        worker.yield_to_answers = answers.wait_until_calm
    return Runtime(
        settings=settings,
        config=config,
        ctx=wired.ctx,
        client=client,
        outbox=wired.outbox,
        ingestor=wired.ingestor,
        publisher=wired.publisher,
        homes=wired.homes,
        digests=wired.digests,
        services=wired.services,
        bolt=bolt,
        answers=answers,
        owner=owner,
        leader=Leader(engine=engine, clock=clock, owner=owner, interval=config.poll_seconds),
    )


@dataclass(frozen=True)
class Wired:
    """The context, every service and every worker, built once and connected."""

    ctx: ServiceContext
    outbox: Outbox
    ingestor: Ingestor
    publisher: Publisher
    homes: HomeTabs
    services: Services
    digests: DigestWorker


def wire(
    config: BrandConfig,
    *,
    engine: Engine,
    clock: Clock,
    client: WebClient,
    outbox_client: WebClient,
    gateway: XGateway,
    owner: str,
    x_timeout: float,
) -> Wired:
    """Build the one ServiceContext, the services on it and the workers that serve them (the
    service tests build theirs here too, so they test what runs)."""
    segments = SegmentCatalog(config, engine=engine)
    gateway.record_reads_with(ReadLedger(engine=engine, clock=clock).record)  # X bills reads
    ctx = ServiceContext(
        engine=engine,
        clock=clock,
        segments=segments,
        directory=SlackDirectory(client=client, clock=clock),
    )
    team = TeamUrl(outbox_client)
    outbox = Outbox(
        engine=engine,
        client=outbox_client,
        clock=clock,
        renderers=_renderers(segments, clock, team),
        owner=owner,
        before_pass=[team.learn],  # mention cards link their reply's approval card
        on_first_post={APPROVAL_CARD: approval_card_posted},
        pacing=Rate(config.slack_pacing.messages_per_second, config.slack_pacing.burst),
    )
    drafts = DraftService(ctx, gateway=gateway)
    publisher = Publisher(
        ctx=ctx,
        gateway=gateway,
        owner=owner,
        approvals=drafts.approval_standing,
        x_timeout=x_timeout,
    )
    # a post handed to X just before a freeze may take this long to be answered
    freeze = FreezeService(ctx, in_flight_wait=x_timeout + 2)
    publisher.timers.append(freeze.lapse_expired)
    timers = ResponseTimers(ctx)
    publisher.timers.append(timers.run_due)  # response targets: database only, like the freeze's
    steering = SteeringService(ctx, client=client)
    homes = HomeTabs(
        ctx=ctx,
        client=outbox_client,  # no hidden retries: a failed publish waits in home_tab
        content=HomeContent(ctx, permalink=Permalinks(client)),
        owner=owner,
    )
    ctx.hooks.cards_changed = _both(outbox.wake, homes.changed)  # a card redrawn: homes too
    ctx.hooks.approved = publisher.wake
    mentions = MentionService(ctx)
    spikes = SpikeService(ctx, freeze=freeze)
    budget = XBudgetService(ctx)
    surges = SurgeService(ctx, mentions=mentions)
    # Before each outbox pass (outside any transaction): a channel's backlog past what Slack's
    # pace delivers in time folds into one summary before any of it is sent.
    outbox.before_pass.append(surges.before_pass)
    services = Services(
        mentions=mentions,
        authors=AuthorHistory(ctx, gateway=gateway),
        inbox=InboxService(ctx, mentions=mentions),
        drafts=drafts,
        freeze=freeze,
        held_queue=HeldQueueService(ctx, drafts=drafts),
        audit=AuditTrail(engine),
        segments=segments,
        steering=steering,
        homes=HomeService(ctx, drafts=drafts, steering=steering, tabs=homes, client=client),
        reports=ReportService(ctx),
        timers=timers,
        outside_posts=OutsidePostService(ctx, gateway=gateway),
        spikes=spikes,
        x_budget=budget,
        surges=surges,
    )
    ingestor = Ingestor(ctx, gateway=gateway, owner=owner)
    ingestor.after_poll.append(spikes.check)  # a storm is alerted within the poll that saw it
    ingestor.after_poll.append(budget.check)  # admins warned at warn_at_percent and at 100 %
    ingestor.searches_allowed = budget.searches_allowed  # at 100 %: mentions and own timelines
    # Fold right after a poll too: its cards fold before any is sent, and a surge ends on a
    # quiet poll (the outbox's hook runs only when something is due).
    ingestor.after_poll.append(surges.after_poll)
    digests = DigestWorker(ctx=ctx, client=outbox_client, owner=owner)
    return Wired(ctx, outbox, ingestor, publisher, homes, services, digests)


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        first()
        second()

    return call


def _renderers(segments: SegmentCatalog, clock: Clock, team: TeamUrl) -> dict[str, Renderer]:
    """What each kind of message the outbox sends shows, rendered from the database."""
    return {
        MENTION_CARD: mention_card_renderer(segments, team),
        APPROVAL_CARD: approval_card_renderer(segments, clock),
        AUTHOR_DM: author_dm_renderer,
        HELD_QUEUE: render_held_queue,
        ANNOUNCEMENT: render_announcement,
        ASSIGNMENT_DM: assignment_dm_renderer(segments),
        MENTION_NOTE: note_renderer,
        RESPONSE_REMINDER: reminder_renderer,
        OUTSIDE_POST_ALERT: outside_post_renderer,
        SPIKE_ALERT: render_spike_alert,
        BUDGET_ALERT: budget_alert_renderer(segments),
        SURGE_SUMMARY: surge_summary_renderer(segments),
    }


def posting_credentials(
    config: BrandConfig, env: Mapping[str, str]
) -> dict[str, PostingCredentials]:
    """Each account's posting keys, where the environment holds them."""
    return {
        a.handle: creds
        for a in config.accounts
        if (creds := PostingCredentials.from_env(a.credentials_env, env)) is not None
    }
