"""What the Slack layer may call: the services, nothing lower. Built only in `bot/runtime.py`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.alerts.outside_posts import OutsidePostService
from bot.alerts.spikes import SpikeService
from bot.core.audit_report import AuditTrail
from bot.core.segments import SegmentCatalog
from bot.drafts.service import DraftService
from bot.freeze.held_queue import HeldQueueService
from bot.freeze.service import FreezeService
from bot.home.service import HomeService
from bot.mentions.history import AuthorHistory
from bot.mentions.inbox import InboxService
from bot.mentions.service import MentionService
from bot.mentions.surge import SurgeService
from bot.mentions.timers import ResponseTimers
from bot.reports.service import ReportService
from bot.steering.service import SteeringService
from bot.x.budget import XBudgetService


@dataclass(frozen=True)
class Services:
    mentions: MentionService
    authors: AuthorHistory
    inbox: InboxService
    drafts: DraftService
    freeze: FreezeService
    held_queue: HeldQueueService
    audit: AuditTrail
    segments: SegmentCatalog
    steering: SteeringService
    homes: HomeService
    reports: ReportService
    timers: ResponseTimers
    outside_posts: OutsidePostService
    spikes: SpikeService
    x_budget: XBudgetService
    surges: SurgeService
