"""Referral events folded into the care plan: status, deadlines, loop closure, history."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]

STATUS_AFTER = {
    "referral.requested": "requested",
    "referral.received": "received",
    "referral.accepted": "accepted",
    "referral.rejected": "rejected",
    "referral.started": "in-progress",
    "referral.put_on_hold": "on-hold",
    "referral.completed": "completed",
    "referral.failed": "failed",
    "referral.cancelled": "cancelled",
    "referral.cancellation_confirmed": "cancelled",
    "referral.entered_in_error": "entered-in-error",
}
DETAILS = ("reason", "owner", "outcome", "note", "kind", "due", "as_of")


def apply(plan: Doc, event: Doc) -> None:
    kind, data = event["event_type"], event["data"]
    rid = str(event["aggregate_id"])
    if kind == "referral.made":
        plan["referrals"][rid] = {
            "referral_id": rid,
            "to_service": data["to_service"],
            "to_organisation": data["to_organisation"],
            "reason": data["reason"],
            "priority": data["priority"],
            "requested_by": event["actor"],
            "requested_at": None if data.get("draft") else event["occurred_at"],
            "status": "draft" if data.get("draft") else "requested",
            "response_due": data.get("response_due"),
            "response_deadline": data.get("response_deadline"),
            "missed_deadlines": [],
            "cancellation_pending": False,
            "business_status": None,
            "owner": None,
            "outcome": None,
            "loop_closed": False,
            "history": [],
        }
    referral = plan["referrals"].get(rid)
    if referral is None:  # an event for a referral this view never saw made: keep, don't invent
        return
    referral["status"] = STATUS_AFTER.get(kind, referral["status"])
    if kind == "referral.requested":
        referral["requested_at"] = event["occurred_at"]
        referral["response_due"] = data["response_due"]
        referral["response_deadline"] = data["response_deadline"]
    elif kind == "referral.accepted":
        referral["owner"] = data["owner"]
    elif kind == "referral.completed":
        referral["outcome"] = data["outcome"]
    elif kind == "referral.interim_update_sent":
        referral["business_status"] = "interim-update-sent"
    elif kind == "referral.response_deadline_missed":
        referral["missed_deadlines"].append(data["kind"])
    elif kind == "referral.outcome_acknowledged":
        referral["loop_closed"] = True
    if kind == "referral.cancellation_requested":
        referral["cancellation_pending"] = True
    elif kind in ("referral.cancellation_declined", "referral.cancellation_confirmed",
                  "referral.completed", "referral.failed", "referral.cancelled"):
        referral["cancellation_pending"] = False
    step = {
        "event": kind,
        "status": referral["status"],
        "occurred_at": event["occurred_at"],
        "recorded_at": event["recorded_at"],
        "actor": event["actor"],
        "event_id": event["event_id"],
    }
    for detail in DETAILS:
        if data.get(detail) and kind != "referral.made":
            step[detail] = data[detail]
    referral["history"].append(step)
