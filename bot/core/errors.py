"""Exceptions the Slack layer turns into a message for the person who acted."""


class ActionRefused(Exception):
    """The action was not carried out; `str(exc)` tells the user why and what to do."""


class Conflict(ActionRefused):
    """A guarded write matched no row: someone changed the thing between our read and write."""

    def __init__(
        self, message: str = "Someone changed this just now; the card shows the latest."
    ) -> None:
        super().__init__(message)


class ConfigRefused(ActionRefused):
    """A configuration change that was not made: `problems` maps each field the person set
    ("channel", "follow.keywords", …) to what is wrong with it, for a form to show inline."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("\n".join(self.problems.values()))
