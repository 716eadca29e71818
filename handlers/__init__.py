"""Slack listeners. One entry point, `register`, fans out to one module per surface."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from bot.slack.answers import AnswersFirst
from bot.slack.gate import ReplayGuard
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
from handlers.acks import Listen


def register(
    app: App,
    services: Services,
    *,
    replays: ReplayGuard | None = None,
    answers: AnswersFirst | None = None,
) -> None:
    errors.register(app)
    listen = Listen(app, replays=replays, answers=answers)
    mention_actions.register(listen, services)
    inbox.register(listen, services)
    drafts.register(listen, services)
    brand_command.register(listen, services)
    held_queue.register(listen, services)
    steering.register(listen, services)
    app_home.register(listen, services)
    response_timers.register(listen, services)
    outside_posts.register(listen, services)
    spikes.register(listen, services)
    surges.register(listen, services)
