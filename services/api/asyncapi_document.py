"""The AsyncAPI 3.0 document of careloop's NATS interface, generated from the contracts.

Channels: every inbound message type (native and FHIR) on ``careloop.in.<system>.<type>``,
receipts, the internal events stream and dead letters, and the request-reply queries.
Message payloads are the contracts' own JSON Schemas (draft 2020-12), hoisted into
``components.schemas``; every inbound message carries its committed example. ``careloop
asyncapi`` writes it to ``contracts/asyncapi.json``; a test fails when that file is stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from contracts.export import EXAMPLES, annotate
from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.events import EVENT_EXAMPLE, OutboundEvent
from contracts.v1.fhir_messages import FHIR_MESSAGE_TYPES
from contracts.v1.receipts import RECEIPT_EXAMPLE, Receipt
from services.api.nats_queries import QUERY_ROOT
from services.bus.streams import DEADLETTER_ROOT, EVENTS_ROOT, FEED_ROOT, RECEIPTS_ROOT

Doc = dict[str, Any]
DOCUMENT = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi.json"
REF = "#/components/schemas/{model}"
QUERIES = {
    "care_plan": "The caller's role view of a client's care plan (client_id, purpose, access).",
    "care_plan_fhir": "The same view as a FHIR R4 Bundle (client_id, purpose, access).",
    "psychotherapy_notes": "The caller's own psychotherapy notes about a client (client_id).",
    "worklist": "A coordinator's worklist (name, limit, offset, client_id, party, as_of).",
    "break_glass": "Open emergency access to a client's record (client_id, reason).",
}
SOURCE = {"sourceSystem": {"description": "The sending team system (lower case, digits, "
                                          "dashes); its NATS user may use only its own."}}


class QueryRequest(BaseModel):
    """A query over NATS request-reply: a bearer token and the query's arguments."""

    token: str
    client_id: str | None = None
    purpose: str | None = None
    access: str | None = None


class FeedMessage(BaseModel):
    """The latest view of one client for one role at one organisation (the stream keeps one
    per role and client), or that the relationship ended (then no client data at all)."""

    organisation: str = Field(description="The organisation whose feed this is.")
    role: str = Field(description="The role whose view it carries.")
    client_id: str = Field(description="The client.")
    relationship: Literal["active", "ended"] = Field(description="ended: no view follows.")
    view: dict[str, Any] | None = Field(None, description="The role's view, as the API "
                                                          "serves it to that organisation.")


class QueryReply(BaseModel):
    """The answer: ``status`` as over HTTP, then ``body`` (200) or ``detail`` (4xx/5xx)."""

    status: int
    body: dict[str, Any] | None = None
    detail: str | None = None


def _schema(model: type[BaseModel], schemas: Doc) -> Doc:
    """The model's schema in ``components.schemas``; its parts under ``<Model>_<Part>``
    (contract modules reuse part names such as ``WithReason`` for different shapes)."""
    prefix = f"{model.__name__}_"
    schema = annotate(model.model_json_schema(ref_template=REF.replace("{model}",
                                                                       prefix + "{model}")))
    for name, sub in schema.pop("$defs", {}).items():
        schemas[prefix + name] = sub
    schema.pop("$schema", None)
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _message(name: str, model: type[BaseModel], schemas: Doc, example: Doc | None) -> Doc:
    doc = (model.__doc__ or name).strip().splitlines()[0]
    out: Doc = {"name": name, "title": name, "summary": doc, "contentType": "application/json",
                "payload": _schema(model, schemas)}
    if example is not None:
        out["examples"] = [{"name": f"{name} example", "payload": example}]
    return out


def _example(name: str) -> Doc | None:
    for path in (EXAMPLES / f"{name}.json", EXAMPLES / "fhir" / f"{name}.json"):
        if path.exists():
            found: Doc = json.loads(path.read_text())
            return found
    return None


def document() -> Doc:
    schemas: Doc = {}
    messages: Doc = {}
    channels: Doc = {}
    operations: Doc = {}
    for name, model in {**MESSAGE_TYPES, **FHIR_MESSAGE_TYPES}.items():
        key = name.replace(".", "_")
        messages[key] = _message(name, model, schemas, _example(
            name if name in MESSAGE_TYPES else f"{name}.accepted" if name == "fhir.task"
            else f"{name}.completed" if name == "fhir.service_request" else name))
        channels[f"in_{key}"] = {
            "address": f"careloop.in.{{sourceSystem}}.{name}", "title": name,
            "description": messages[key]["summary"], "parameters": SOURCE,
            "messages": {key: {"$ref": f"#/components/messages/{key}"}}}
        operations[f"receive_{key}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/in_{key}"},
            "summary": f"A team system reports {name}; careloop answers with a receipt.",
            "messages": [{"$ref": f"#/channels/in_{key}/messages/{key}"}]}
    messages["receipt"] = _message("receipt", Receipt, schemas, RECEIPT_EXAMPLE)
    messages["event"] = _message("event", OutboundEvent, schemas, EVENT_EXAMPLE)
    messages["query_request"] = _message("query_request", QueryRequest, schemas, None)
    messages["query_reply"] = _message("query_reply", QueryReply, schemas, None)
    messages["dead_letter"] = {"name": "dead_letter", "title": "dead letter",
                               "summary": "The original bytes of a message that kept failing, "
                                          "with Careloop-Reason and Careloop-Original-* headers.",
                               "contentType": "application/octet-stream",
                               "payload": {"type": "string"}}
    messages["feed"] = _message("feed", FeedMessage, schemas, None)
    channels["feed"] = {
        "address": f"{FEED_ROOT}.{{organisation}}.{{role}}.{{clientId}}", "title": "feed",
        "description": "Each organisation's feed (its own stream; read through the durable "
                       "consumer careloop makes for each of its systems). Every delivery is "
                       "recorded as a disclosure.",
        "parameters": {"organisation": {"description": "The organisation the feed is for."},
                       "role": {"description": "The role whose view it carries."},
                       "clientId": {"description": "The client's id."}},
        "messages": {"feed": {"$ref": "#/components/messages/feed"}}}
    operations["send_feed"] = {"action": "send", "channel": {"$ref": "#/channels/feed"},
                               "messages": [{"$ref": "#/channels/feed/messages/feed"}]}
    channels["receipts"] = {
        "address": f"{RECEIPTS_ROOT}.{{sourceSystem}}", "title": "receipts",
        "description": "One receipt per inbound message (JetStream, kept 14 days).",
        "parameters": SOURCE, "messages": {"receipt": {"$ref": "#/components/messages/receipt"}}}
    channels["events"] = {
        "address": f"{EVENTS_ROOT}.{{aggregate}}.{{event}}", "title": "events (internal)",
        "description": "Every stored domain event, in store order. careloop's own components "
                       "and audit tools only: no partner credential may subscribe.",
        "parameters": {"aggregate": {"description": "Aggregate type, e.g. referral."},
                       "event": {"description": "Event name, e.g. accepted."}},
        "messages": {"event": {"$ref": "#/components/messages/event"}}}
    channels["dead_letters"] = {
        "address": f"{DEADLETTER_ROOT}.{{sourceSystem}}.{{messageType}}",
        "title": "dead letters (internal)", "description": "Poison messages, for operators.",
        "parameters": {**SOURCE, "messageType": {"description": "The inbound message type."}},
        "messages": {"dead_letter": {"$ref": "#/components/messages/dead_letter"}}}
    operations["send_receipt"] = {"action": "send", "channel": {"$ref": "#/channels/receipts"},
                                  "messages": [{"$ref": "#/channels/receipts/messages/receipt"}]}
    operations["send_event"] = {"action": "send", "channel": {"$ref": "#/channels/events"},
                                "messages": [{"$ref": "#/channels/events/messages/event"}]}
    operations["send_dead_letter"] = {
        "action": "send", "channel": {"$ref": "#/channels/dead_letters"},
        "messages": [{"$ref": "#/channels/dead_letters/messages/dead_letter"}]}
    channels["query_replies"] = {
        "address": None, "title": "query replies",
        "description": "The requester's own reply inbox (_INBOX_<system>.>).",
        "messages": {"query_reply": {"$ref": "#/components/messages/query_reply"}}}
    for query, summary in QUERIES.items():
        channels[f"query_{query}"] = {
            "address": f"{QUERY_ROOT}.{query}", "title": f"query {query}",
            "description": summary,
            "messages": {"query_request": {"$ref": "#/components/messages/query_request"}}}
        operations[f"answer_{query}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/query_{query}"},
            "summary": summary,
            "messages": [{"$ref": f"#/channels/query_{query}/messages/query_request"}],
            "reply": {"channel": {"$ref": "#/channels/query_replies"},
                      "messages": [{"$ref": "#/channels/query_replies/messages/query_reply"}]}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "careloop NATS interface", "version": "1.0.0",
                 "description": "How team systems post facts (native JSON or FHIR R4), read "
                                "their receipts and query care-plan views over NATS."},
        "defaultContentType": "application/json",
        "servers": {"embedded": {"host": "127.0.0.1:4222", "pathname": "", "protocol": "nats",
                                 "description": "careloop's embedded nats-server (JetStream)."}},
        "channels": channels, "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items())), "messages": messages},
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


def write() -> Path:
    DOCUMENT.write_text(render())
    return DOCUMENT
