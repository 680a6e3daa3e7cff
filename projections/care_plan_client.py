"""Client events folded into the care plan: identity, safe contact, care team, consents."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def apply(plan: Doc, event: Doc) -> None:
    kind, data = event["event_type"], event["data"]
    if kind in ("client.registered", "client.demographics_updated"):
        identity = plan["client"] or {"registered_at": event["occurred_at"],
                                      "registered_by": event["actor"]}
        identity.update(given_name=data["given_name"], family_name=data["family_name"],
                        birth_date=data["birth_date"],
                        preferred_language=data.get("preferred_language"))
        plan["client"] = identity
    elif kind == "client.contact_updated":
        plan["contact"] = {k: data[k] for k in ("address", "phone", "safe_contact_method",
                                                "may_leave_messages", "address_confidential",
                                                "security")}
    elif kind == "client.discharged":
        plan["status"] = "discharged"
        plan["discharge"] = {"reason": data["reason"], "on": data["on"]}
    elif kind == "client.care_team_member_added":
        plan.setdefault("care_team", {})[data["member_id"]] = {
            "member_id": data["member_id"], "role": data["role"],
            "organisation": data["organisation"], "period_start": data["start"],
            "period_end": data["end"]}
    elif kind == "client.care_team_membership_ended":
        plan.setdefault("care_team", {}).get(data["member_id"], {})["period_end"] = data["end"]
    elif kind == "client.consent_recorded":
        plan.setdefault("consents", {})[str(data["consent_id"])] = {
            k: data[k] for k in ("status", "provision", "recipient_roles",
                                 "recipient_organisations", "purposes", "data_categories",
                                 "period_start", "period_end", "part2")}
    elif kind == "client.consent_status_changed":
        consent = plan.setdefault("consents", {}).get(str(data["consent_id"]))
        if consent is not None:
            consent["status"] = data["status"]
            consent["status_reason"] = data["reason"]
