"""What the Slack layer may call: the services, nothing lower."""

from __future__ import annotations

from dataclasses import dataclass

from bot.drafts import DraftService
from bot.freeze import FreezeService
from bot.mentions import MentionService
from bot.segments import SegmentCatalog


@dataclass(frozen=True)
class Services:
    mentions: MentionService
    drafts: DraftService
    freeze: FreezeService
    segments: SegmentCatalog
