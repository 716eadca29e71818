"""The workspace's URL, for permalinks the renderers build without asking Slack per message."""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient

log = logging.getLogger(__name__)


class TeamUrl:
    """`https://<team>.slack.com/`, from auth.test once. The outbox learns it before a pass
    (outside any transaction); renderers, which run inside one, only read what is known."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._url: str | None = None
        self._lock = threading.Lock()

    def known(self) -> str | None:
        return self._url

    def learn(self) -> None:
        if self._url is not None:
            return
        with self._lock:
            if self._url is not None:
                return
            try:
                url = str(self._client.auth_test().get("url") or "")
            except Exception:  # no link this pass; the next pass asks again
                log.warning("auth.test failed: approval cards are not linked yet")
                return
            self._url = (url.rstrip("/") + "/") if url else None

    def permalink(self, channel: str, ts: str | None) -> str | None:
        """Slack's permalink form: <team>/archives/<channel>/p<ts without its dot>."""
        if self._url is None or not ts:
            return None
        return f"{self._url}archives/{channel}/p{ts.replace('.', '')}"
