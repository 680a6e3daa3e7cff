"""The care-plan view: one document per client, folded from public outbound events.

Fed from the JetStream events stream, so it never needs the domain's classes. This is the
full-depth plan of the clinical team; every sensitive entry keeps its ``security`` labels
so the per-role views (which leave data out at write time) can be derived from the same
functions. Each area's events are folded by its own module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projections import (
    care_plan_access,
    care_plan_client,
    care_plan_clinical,
    care_plan_conferences,
    care_plan_items,
    care_plan_referrals,
)

VIEW = "care_plan"

Doc = dict[str, Any]

FOLDERS: dict[str, Callable[[Doc, Doc], None]] = {
    "client": care_plan_client.apply,
    "referral": care_plan_referrals.apply,
    "care_plan": care_plan_items.apply,
    "clinical_record": care_plan_clinical.apply,
    "case_conference": care_plan_conferences.apply,
    "break_glass_access": care_plan_access.apply,
}


def keys_of(event: Doc) -> list[str]:
    """The client documents an event touches: its client, or the clients it names. Reads
    (disclosures) and refused attempts change no care plan."""
    if event["event_type"].startswith(("disclosure.", "access_refusal.")):
        return []
    if event.get("client_id"):
        return [str(event["client_id"])]
    return [str(c) for c in (event.get("data") or {}).get("client_ids") or []]


def new_plan(client_id: str) -> Doc:
    return {"client_id": client_id, "status": "active", "client": None, "referrals": {},
            "last_position": 0}


def apply(plan: Doc | None, event: Doc, client_id: str) -> Doc:
    """Fold one event into the client's plan (a plan not seen before starts empty)."""
    plan = plan or new_plan(client_id)
    aggregate = event["event_type"].split(".", 1)[0]
    folder = FOLDERS.get(aggregate)
    if folder is not None:
        folder(plan, event)
    plan["last_position"] = event["position"]
    plan["updated_at"] = event["recorded_at"]
    return plan


def as_response(plan: Doc) -> Doc:
    """The plan as served: referrals as a list, oldest first."""
    referrals = sorted((plan.get("referrals") or {}).values(),
                       key=lambda r: r["requested_at"] or "")
    return {**plan, "referrals": referrals}
