"""The App Home: opening it publishes it; its Approve, Reject and (for admins) Edit buttons, and
the Edit form. Every check is the services'; a click here has no channel to answer in, so what
happened — the outcome or the refusal — goes on top of the person's home instead."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from slack_sdk import WebClient

from bot.core.errors import ActionRefused, ConfigRefused
from bot.services import Services
from bot.slack.cards.app_home import HomeAction
from bot.slack.cards.draft_modals import build_reject_modal
from bot.slack.cards.segment_modal import (
    BLOCKS,
    SEGMENT_CALLBACK,
    build_segment_modal,
    edit_from,
    form_errors,
    segment_of,
)
from bot.slack.cards.surge_summary import SurgeAction
from bot.slack.clicks import Person
from handlers.acks import Decision, Listen, Then
from handlers.clicks import click_from, person_of
from handlers.errors import describe

HOME_TAB = "home"  # app_home_opened also comes for the Messages tab


def register(listen: Listen, services: Services) -> None:
    home = HomeListeners(services)
    listen.event("app_home_opened")(home.opened)
    listen.action(HomeAction.APPROVE)(home.approve)
    listen.action(HomeAction.REJECT)(home.open_reject)
    listen.action(HomeAction.EDIT_SEGMENT)(home.open_edit)
    listen.view(SEGMENT_CALLBACK)(home.submit_edit)
    listen.action(SurgeAction.HOME_CLAIM_NEXT)(home.claim_next)


class HomeListeners:
    """One listener per thing done at home (methods, so a test can call each)."""

    def __init__(self, services: Services) -> None:
        self.homes = services.homes
        self.surges = services.surges

    def opened(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != HOME_TAB:
            return
        person = Person(str(event["user"]), "")
        self.homes.opened(person, shown=isinstance(event.get("view"), dict))

    def approve(self, body: dict[str, Any], client: WebClient) -> None:
        click = click_from(body)
        self._answer(body, lambda: self.homes.approve(click.person, click.value))

    def open_reject(self, body: dict[str, Any], client: WebClient) -> None:
        """The card's own reject form, acting on the card (its submit is the card's too)."""
        click = click_from(body)

        def open_form() -> None:
            context = self.homes.reject_form(click.person, click.value)
            client.views_open(
                trigger_id=body["trigger_id"], view=build_reject_modal(context=context)
            )

        self._answer(body, open_form)

    def claim_next(self, body: dict[str, Any], client: WebClient) -> None:
        """A surge's Claim next: the oldest mention nobody has claimed, on its summary."""
        click = click_from(body)
        self._answer(body, lambda: self.surges.claim_next_from_home(click.person, click.value))

    def open_edit(self, body: dict[str, Any], client: WebClient) -> None:
        click = click_from(body)

        def open_form() -> None:
            current = self.homes.edit_form(click.person, click.value or "")
            client.views_open(trigger_id=body["trigger_id"], view=build_segment_modal(current))

        self._answer(body, open_form)

    def submit_edit(
        self, ack: Decision, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> Then | None:
        """Saved through the steering service; what it refuses shows on the field, inline, and
        nothing is saved."""
        person = person_of(body)
        try:
            segment, revision = segment_of(view.get("private_metadata", ""))
        except (KeyError, ValueError, TypeError, AttributeError):
            ack(
                response_action="errors",
                errors={BLOCKS["channel"]: "This form is not one of mine."},
            )
            return None
        try:
            summary = self.homes.save_segment(
                person, segment, edit_from(view["state"]["values"]), opened_at=revision
            )
        except ConfigRefused as refused:
            ack(response_action="errors", errors=form_errors(refused.problems))
            return None
        except ActionRefused as refused:
            ack(response_action="errors", errors={BLOCKS["channel"]: str(refused)})
            return None
        ack()
        return partial(self.homes.tell, person, summary)  # publishes the home: after the answer

    def _answer(self, body: dict[str, Any], act: Callable[[], str | None]) -> None:
        """Do it; show the outcome, or why not, on top of the person's home."""
        try:
            note = act()
        except Exception as error:
            note = describe(error, body)
        if note:
            self.homes.tell(person_of(body), note)
