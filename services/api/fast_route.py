"""A well-formed request to a hot route, served without FastAPI's per-request machinery.

FastAPI solves a route's dependencies on every request (the app-wide unknown-query check,
the path parameter's validation), about a tenth of the API process's time on the care-plan
read. ``FastPathRoute`` sits in front of that route and takes only the requests that need
none of it: the path parameter already a canonical UUID (Starlette's ``uuid`` convertor)
and no query parameter but the declared ones, each once. Everything else (a malformed id,
an unknown or repeated parameter) does not match here and reaches the FastAPI route behind,
which answers exactly as before; the OpenAPI document is the FastAPI route's. Errors raised
by the endpoint (``HTTPException``, ``RequestValidationError``) go through the app's own
exception handlers, as they do from a FastAPI route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope


class FastPathRoute(Route):
    def __init__(self, path: str, endpoint: Callable[[Request], Awaitable[Response]],
                 query_names: frozenset[str]) -> None:
        super().__init__(path, endpoint, methods=["GET"], include_in_schema=False)
        self.methods = {"GET"}  # not HEAD (Starlette adds it): the FastAPI route has none
        self.query_names = query_names

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.FULL or not self._plain_query(scope.get("query_string", b"")):
            return Match.NONE, {}
        return match, {**child, "route": self}  # as FastAPI's routes do (access log, metrics)

    def _plain_query(self, raw: bytes) -> bool:
        if not raw:
            return True
        try:
            names = [name for name, _ in parse_qsl(raw.decode("latin-1"),
                                                   keep_blank_values=True)]
        except ValueError:
            return False
        return len(names) == len(set(names)) and set(names) <= self.query_names
