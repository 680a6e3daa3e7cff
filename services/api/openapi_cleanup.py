"""The OpenAPI document, made exact where FastAPI's generator is loose.

A query or header parameter is a string or absent, never JSON ``null``: an optional one is
documented as ``required: false`` with its own type, not as ``anyOf [type, null]`` (which
would tell clients, and the conformance fuzzer, that ``null`` is something to send).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.routing import APIRoute

from services.api.input_guard import STORABLE_TEXT

Doc = dict[str, Any]


def _without_null(schema: Doc) -> Doc:
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) == len(options):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def _storable(schema: Doc) -> Doc:
    """A free-text string parameter says what the input guard enforces: no NUL."""
    if schema.get("type") == "string" and not {"enum", "format", "pattern", "const"} & set(schema):
        return {**schema, "pattern": STORABLE_TEXT}
    return schema


def exact_parameters(document: Doc) -> Doc:
    for path in (document.get("paths") or {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters") or ():
                if parameter.get("in") in ("query", "header") and "schema" in parameter:
                    parameter["schema"] = _storable(_without_null(parameter["schema"]))
    return document


def install(api: FastAPI) -> None:
    """Serve the cleaned document at /openapi.json (built once, like FastAPI's own)."""
    generate: Callable[[], Doc] = api.openapi

    def openapi() -> Doc:
        if api.openapi_schema is None:
            api.openapi_schema = exact_parameters(generate())
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def _query_names(dependant: Any) -> set[str]:
    names = {str(p.alias) for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _known_query(route: APIRoute) -> set[str]:
    """Declared query parameters, and those a route that reads its own request documents
    in ``openapi_extra`` (the care plan's hot path)."""
    extra = (route.openapi_extra or {}).get("parameters") or ()
    return _query_names(route.dependant) | {p["name"] for p in extra if p.get("in") == "query"}


async def refuse_unknown_query(request: Request) -> None:
    """A query parameter the route does not declare is refused (422), as unknown message
    fields are: a misspelt ``as_of`` must not silently mean "today"."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _known_query(route)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise HTTPException(422, [{"loc": ["query", name], "type": "unknown_parameter",
                                   "msg": f"unknown query parameter '{name}'; known: "
                                          f"{', '.join(sorted(known)) or 'none'}"}
                                  for name in unknown[:20]])
