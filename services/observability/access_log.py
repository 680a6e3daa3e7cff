"""The HTTP side of observability: an access log line and a latency observation per request,
a correlation id on every answer, and ``/metrics`` on the API app.

The access log names the route template (``/clients/{client_id}/care-plan``), never the
concrete path, and no query string, header or body: nothing in it identifies a client.
Context a handler bound for its own logs (``client_id``) is cleared before the line is
written. A caller's ``X-Correlation-Id`` is kept only if it is a UUID (so it cannot carry a
name); otherwise careloop makes one. Either way it is answered in ``X-Correlation-Id``.
"""

from __future__ import annotations

import hmac
import random
import re
import time
import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.observability import tracing
from services.observability.metrics import HTTP_SECONDS

log = structlog.get_logger("careloop.access")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CORRELATION_HEADER = b"x-correlation-id"


_CONVERTOR = re.compile(r"\{(\w+):[^}]*\}")
_templates: dict[tuple[str, str], str] = {}


def route_template(scope: Scope) -> str:
    """The matched route's template (a mounted app's prefix included; ``{client_id:uuid}``
    written ``{client_id}``, so a fast path and its FastAPI route share one), or
    ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    key = (scope.get("root_path", ""), path)
    found = _templates.get(key)
    if found is None:  # routes are few: each template is worked out once
        found = _templates[key] = _CONVERTOR.sub(r"{\1}", f"{key[0]}{path}") or "/"
    return found


def correlation_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == CORRELATION_HEADER:
            try:
                return str(uuid.UUID(value.decode("ascii")))
            except (ValueError, UnicodeDecodeError):
                break
    # Not a secret, only unique: the process's PRNG is ~5x cheaper than uuid4's urandom.
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


_timers: dict[tuple[str, str, int], Any] = {}


def _timer(method: str, route: str, status: int) -> Any:
    """The histogram child of one label set (looked up once: ``labels`` takes a lock)."""
    found = _timers.get((method, route, status))
    if found is None:
        found = _timers[(method, route, status)] = HTTP_SECONDS.labels(method, route, str(status))
    return found


class AccessLog:
    """ASGI middleware (outermost of careloop's own): times, counts and logs each request."""

    def __init__(self, app: ASGIApp, log_requests: bool = True) -> None:
        self.app, self.log_requests = app, log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        correlation = correlation_id(scope.get("headers") or [])
        status = 500
        span = None
        if tracing.enabled():
            incoming = next((v.decode("latin-1") for k, v in scope.get("headers") or []
                             if k == b"traceparent"), None)
            span = tracing.start("http", SpanKind.SERVER, tracing.valid(incoming),
                                 {"careloop.correlation_id": correlation})

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (CORRELATION_HEADER, correlation.encode())]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            seconds = time.perf_counter() - started
            method = scope.get("method", "")
            method = method if method in METHODS else "OTHER"
            route = route_template(scope)
            _timer(method, route, status).observe(seconds)
            structlog.contextvars.clear_contextvars()  # what the handler bound stays out
            if span is not None:
                span.update_name(f"{method} {route}")
                tracing.end(span, **{"http.route": route, "http.response.status_code": status})
            if self.log_requests:
                log.info("http_request", method=method, route=route, status=status,
                         duration_ms=round(seconds * 1000, 2), correlation_id=correlation)


def instrument(api: FastAPI, access_log: bool, metrics_token: str) -> None:
    """The access log, latency histogram and correlation ids, and ``/metrics`` (with
    ``metrics_token`` set, only for ``Authorization: Bearer <token>``)."""
    api.add_middleware(AccessLog, log_requests=access_log)
    expected = f"Bearer {metrics_token}".encode() if metrics_token else None

    @api.get("/metrics", include_in_schema=False)
    async def get_metrics(request: Request) -> Any:
        if expected is not None and not hmac.compare_digest(
                request.headers.get("authorization", "").encode(), expected):
            return Response("a metrics token is required\n", 401,
                            headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
