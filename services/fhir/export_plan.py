"""CarePlan, needs (Condition, health concern), Goal and care-plan Task resources."""

from __future__ import annotations

from typing import Any

from services.fhir import ids
from services.fhir.bundle import BundleBuilder
from services.fhir.codes import (
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    DOMAIN_SYSTEM,
    GOAL_ACHIEVEMENT,
    SDOH_CATEGORY,
    SDOHCC_CODES,
    TASK_KIND_SYSTEM,
    concept,
)

Doc = dict[str, Any]

TASK_STATUS = {"open": "requested", "completed": "completed", "cancelled": "cancelled"}


def _domain(domain: str | None) -> list[Doc]:
    if not domain:
        return []
    out = [concept(DOMAIN_SYSTEM, domain, text=domain)]
    if domain in SDOH_CATEGORY:
        out.append(concept(SDOHCC_CODES, *SDOH_CATEGORY[domain]))
    return out


def needs(view: Doc, out: BundleBuilder) -> None:
    for need_id, need in (view.get("needs") or {}).items():
        out.add({
            "resourceType": "Condition", "id": ids.need_id(need_id),
            "clinicalStatus": concept(CONDITION_CLINICAL,
                                      "resolved" if need.get("resolved") else "active"),
            "category": [concept(CONDITION_CATEGORY, "problem-list-item", "Problem List Item"),
                         *_domain(need.get("domain"))],
            "code": {"text": need.get("description") or need.get("domain") or "need"},
            "subject": ids.ref("Patient", view["client_id"]),
            "recordedDate": need.get("updated_at"),
            "recorder": ids.person(need.get("updated_by")),
        }, need.get("security"))


def goals(view: Doc, out: BundleBuilder) -> None:
    for goal_id, goal in (view.get("goals") or {}).items():
        resource: Doc = {
            "resourceType": "Goal", "id": goal_id,
            "lifecycleStatus": goal.get("lifecycle_status") or "proposed",
            "category": _domain(goal.get("domain")),
            "description": {"text": goal.get("description") or "goal"},
            "subject": ids.ref("Patient", view["client_id"]),
            "expressedBy": ids.person(goal.get("updated_by")),
        }
        if goal.get("achievement_status"):
            resource["achievementStatus"] = concept(GOAL_ACHIEVEMENT,
                                                    goal["achievement_status"])
        if goal.get("target_date"):
            resource["target"] = [{"dueDate": goal["target_date"]}]
        if goal.get("need_id"):
            resource["addresses"] = [ids.ref("Condition", ids.need_id(goal["need_id"]))]
        out.add(resource, goal.get("security"))


def tasks(view: Doc, out: BundleBuilder) -> None:
    for task_id, task in (view.get("tasks") or {}).items():
        source = str(task.get("source") or "")
        resource: Doc = {
            "resourceType": "Task", "id": task_id,
            "status": TASK_STATUS.get(task.get("status") or "open", "requested"),
            "intent": "plan",
            "code": concept(TASK_KIND_SYSTEM, "care-plan-task", text=task.get("domain")),
            "description": task.get("title"),
            "for": ids.ref("Patient", view["client_id"]),
            "basedOn": [ids.ref("CarePlan", ids.care_plan_id(view["client_id"]))],
            "owner": ids.person(task.get("owner")),
            "lastModified": task.get("updated_at"),
        }
        if task.get("due_date"):
            resource["restriction"] = {"period": {"end": task["due_date"]}}
        if source.startswith("conference:"):
            resource["encounter"] = ids.ref("Encounter", source.split(":", 1)[1])
        out.add(resource, task.get("security"))


def care_plan(view: Doc, out: BundleBuilder) -> None:
    """The plan that ties the rest together; added last so it links what is present."""
    client_id = view["client_id"]
    activity = [{"reference": ids.ref(*key.split("/", 1))} for key in out.resources
                if key.split("/", 1)[0] in ("ServiceRequest", "Task")
                and out.resources[key].get("intent") in ("order", "plan")
                and "focus" not in out.resources[key]]
    resource: Doc = {
        "resourceType": "CarePlan", "id": ids.care_plan_id(client_id),
        "status": "completed" if view.get("status") == "discharged" else "active",
        "intent": "plan",
        "title": "Care plan",
        "subject": ids.ref("Patient", client_id),
        "careTeam": [ids.ref("CareTeam", ids.care_team_id(client_id))],
        "addresses": [ids.ref("Condition", ids.need_id(n)) for n in view.get("needs") or {}],
        "goal": [ids.ref("Goal", g) for g in view.get("goals") or {}],
        "activity": activity,
    }
    if view.get("updated_at"):
        resource["created"] = (view.get("client") or {}).get("registered_at")
    out.add({k: v for k, v in resource.items() if v not in (None, [])})
