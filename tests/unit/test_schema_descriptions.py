"""The published JSON Schemas are self-explanatory: each declares its dialect (draft
2020-12), every field of every object says what it is, and the outbound event and receipt
carry examples that their own models accept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs

from contracts.export import DIALECT, EXAMPLES, schemas
from contracts.v1.events import OutboundEvent
from contracts.v1.receipts import Receipt


def fields(schema: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in (schema.get("properties") or {}).items():
        yield f"{where}.{name}", prop
    for name, sub in (schema.get("$defs") or {}).items():
        yield from fields(sub, f"{where}/$defs/{name}")


def test_every_schema_declares_draft_2020_12_and_describes_every_field() -> None:
    undescribed = []
    for name, schema in schemas().items():
        assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
        undescribed += [path for path, prop in fields(schema, name)
                        if not str(prop.get("description") or "").strip()]
    assert undescribed == []


def test_outbound_event_and_receipt_have_examples_their_models_accept() -> None:
    published = schemas()
    for name, model in (("outbound.event", OutboundEvent), ("outbound.receipt", Receipt)):
        examples = published[name].get("examples")
        assert examples, name
        for example in examples:
            model.model_validate(example)


def test_every_example_validates_against_its_published_schema() -> None:
    """With an independent draft 2020-12 validator, not the models that wrote the schemas."""
    published = schemas()
    examples = sorted(EXAMPLES.glob("*.json")) + sorted((EXAMPLES / "fhir").glob("*.json"))
    assert len(examples) >= 66
    for path in examples:
        doc = json.loads(path.read_text())
        validator = jsonschema_rs.Draft202012Validator(published[doc["message_type"]])
        assert [e.message for e in validator.iter_errors(doc)] == [], path.name
    for name in ("outbound.event", "outbound.receipt"):
        validator = jsonschema_rs.Draft202012Validator(published[name])
        for example in published[name]["examples"]:
            assert [e.message for e in validator.iter_errors(example)] == [], name
    broken = json.loads((EXAMPLES / "fhir" / "fhir.task.accepted.json").read_text())
    broken["payload"]["status"] = "requested"  # not a status a Task update may carry
    assert list(jsonschema_rs.Draft202012Validator(published["fhir.task"]).iter_errors(broken))
