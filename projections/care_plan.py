"""The care-plan view: the client, and every referral with its status and history.

Pure functions over public outbound events (``contracts.v1.events``): the projection is
fed from the JetStream events stream, so it never needs the domain's classes. This first
view is the full-depth plan the clinical team and coordinators see; the per-role views that
leave data out at write time build on the same functions.
"""

from __future__ import annotations

from typing import Any

VIEW = "care_plan"

STATUS_AFTER = {
    "referral.made": "requested",
    "referral.received": "received",
    "referral.accepted": "accepted",
    "referral.rejected": "rejected",
    "referral.started": "in-progress",
    "referral.put_on_hold": "on-hold",
    "referral.completed": "completed",
    "referral.failed": "failed",
    "referral.cancelled": "cancelled",
    "referral.entered_in_error": "entered-in-error",
}

Doc = dict[str, Any]


def key_of(event: Doc) -> str | None:
    client_id = event.get("client_id")
    return str(client_id) if client_id else None


def new_plan(client_id: str) -> Doc:
    return {"client_id": client_id, "client": None, "referrals": {}, "last_position": 0}


def apply(plan: Doc | None, event: Doc) -> Doc:
    """Fold one event into the plan (a plan that does not exist yet starts empty)."""
    plan = plan or new_plan(str(event["client_id"]))
    kind, data = event["event_type"], event["data"]
    if kind == "client.registered":
        plan["client"] = {
            "given_name": data["given_name"],
            "family_name": data["family_name"],
            "birth_date": data["birth_date"],
            "preferred_language": data.get("preferred_language"),
            "registered_at": event["occurred_at"],
            "registered_by": event["actor"],
        }
    elif kind.startswith("referral."):
        _apply_referral(plan, kind, data, event)
    plan["last_position"] = event["position"]
    plan["updated_at"] = event["recorded_at"]
    return plan


def _apply_referral(plan: Doc, kind: str, data: Doc, event: Doc) -> None:
    rid = str(event["aggregate_id"])
    if kind == "referral.made":
        plan["referrals"][rid] = {
            "referral_id": rid,
            "to_service": data["to_service"],
            "to_organisation": data["to_organisation"],
            "reason": data["reason"],
            "priority": data["priority"],
            "requested_by": event["actor"],
            "requested_at": event["occurred_at"],
            "status": "requested",
            "owner": None,
            "outcome": None,
            "loop_closed": False,
            "history": [],
        }
    referral = plan["referrals"].get(rid)
    if referral is None:  # an event for a referral this view never saw made: keep, don't invent
        return
    referral["status"] = STATUS_AFTER.get(kind, referral["status"])
    if kind == "referral.accepted":
        referral["owner"] = data["owner"]
    elif kind == "referral.completed":
        referral["outcome"] = data["outcome"]
    elif kind == "referral.outcome_acknowledged":
        referral["loop_closed"] = True
    step = {
        "event": kind,
        "status": referral["status"],
        "occurred_at": event["occurred_at"],
        "recorded_at": event["recorded_at"],
        "actor": event["actor"],
        "event_id": event["event_id"],
    }
    for detail in ("reason", "owner", "outcome", "note"):
        if data.get(detail) and kind != "referral.made":
            step[detail] = data[detail]
    referral["history"].append(step)


def as_response(plan: Doc) -> Doc:
    """The plan as served: referrals as a list, oldest first."""
    referrals = sorted(plan["referrals"].values(), key=lambda r: r["requested_at"])
    return {**plan, "referrals": referrals}
