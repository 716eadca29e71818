"""Exceptions the Slack layer turns into a message for the person who acted."""


class ActionRefused(Exception):
    """The action was not carried out; `str(exc)` tells the user why and what to do."""
