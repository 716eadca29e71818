"""/brand: steer segments and freeze publishing (admins), and who tweeted what (anyone)."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.core.errors import ActionRefused
from bot.core.models import Freeze
from bot.freeze.service import OnTheirWay, Unfrozen
from bot.services import Services
from bot.slack.cards.mention_card import escape
from bot.slack.clicks import Person
from handlers import steering
from handlers.acks import Listen
from handlers.errors import tell
from policies.slack_text import unescape

WHO_USAGE = "Usage: `/brand who <tweet URL or id>`, e.g. `/brand who https://x.com/acme/status/1790000000000000000`"
MAX_TEXT = 500
MAX_WHO_CHARS = 3500  # an ephemeral stays readable; `brandbot audit who` prints everything


def register(listen: Listen, services: Services) -> None:
    @listen.command("/brand")
    def brand(body: dict[str, Any], client: WebClient) -> None:
        text = str(body.get("text", "")).strip()
        if len(text) > MAX_TEXT:
            raise ActionRefused(f"That is {len(text)} characters; keep it under {MAX_TEXT}.")
        subcommand, _, rest = text.partition(" ")
        person = Person(body["user_id"], body.get("user_name", ""))
        match subcommand.lower():
            case "freeze":
                freeze = services.freeze.freeze(
                    person=person, text=unescape(rest), channel=body.get("channel_id")
                )
                on_their_way = services.freeze.posts_on_their_way(freeze)
                tell(client, body, frozen_note(freeze, on_their_way))
            case "unfreeze":
                result = services.freeze.unfreeze(
                    person=person, text=rest, channel=body.get("channel_id")
                )
                tell(client, body, unfrozen_note(result))
            case "who":
                tell(client, body, _who(services, rest))
            case "report":
                where = str(body.get("channel_id") or "")
                tell(
                    client, body, services.reports.summary(person=person, text=rest, channel=where)
                )
            case name if name in steering.SUBCOMMANDS:
                where = str(body.get("channel_id") or "")
                answer, blocks = steering.steer(services, person, name, rest, where=where)
                tell(client, body, answer, blocks=blocks)
            case "help" | "":
                tell(client, body, steering.help_for(services, person))
            case _:
                unknown = f"I don't know `/brand {escape(subcommand)}`.\n"
                tell(client, body, unknown + steering.help_for(services, person))


def frozen_note(freeze: Freeze, on_their_way: OnTheirWay) -> str:
    """The confirmation: frozen from now on, and every post that was already past the last
    check (it cannot be recalled) named, so the admin knows what may still appear on X."""
    until = f" until {freeze.until:%Y-%m-%d %H:%M} UTC" if freeze.until else " until lifted"
    lines = [
        f":octagonal_sign: Publishing is frozen for {freeze.scope}{until}. "
        "Nothing more goes to X from now on; drafting and approving go on."
    ]
    if on_their_way.posted:
        ids = ", ".join(f"#{d.id}" for d in on_their_way.posted)
        lines.append(f"Already posted while the freeze was being set: {ids}.")
    unknown = on_their_way.unknown
    if unknown:
        were = "post was" if len(unknown) == 1 else "posts were"
        its = "it" if len(unknown) == 1 else "each"
        lines.append(
            f":warning: {len(unknown)} {were} already on {'its' if len(unknown) == 1 else 'their'} "
            f"way to X, or X never answered; {its} will show on its card:"
        )
        lines += [f"• #{d.id} @{d.account}: “{escape(_first_line(d.text))}”" for d in unknown[:20]]
        if len(unknown) > 20:
            lines.append(f"• … and {len(unknown) - 20} more")
    return "\n".join(lines)


def _first_line(text: str, limit: int = 80) -> str:
    line = (text.splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def unfrozen_note(unfrozen: Unfrozen) -> str:
    """What lifting a freeze left: held posts for a person to decide, or a freeze of every
    account still in force (one account cannot be lifted out of it)."""
    held, listed, still = unfrozen.held, unfrozen.listed, unfrozen.still_frozen_by
    if still is not None:
        return (
            f"Lifted the freeze on @{unfrozen.scope}, but publishing stays frozen for every "
            f"account ({escape(still.frozen_by_name)}: {escape(still.reason)}); "
            "`/brand unfreeze all` lifts that."
        )
    if not held:
        return "Publishing resumed. Nothing came due while it was frozen, so nothing is held."
    where = "the held queue I'm posting here"
    if listed < held:
        where += f" (it lists {listed}; the other {held - listed} are on their cards)"
    return (
        f"Publishing resumed. {held} post(s) that came due while frozen are held: an approver "
        f"releases or cancels each in {where}."
    )


def _who(services: Services, rest: str) -> str:
    ref = rest.strip()
    if ref.startswith("<") and ref.endswith(">"):  # Slack's own link markup: <url|label>
        ref = ref[1:-1].partition("|")[0]
    if not ref or len(ref.split()) > 1:
        return WHO_USAGE
    try:
        story = services.audit.who(ref)
    except ValueError as bad:
        return f"{escape(str(bad))}\n{WHO_USAGE}"
    if story is None:
        return "brandbot did not post that tweet."
    story = story.rstrip("\n")
    if len(story) > MAX_WHO_CHARS:
        story = story[:MAX_WHO_CHARS] + "\n… (cut short: `brandbot audit who` prints it all)"
    return f"```\n{escape(story)}\n```"
