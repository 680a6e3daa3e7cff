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
from contracts.v1.receipts import Receipt

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
EXAMPLES = HERE / "examples"


def schemas() -> dict[str, dict[str, Any]]:
    out = {name: model.model_json_schema() for name, model in MESSAGE_TYPES.items()}
    out["outbound.receipt"] = Receipt.model_json_schema()
    out["outbound.event"] = OutboundEvent.model_json_schema()
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
