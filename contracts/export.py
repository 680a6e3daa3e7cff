"""Writes the JSON Schemas under contracts/schemas and the README's message catalogue.

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


def catalogue_markdown() -> str:
    lines = [
        "| message type | subject | what it reports | schema | example |",
        "|---|---|---|---|---|",
    ]
    for name, model in MESSAGE_TYPES.items():
        doc = (model.__doc__ or "").strip().splitlines()[0]
        lines.append(
            f"| `{name}` | `careloop.in.<source-system>.{name}` | {doc} | "
            f"[schema](contracts/schemas/{name}.json) | [example](contracts/examples/{name}.json) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    SCHEMAS.mkdir(exist_ok=True)
    for name, schema in schemas().items():
        (SCHEMAS / f"{name}.json").write_text(render(schema))
    readme = HERE.parent / "README.md"
    if readme.exists():
        text = readme.read_text()
        start, end = "<!-- catalogue:start -->\n", "<!-- catalogue:end -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            readme.write_text(head + start + catalogue_markdown() + end + tail)


if __name__ == "__main__":
    main()
