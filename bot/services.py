"""What the Slack layer may call: the services, nothing lower."""

from __future__ import annotations

from dataclasses import dataclass

from bot.mentions import MentionService
from bot.segments import SegmentCatalog


@dataclass(frozen=True)
class Services:
    mentions: MentionService
    segments: SegmentCatalog
