"""The same queries as HTTP, over NATS request-reply, for team systems.

Request on ``careloop.query.<name>`` (care_plan, care_plan_fhir, psychotherapy_notes,
worklist, break_glass) a JSON object with ``token`` and the query's arguments; the reply is
``{"status": 200, "body": {...}}`` or ``{"status": 4xx, "detail": "..."}`` — the same codes
and sentences as HTTP.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from uuid import UUID

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.api.access_tokens import Caller, InvalidToken, TokenKeys, verify
from services.api.care_queries import CareQueries, QueryRefused
from services.api.disclosure_recorder import Refusal
from services.fhir.care_plan_export import care_plan_bundle
from services.observability import metrics, tracing

log = structlog.get_logger("careloop.nats_queries")

QUERY_ROOT = "careloop.query"

Handler = Callable[[Caller, dict[str, Any]], Awaitable[dict[str, Any]]]


def _uuid(args: dict[str, Any], name: str) -> UUID:
    try:
        return UUID(str(args[name]))
    except (KeyError, ValueError):
        raise QueryRefused(400, f"'{name}' must be a UUID") from None


class NatsQueries:
    def __init__(self, nc: NATS, queries: CareQueries, token_secret: str | TokenKeys,
                 issuer: str = "careloop") -> None:
        self.nc, self.queries, self.secret, self.issuer = nc, queries, token_secret, issuer
        self._sub: Subscription | None = None
        q = queries
        self.handlers: dict[str, Handler] = {
            "care_plan": lambda who, a: q.care_plan(
                who, _uuid(a, "client_id"), purpose=a.get("purpose"), access=a.get("access"),
                channel="nats"),
            "care_plan_fhir": lambda who, a: self._fhir(who, a),
            "psychotherapy_notes": lambda who, a: q.own_notes(
                who, _uuid(a, "client_id"), a.get("purpose"), channel="nats"),
            "break_glass": lambda who, a: q.open_break_glass(
                who, _uuid(a, "client_id"), str(a.get("reason", "")), channel="nats"),
            "worklist": lambda who, a: q.worklist(
                who, str(a.get("name", "")), limit=int(a.get("limit", 50)),
                offset=int(a.get("offset", 0)),
                client_id=_uuid(a, "client_id") if a.get("client_id") else None,
                who=a.get("party"),
                today=date.fromisoformat(a["as_of"]) if a.get("as_of") else None,
                channel="nats"),
        }

    async def _fhir(self, who: Caller, a: dict[str, Any]) -> dict[str, Any]:
        """The same read as ``care_plan`` (same checks, same record), as a FHIR Bundle."""
        view = await self.queries.care_plan(who, _uuid(a, "client_id"), purpose=a.get("purpose"),
                                            access=a.get("access"), channel="nats")
        return care_plan_bundle(view)

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(f"{QUERY_ROOT}.>", queue="careloop-api",
                                            cb=self._on_request)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def answer(self, name: str, raw: bytes) -> dict[str, Any]:
        try:
            args = json.loads(raw)
            if not isinstance(args, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            return {"status": 400, "detail": "the request must be a JSON object"}
        try:
            token = str(args.get("token", ""))
            if isinstance(self.secret, TokenKeys) and self.secret.jwks_url:
                # The provider's keys may have to be fetched: not on the event loop.
                who = await asyncio.to_thread(verify, self.secret, token, self.issuer)
            else:
                who = verify(self.secret, token, self.issuer)
        except InvalidToken:
            client = args.get("client_id")
            try:
                client_id = UUID(str(client)) if client else None
            except ValueError:
                client_id = None
            await self.queries.recorder.refused(Refusal(
                client_id, None, f"query:{name}", 401, "unauthenticated", "nats"))
            return {"status": 401, "detail": "invalid or expired token"}
        handler = self.handlers.get(name)
        if handler is None:
            return {"status": 404, "detail": f"no query '{name}'; known: "
                                             f"{', '.join(self.handlers)}"}
        try:
            return {"status": 200, "body": await handler(who, args)}
        except QueryRefused as refused:
            return {"status": refused.status, "detail": refused.detail}
        except (TypeError, ValueError) as e:
            return {"status": 400, "detail": f"bad arguments: {e}"}
        except Exception as e:  # store away, record not written: fail closed
            log.warning("query_unavailable", query=name, error=type(e).__name__)
            return {"status": 503, "detail": "temporarily unavailable; try again"}

    async def _on_request(self, msg: Msg) -> None:
        name = msg.subject[len(QUERY_ROOT) + 1:]
        structlog.contextvars.clear_contextvars()
        started = time.perf_counter()
        span = tracing.query_span(name if name in self.handlers else "other", msg.headers)
        reply = await self.answer(name, msg.data)
        metrics.query_answered(name, self.handlers, reply["status"], time.perf_counter() - started)
        tracing.end(span, **{"careloop.status": reply["status"]})
        if reply["status"] >= 500:
            log.warning("query_failed", query=name, status=reply["status"])
        if msg.reply:
            await msg.respond(json.dumps(reply, default=str).encode())
