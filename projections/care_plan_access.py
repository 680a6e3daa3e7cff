"""Break-glass openings folded into the care plan (auditors' views show them)."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def apply(plan: Doc, event: Doc) -> None:
    if event["event_type"] == "break_glass_access.opened":
        plan.setdefault("break_glass", []).append({
            "by": event["actor"], "reason": event["data"]["reason"],
            "at": event["occurred_at"], "until": event["data"]["until"],
            "event_id": event["event_id"]})
