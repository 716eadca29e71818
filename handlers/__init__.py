"""Slack listeners. One entry point, `register`, fans out to one module per surface."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import (
    app_home,
    brand_command,
    drafts,
    errors,
    held_queue,
    inbox,
    mention_actions,
    outside_posts,
    response_timers,
    spikes,
    steering,
    surges,
)


def register(app: App, services: Services) -> None:
    errors.register(app)
    mention_actions.register(app, services)
    inbox.register(app, services)
    drafts.register(app, services)
    brand_command.register(app, services)
    held_queue.register(app, services)
    steering.register(app, services)
    app_home.register(app, services)
    response_timers.register(app, services)
    outside_posts.register(app, services)
    spikes.register(app, services)
    surges.register(app, services)
