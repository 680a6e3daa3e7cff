"""Whose client is this? The organisations related to a client, and who is on its caseload.

Pure functions of the full care-plan document. A client's custodian is the organisation of
the person whose system registered the client (the registration's provenance). An
organisation relates to a client as custodian or through a care-team member of its own whose
period covers today. Coordinators and auditors see the clients their organisation relates to;
clinicians and advocates see the clients on their own caseload (they are on the care team,
with that role, for that organisation, today).

The scope document (one per client, view ``client_scope``) holds just enough to decide this
at read time from a fresh source: the custodian and the care team with its periods.
"""

from __future__ import annotations

from datetime import date
from typing import Any

Doc = dict[str, Any]

SCOPE_VIEW = "client_scope"


def custodian(full: Doc) -> str | None:
    registered_by = (full.get("client") or {}).get("registered_by") or {}
    organisation = registered_by.get("organisation")
    return str(organisation) if organisation else None


def members(full: Doc) -> list[Doc]:
    return [{k: m.get(k) for k in ("member_id", "role", "organisation", "period_start",
                                   "period_end")}
            for m in (full.get("care_team") or {}).values()]


def organisations(full: Doc) -> list[str]:
    """Every organisation that is, or ever was, related to the client (custodian first)."""
    first = custodian(full)
    rest = sorted({str(m["organisation"]) for m in members(full)} - {first})
    return ([first] if first else []) + rest


def organisations_with_role(full: Doc, role: str) -> list[str]:
    """Organisations that have, or ever had, a care-team member in ``role``."""
    return sorted({str(m["organisation"]) for m in members(full) if m["role"] == role})


def scope_doc(full: Doc) -> Doc:
    return {"client_id": full["client_id"], "custodian": custodian(full),
            "care_team": members(full)}


def active(member: Doc, today: date) -> bool:
    start, end = member.get("period_start"), member.get("period_end")
    return (not start or date.fromisoformat(str(start)[:10]) <= today) and (
        not end or today <= date.fromisoformat(str(end)[:10]))


def related(scope: Doc | None, organisation: str, today: date) -> bool:
    """Is ``organisation`` the custodian or on the team today?"""
    if scope is None:
        return False
    if scope.get("custodian") == organisation:
        return True
    return any(m["organisation"] == organisation and active(m, today)
               for m in scope.get("care_team") or [])


def on_caseload(scope: Doc | None, user: str, role: str, organisation: str,
                today: date) -> bool:
    """Is this very person (id, role and organisation all match) on the team today?"""
    if scope is None:
        return False
    return any(m["member_id"] == user and m["role"] == role
               and m["organisation"] == organisation and active(m, today)
               for m in scope.get("care_team") or [])
