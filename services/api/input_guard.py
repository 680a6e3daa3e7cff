"""The same input limits over HTTP as over NATS: a request that carries what careloop cannot
store (NUL, a lone surrogate), nests too deep, repeats a key or holds an out-of-range number
is answered 422 with the rule (``contracts.v1.input_limits``), before the framework parses
the body (its JSON parser would raise ``RecursionError``, answered as a bare 400)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.v1.input_limits import InputRefused, check_storable, decode

MAX_BODY_BYTES = 1024 * 1024

STORABLE_TEXT = r"^[^\x00]*$"
"""Free text careloop can store (PostgreSQL text cannot hold NUL): declared on request
bodies, so the OpenAPI document says what the guard below enforces."""


class InputGuard:
    """ASGI middleware: checks the path, the query and a JSON body, then replays the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            check_storable({"path": unquote(scope.get("path", "")),
                            **dict(parse_qsl(query, keep_blank_values=True))})
        except InputRefused as e:
            await _refuse(e, "query")(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, receive, send)
            return
        body, messages = b"", []
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await JSONResponse({"detail": "request body too large"}, 413)(
                    scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        try:
            if body:
                decode(body)
        except InputRefused as e:
            await _refuse(e, "body")(scope, receive, send)
            return
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass  # the route's own validation answers malformed JSON

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _refuse(e: InputRefused, where: str) -> Any:
    loc = [where, *(e.field.split(".") if e.field else [])]
    return JSONResponse({"detail": [{"type": e.code, "loc": loc, "msg": e.message,
                                     "rule": e.rule}]}, 422)
