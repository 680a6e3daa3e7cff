"""Case conferences on one client's care plan: what was decided about *this* client.

A pure fold over public ``case_conference.*`` events (``contracts.v1.events``). A
conference-wide event (``client_ids`` in its data) is applied once to each of its clients'
plans; an agenda-item event (``client_id``) only to its client's. Each plan keeps only its
own client's agenda item, never the other clients'. This is the full-depth view for the
clinical team: security labels are kept beside sensitive parts (information shared, risk
review, addenda) so the per-role views can leave them out when they write theirs.

Each entry of ``plan["conferences"]`` (keyed by conference id) holds: ``conference_id``,
``title``, ``status``, ``scheduled_for``, ``chair``, ``invitations``, ``attendees``,
``disciplines_present``, ``previous_conference_id``, ``agenda_item``,
``previous_actions_reviewed``, ``signed_off_by``, ``signed_off_at``, ``ended_reason``,
``addenda``.
"""

from __future__ import annotations

import copy
from typing import Any

Doc = dict[str, Any]

PREFIX = "case_conference."

STATUS_AFTER = {
    "case_conference.scheduled": "scheduled",
    "case_conference.session_started": "in-session",
    "case_conference.adjourned": "adjourned",
    "case_conference.finalized": "finalized",
    "case_conference.cancelled": "cancelled",
    "case_conference.entered_in_error": "entered-in-error",
}


def concerns(event: Doc) -> list[str]:
    """The clients whose plans an event changes (the key function for routing)."""
    data = event.get("data") or {}
    if data.get("client_ids") is not None:
        return [str(c) for c in data["client_ids"]]
    client_id = data.get("client_id") or event.get("client_id")
    return [str(client_id)] if client_id else []


def apply(plan: Doc, event: Doc) -> None:
    """Fold one ``case_conference.*`` event into ``plan`` (in place); others are ignored."""
    kind = event["event_type"]
    client_id = _client_of(plan, event)
    if not kind.startswith(PREFIX) or client_id is None or client_id not in concerns(event):
        return
    conferences = plan.setdefault("conferences", {})
    conference_id = str(event["aggregate_id"])
    data = copy.deepcopy(event["data"])  # one plan's document never shares parts with another's
    if kind == "case_conference.scheduled":
        conferences[conference_id] = _scheduled(conference_id, client_id, data)
    entry = conferences.get(conference_id)
    if entry is None:  # never saw it scheduled for this client: keep what we know, don't invent
        return
    entry["status"] = STATUS_AFTER.get(kind, entry["status"])
    _STEPS.get(kind, _nothing)(entry, data, event)


def _client_of(plan: Doc, event: Doc) -> str | None:
    known = plan.get("client_id") or event.get("client_id")
    if known:
        return str(known)
    clients = concerns(event)
    return clients[0] if len(clients) == 1 else None


def _by(event: Doc) -> Doc:
    return {"actor": copy.deepcopy(event["actor"]), "occurred_at": event["occurred_at"],
            "event_id": event["event_id"]}


def _scheduled(conference_id: str, client_id: str, data: Doc) -> Doc:
    carried = [str(c) for c in data.get("carried_over_client_ids", [])]
    return {
        "conference_id": conference_id,
        "title": data.get("title"),
        "status": "scheduled",
        "scheduled_for": data["scheduled_for"],
        "chair": data["chair"],
        "invitations": data["invitations"],
        "attendees": [],
        "disciplines_present": [],
        "previous_conference_id": data.get("previous_conference_id"),
        "agenda_item": {
            "client_id": client_id,
            "carried_over": client_id in carried,
            "agreement": None,
            "outcome": "pending",
            "deferral_reason": None,
            "information_shared": [],
            "risk_review": None,
            "decisions": [],
            "dissent": None,
            "action_items": {},
            "security": None,
            "minuted": None,
        },
        "previous_actions_reviewed": {},
        "signed_off_by": None,
        "signed_off_at": None,
        "ended_reason": None,
        "addenda": [],
    }


def _nothing(entry: Doc, data: Doc, event: Doc) -> None:
    return None


def _attendance(entry: Doc, data: Doc, event: Doc) -> None:
    seen = {(a["id"], a["organisation"]) for a in entry["attendees"]}
    entry["attendees"] += [a for a in data["attendees"]
                           if (a["id"], a["organisation"]) not in seen]


def _agreed(entry: Doc, data: Doc, event: Doc) -> None:
    entry["agenda_item"]["agreement"] = {"kind": "agreed", "method": data["method"],
                                         "note": data.get("note", ""), **_by(event)}


def _safeguarding(entry: Doc, data: Doc, event: Doc) -> None:
    entry["agenda_item"]["agreement"] = {"kind": "safeguarding-exception",
                                         "reason": data["reason"], **_by(event)}


def _started(entry: Doc, data: Doc, event: Doc) -> None:
    entry["disciplines_present"] = data.get("disciplines_present", [])


def _discussed(entry: Doc, data: Doc, event: Doc) -> None:
    item = entry["agenda_item"]
    item.update(outcome="discussed", information_shared=data["information_shared"],
                risk_review=data["risk_review"], decisions=data["decisions"],
                dissent=data["dissent"], security=data.get("security"), minuted=_by(event))
    for a in data["action_items"]:
        item["action_items"][str(a["action_item_id"])] = {**a, "task_id": None}


def _deferred(entry: Doc, data: Doc, event: Doc) -> None:
    entry["agenda_item"].update(outcome="deferred", deferral_reason=data["reason"],
                                minuted=_by(event))


def _assigned(entry: Doc, data: Doc, event: Doc) -> None:
    action = entry["agenda_item"]["action_items"].get(str(data["action_item_id"]))
    if action is not None:
        action.update(owner=data["owner"], due=data["due"])


def _reviewed(entry: Doc, data: Doc, event: Doc) -> None:
    entry["previous_actions_reviewed"][str(data["action_item_id"])] = {
        "outcome": data["outcome"], "note": data.get("note", ""), **_by(event)}


def _finalized(entry: Doc, data: Doc, event: Doc) -> None:
    entry["signed_off_by"], entry["signed_off_at"] = event["actor"], event["occurred_at"]
    actions = entry["agenda_item"]["action_items"]
    for task in data.get("tasks", []):
        action = actions.get(str(task["action_item_id"]))
        if action is not None:
            action.update(owner=task["owner"], due=task["due"], task_id=task["task_id"])


def _ended(entry: Doc, data: Doc, event: Doc) -> None:
    entry["ended_reason"] = data["reason"]


def _addendum(entry: Doc, data: Doc, event: Doc) -> None:
    addendum_id = str(data["addendum_id"])
    if any(a["addendum_id"] == addendum_id for a in entry["addenda"]):
        return
    entry["addenda"].append({
        "addendum_id": addendum_id,
        "about": "agenda-item" if data.get("client_id") else "minutes",
        "text": data["text"], "security": data.get("security"), **_by(event)})


_STEPS = {
    "case_conference.attendance_recorded": _attendance,
    "case_conference.discussion_agreed": _agreed,
    "case_conference.safeguarding_exception_recorded": _safeguarding,
    "case_conference.session_started": _started,
    "case_conference.item_discussed": _discussed,
    "case_conference.item_deferred": _deferred,
    "case_conference.action_item_assigned": _assigned,
    "case_conference.previous_action_reviewed": _reviewed,
    "case_conference.finalized": _finalized,
    "case_conference.cancelled": _ended,
    "case_conference.entered_in_error": _ended,
    "case_conference.addendum_added": _addendum,
}
