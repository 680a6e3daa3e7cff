"""The published JSON Schemas are self-explanatory: each declares its dialect (draft
2020-12), every field of every object says what it is, and the outbound event and receipt
carry examples that their own models accept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contracts.export import DIALECT, schemas
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
