"""The committed AsyncAPI 3.0 document is what the contracts say, and it holds together.

No AsyncAPI 3 JSON Schema is published on PyPI, so validity is checked two ways: against
FastStream's AsyncAPI 3.0.0 document model, and by a structural check of the rules a
validator would apply (every $ref resolves, every operation's messages belong to its
channel, every address parameter is declared, every message has a payload schema)."""

from __future__ import annotations

import json
import re
from typing import Any

from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.fhir_messages import FHIR_MESSAGE_TYPES
from services.api.asyncapi_document import DOCUMENT, document, render

KEY = re.compile(r"^[A-Za-z0-9.\-_]+$")


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"unresolvable {ref}"
        node = node[part]
    return node


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


def test_committed_document_is_current() -> None:
    assert DOCUMENT.read_text() == render(), "run `careloop asyncapi` and commit the result"


def test_document_is_valid_asyncapi_3() -> None:
    doc = document()
    ApplicationSchema.model_validate(doc)
    assert doc["asyncapi"] == "3.0.0" and doc["info"]["title"] and doc["info"]["version"]
    for section in ("channels", "operations"):
        assert all(KEY.match(k) for k in doc[section]), section
    for kind in ("schemas", "messages"):
        assert all(KEY.match(k) for k in doc["components"][kind]), kind
    for ref in refs(doc):
        resolve(doc, ref)
    for name, op in doc["operations"].items():
        assert op["action"] in ("send", "receive"), name
        channel_ref = op["channel"]["$ref"]
        for m in op["messages"]:
            assert m["$ref"].startswith(channel_ref + "/messages/"), name
        if "reply" in op:
            reply = op["reply"]["channel"]["$ref"]
            assert all(m["$ref"].startswith(reply + "/messages/")
                       for m in op["reply"]["messages"]), name
    for name, channel in doc["channels"].items():
        params = set(re.findall(r"{(\w+)}", channel.get("address") or ""))
        assert params == set(channel.get("parameters") or {}), name
    for message in doc["components"]["messages"].values():
        assert message["payload"] and message["contentType"]


def test_every_inbound_type_receipt_and_query_has_a_channel() -> None:
    doc = document()
    addresses = {c["address"] for c in doc["channels"].values()}
    for name in [*MESSAGE_TYPES, *FHIR_MESSAGE_TYPES]:
        assert f"careloop.in.{{sourceSystem}}.{name}" in addresses
    assert "careloop.receipts.{sourceSystem}" in addresses
    assert "careloop.feed.{organisation}.{role}.{clientId}" in addresses
    assert {"careloop.query.care_plan", "careloop.query.care_plan_fhir",
            "careloop.query.worklist"} <= addresses
    examples = [m for m in doc["components"]["messages"].values() if m.get("examples")]
    assert len(examples) >= len(MESSAGE_TYPES) + len(FHIR_MESSAGE_TYPES) + 2
    assert json.dumps(doc)  # serialisable as served at /asyncapi.json
