"""One loopback server in a daemon thread: the lifecycle the fakes share."""

from __future__ import annotations

import socketserver
import threading


class LoopbackServer:
    """Serves `server` (bound to 127.0.0.1, port 0) until `stop`."""

    def __init__(self, server: socketserver.TCPServer, *, name: str) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=name, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
