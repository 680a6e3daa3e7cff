"""Every process's ops endpoint (``CARELOOP_OPS_PORT``): ``/metrics``, ``/livez``, ``/readyz``.

Served from its own thread (the standard library's WSGI server and the Prometheus client's
WSGI app), not from the event loop, so ``/livez`` can tell a hung loop: the loop ticks a
heartbeat every second, and a heartbeat older than ``LIVE_SECONDS`` answers 503.
``/readyz`` answers the loop's last readiness verdict (see ``operations``), 503 when it is
not ready or the verdict is stale. Nothing served here names a client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, make_wsgi_app

LIVE_SECONDS = 10.0
Verdict = Callable[[], tuple[bool, dict[str, Any]]]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes and probes every few seconds: not worth a log line


class OpsServer:
    def __init__(self, host: str, port: int, alive: Verdict, ready: Verdict) -> None:
        self.alive, self.ready = alive, ready
        self._metrics = make_wsgi_app(REGISTRY)
        self._server = make_server(host, port, self._app, _Server, handler_class=_QuietHandler)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.url = f"http://{shown}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="careloop-ops",
                                        daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any],
             start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        verdict = {"/livez": self.alive, "/readyz": self.ready}.get(path)
        if verdict is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"known: /metrics, /livez, /readyz\n"]
        ok, body = verdict()
        start_response("200 OK" if ok else "503 Service Unavailable",
                       [("Content-Type", "application/json")])
        return [json.dumps({"status": "ok" if ok else "failing", **body}).encode()]


class Heartbeat:
    """The loop's last tick, read from the ops thread."""

    def __init__(self) -> None:
        self.at = time.monotonic()

    def tick(self) -> None:
        self.at = time.monotonic()

    def verdict(self) -> tuple[bool, dict[str, Any]]:
        age = round(time.monotonic() - self.at, 1)
        return age < LIVE_SECONDS, {"event_loop_seconds_since_tick": age}
