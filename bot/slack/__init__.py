"""Slack: the front door (signature, payload shape, replays), the Web API client, the directory, clicks and Block Kit cards."""
