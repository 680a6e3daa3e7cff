"""Coordinator worklists: index rows derived from each client's full plan.

Rows hold dates, never verdicts: whether something is overdue or stale is decided when the
worklist is asked for ("overdue" is derived from due dates, never stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]

REFERRAL_AWAITING = "referral_awaiting_response"
REFERRAL_UNACKNOWLEDGED = "referral_unacknowledged"
CONFERENCE_OPEN = "conference_open"
TASK_OPEN = "task_open"
RISK_HIGH = "risk_high"
GOAL_OPEN = "goal_open"
BREAK_GLASS_OPENED = "break_glass_opened"

CLOSED_CONFERENCE = {"finalized", "cancelled", "entered-in-error"}
CLOSED_GOAL = {"completed", "cancelled", "rejected", "entered-in-error"}


@dataclass(frozen=True)
class Row:
    kind: str
    item_id: str
    date: str
    """ISO date the worklist compares with today (due date, scheduled date, last update)."""
    who: str
    """Whom it waits on: an organisation or an owner; filterable."""
    detail: Doc


def _day(value: Any) -> str:
    return str(value or "")[:10]


def rows_for(full: Doc, custodian: bool = False) -> list[Row]:
    """Rows of one coordinator view; the custodian's coordinators also get every break-glass
    opening of their client's record."""
    rows: list[Row] = []
    client = (full.get("client") or {})
    name = " ".join(filter(None, [client.get("given_name"), client.get("family_name")]))
    base = {"client_id": full["client_id"], "client_name": name}
    for rid, r in (full.get("referrals") or {}).items():
        detail = {**base, "referral_id": rid, "to_service": r["to_service"],
                  "to_organisation": r["to_organisation"], "status": r["status"],
                  "response_due": r.get("response_due"),
                  "response_deadline": r.get("response_deadline")}
        if r["status"] in ("requested", "received") and r.get("response_due"):
            rows.append(Row(REFERRAL_AWAITING, rid, r["response_due"], r["to_organisation"],
                            detail))
        if r["status"] in ("completed", "failed", "rejected") and not r["loop_closed"]:
            ended = r["history"][-1]["occurred_at"] if r["history"] else ""
            rows.append(Row(REFERRAL_UNACKNOWLEDGED, rid, _day(ended),
                            str(r["requested_by"]["organisation"]), detail))
    for cid, c in (full.get("conferences") or {}).items():
        if c["status"] not in CLOSED_CONFERENCE:
            rows.append(Row(CONFERENCE_OPEN, cid, _day(c.get("scheduled_for")),
                            str((c.get("chair") or {}).get("id", "")),
                            {**base, "conference_id": cid, "title": c.get("title"),
                             "status": c["status"], "scheduled_for": c.get("scheduled_for")}))
    for tid, t in (full.get("tasks") or {}).items():
        if t["status"] == "open":
            rows.append(Row(TASK_OPEN, tid, _day(t["due_date"]), t["owner"],
                            {**base, "task_id": tid, "title": t["title"], "owner": t["owner"],
                             "due_date": t["due_date"], "source": t["source"],
                             "domain": t["domain"]}))
    for fid, f in (full.get("risk_flags") or {}).items():
        if f["status"] == "active" and f["level"] in ("high", "imminent"):
            rows.append(Row(RISK_HIGH, fid, _day((f.get("raised") or {}).get("at")), "",
                            {**base, "flag_id": fid, "level": f["level"]}))
    for gid, g in (full.get("goals") or {}).items():
        if g["lifecycle_status"] not in CLOSED_GOAL:
            rows.append(Row(GOAL_OPEN, gid, _day(g.get("updated_at")), g["domain"],
                            {**base, "goal_id": gid, "domain": g["domain"],
                             "lifecycle_status": g["lifecycle_status"],
                             "updated_at": g.get("updated_at")}))
    if custodian:
        for n, b in enumerate(full.get("break_glass") or []):
            by = b.get("by") or {}
            rows.append(Row(BREAK_GLASS_OPENED, f"{n}", _day(b.get("at")),
                            str(by.get("organisation", "")),
                            {**base, "by": by, "reason": b.get("reason"), "at": b.get("at"),
                             "until": b.get("until")}))
    return rows
