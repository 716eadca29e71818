"""The effective segment settings the services act on (app.yaml today; admin overrides later)."""

from __future__ import annotations

from dataclasses import dataclass

from policies.config import BrandConfig


@dataclass(frozen=True)
class SegmentView:
    """What a card needs to know of a segment."""

    name: str
    channel: str
    first_response_minutes: int


class SegmentCatalog:
    def __init__(self, config: BrandConfig) -> None:
        self.config = config

    def names(self) -> list[str]:
        return list(self.config.segments)

    def view(self, name: str) -> SegmentView:
        segment = self.config.segments[name]
        return SegmentView(name, segment.channel, segment.first_response_minutes)

    def views(self) -> list[SegmentView]:
        return [self.view(name) for name in self.names()]

    def channel(self, name: str) -> str:
        return self.config.segments[name].channel

    def responders(self, name: str) -> list[str]:
        return list(self.config.segments[name].responders)

    def for_channel(self, channel: str) -> str | None:
        """The segment whose channel this is, if any."""
        return next((n for n, s in self.config.segments.items() if s.channel == channel), None)

    @property
    def admins(self) -> list[str]:
        return list(self.config.admins)
