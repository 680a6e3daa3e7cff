"""Writes the JSON Schemas under contracts/schemas (the catalogue is docs/catalogue.md).

Run ``careloop contracts`` (or ``python -m contracts.export``) after changing a contract;
a test fails when the committed files differ from what the models say.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.events import OutboundEvent
from contracts.v1.fhir_messages import FHIR_MESSAGE_TYPES
from contracts.v1.receipts import Receipt

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
EXAMPLES = HERE / "examples"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""pydantic writes JSON Schema draft 2020-12; every schema says so."""


ENVELOPE_FIELDS = {
    "message_type": "The fact reported; must equal the type in the subject.",
    "actor": "The person who acted: their id, role and organisation.",
    "payload": "The facts this message reports (below).",
}
"""Envelope fields that each message type narrows (its own Literal type or payload model),
which drops the envelope's description: they are described again here."""


def annotate(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the dialect (first key, so a reader sees it at once) and describe the
    envelope fields a message type narrowed."""
    for name, text in ENVELOPE_FIELDS.items():
        prop = (schema.get("properties") or {}).get(name)
        if isinstance(prop, dict) and "description" not in prop:
            prop["description"] = text
    return {"$schema": DIALECT, **{k: v for k, v in schema.items() if k != "$schema"}}


def schemas() -> dict[str, dict[str, Any]]:
    models = {**MESSAGE_TYPES, **FHIR_MESSAGE_TYPES}
    out = {name: annotate(model.model_json_schema()) for name, model in models.items()}
    out["outbound.receipt"] = annotate(Receipt.model_json_schema())
    out["outbound.event"] = annotate(OutboundEvent.model_json_schema())
    for name, schema in out.items():
        schema["$id"] = f"https://careloop.invalid/schemas/v1/{name}.json"
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMAS.mkdir(exist_ok=True)
    for name, schema in schemas().items():
        (SCHEMAS / f"{name}.json").write_text(render(schema))


if __name__ == "__main__":
    main()
