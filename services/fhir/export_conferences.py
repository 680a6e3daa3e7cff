"""A case conference as FHIR: an Encounter (the meeting), a Composition (this client's
minutes, line by line as the view holds them) and a Task per action item.

Labels apply to the smallest unit the view keeps: a line the role may not see is already
absent from its view; the Composition carries the labels of the lines that remain.
"""

from __future__ import annotations

import html
from typing import Any

from services.fhir import ids
from services.fhir.bundle import BundleBuilder
from services.fhir.codes import CONFERENCE_SYSTEM, TASK_KIND_SYSTEM, concept, merge_labels

Doc = dict[str, Any]

ENCOUNTER_STATUS = {"draft": "planned", "scheduled": "planned", "in-session": "in-progress",
                    "adjourned": "finished", "finalized": "finished",
                    "cancelled": "cancelled", "entered-in-error": "entered-in-error"}


def _div(*lines: str) -> Doc:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line) or "<p>none</p>"
    return {"status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def _section(title: str, *lines: str, entries: list[Doc] | None = None) -> Doc:
    out: Doc = {"title": title, "text": _div(*lines)}
    if entries:
        out["entry"] = entries
    return out


def encounter(view: Doc, c: Doc) -> Doc:
    people = [c.get("chair"), *(c.get("attendees") or [])]
    return {
        "resourceType": "Encounter", "id": c["conference_id"],
        "status": ENCOUNTER_STATUS.get(c.get("status") or "", "unknown"),
        "class": {"system": CONFERENCE_SYSTEM, "code": "case-conference",
                  "display": "interdisciplinary case conference"},
        "type": [concept(CONFERENCE_SYSTEM, "case-conference", text=c.get("title"))],
        "subject": ids.ref("Patient", view["client_id"]),
        "participant": [{"individual": ids.person(p)} for p in people if p],
        "period": {"start": c["scheduled_for"]} if c.get("scheduled_for") else None,
    }


def action_tasks(view: Doc, c: Doc, out: BundleBuilder) -> list[Doc]:
    refs = []
    item = c.get("agenda_item") or {}
    for aid, action in (item.get("action_items") or {}).items():
        task_id = action.get("task_id") or ids.action_item_task_id(c["conference_id"], aid)
        if not out.has("Task", task_id):  # not yet a care-plan task the view holds
            resource: Doc = {
                "resourceType": "Task", "id": task_id,
                "status": "requested" if c.get("status") == "finalized" else "draft",
                "intent": "plan",
                "code": concept(TASK_KIND_SYSTEM, "conference-action-item"),
                "description": action.get("title"),
                "for": ids.ref("Patient", view["client_id"]),
                "encounter": ids.ref("Encounter", c["conference_id"]),
                "owner": ids.person(action.get("owner")),
            }
            if action.get("due"):
                resource["restriction"] = {"period": {"end": action["due"]}}
            out.add(resource)
        refs.append(ids.ref("Task", task_id))
    return refs


def composition(view: Doc, c: Doc, tasks: list[Doc]) -> tuple[Doc, Any]:
    item = c.get("agenda_item") or {}
    shared = item.get("information_shared") or []
    risk = item.get("risk_review") or {}
    addenda = c.get("addenda") or []
    sections = [
        _section("Information shared",
                 *(f"{s.get('discipline')}: {s.get('summary')}" for s in shared)),
        _section("Risk review", f"{risk.get('level')}: {risk.get('summary')}" if risk else ""),
        _section("Decisions", *(f"{d.get('decision')} (rationale: {d.get('rationale')})"
                                for d in item.get("decisions") or [])),
        _section("Dissent", item.get("dissent") or ""),
        _section("Action items", *(f"{a.get('title')} (owner {a.get('owner')}, due "
                                    f"{a.get('due')})"
                                    for a in (item.get("action_items") or {}).values()),
                 entries=tasks),
    ]
    if item.get("outcome") == "deferred":
        sections.append(_section("Deferred", item.get("deferral_reason") or ""))
    if addenda:
        sections.append(_section("Addenda", *(f"{a.get('occurred_at')}: {a.get('text')}"
                                              for a in addenda)))
    signed = c.get("status") == "finalized"
    resource: Doc = {
        "resourceType": "Composition", "id": ids.minutes_id(c["conference_id"],
                                                            view["client_id"]),
        "status": ("amended" if addenda else "final") if signed else "preliminary",
        "type": concept(CONFERENCE_SYSTEM, "minutes", "case conference minutes"),
        "subject": ids.ref("Patient", view["client_id"]),
        "encounter": ids.ref("Encounter", c["conference_id"]),
        "date": c.get("signed_off_at") or c.get("scheduled_for"),
        "author": [p for p in [ids.person(c.get("chair"))] if p] or [{"display": "careloop"}],
        "title": c.get("title") or "Case conference minutes",
        "section": sections,
    }
    if signed and c.get("signed_off_by"):
        resource["attester"] = [{"mode": "legal", "time": c.get("signed_off_at"),
                                 "party": ids.person(c["signed_off_by"])}]
    labels = merge_labels(item.get("security"), risk.get("security"),
                          *(s.get("security") for s in shared),
                          *(a.get("security") for a in addenda))
    return resource, labels


def conferences(view: Doc, out: BundleBuilder) -> None:
    for c in (view.get("conferences") or {}).values():
        out.add(encounter(view, c))
        tasks = action_tasks(view, c, out)
        minutes, labels = composition(view, c, tasks)
        out.add(minutes, labels)
