"""Message builders for tests: valid envelopes from the committed examples."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
CLIENT_ID = "5f0c9a8e-2d4b-4c1e-9a3f-7b6d2e1c0a11"


def example(message_type: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{message_type}.json").read_text())  # type: ignore[no-any-return]


def message(message_type: str, **payload: Any) -> dict[str, Any]:
    """The example of ``message_type`` with a fresh message_id and the payload overrides."""
    m = example(message_type)
    m["message_id"] = f"test-{uuid.uuid4()}"
    m["payload"] = {**m["payload"], **{k: str(v) if isinstance(v, uuid.UUID) else v
                                       for k, v in payload.items()}}
    return m


def bearer(secret: str, user: str = "co-5001", role: str = "coordinator",
           organisation: str = "riverside-cmhc") -> dict[str, str]:
    """An Authorization header for a person in a role, signed with the runtime's secret."""
    from datetime import timedelta

    from services.api.access_tokens import Caller, issue

    return {"Authorization": "Bearer " + issue(secret, Caller(user, role, organisation),
                                               timedelta(minutes=30))}


def with_partner_registry(settings: Any, tmp_path: Path) -> Any:
    """``settings`` using a copy of the example partner registry (deploy/partners.json), in
    which riverside-cmhc and riverside-psych are registered as treating providers."""
    path = tmp_path / "partners.json"
    path.write_text((EXAMPLES.parent.parent / "deploy" / "partners.json").read_text())
    return settings.model_copy(update={"partners_file": path})
