"""Resource ids and references: the same ids for the care-plan export and the audit trail.

careloop's own ids are UUIDs and are used as they are (a referral's ServiceRequest is
``ServiceRequest/<referral_id>``). Resources careloop has no single id for (a client's care
team, a referral's Task, one client's minutes of a conference) get a name-based UUID, so the
same resource has the same id in every export and every audit bundle.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.care_plan import CarePlan
from services.fhir.codes import ACTOR_SYSTEM, ORGANISATION_SYSTEM

FHIR_NAMESPACE = uuid5(NAMESPACE_URL, "https://careloop.invalid/fhir")


def derived(kind: str, *parts: str) -> str:
    return str(uuid5(FHIR_NAMESPACE, ":".join((kind, *parts))))


def care_plan_id(client_id: str) -> str:
    """The CarePlan aggregate's own id, as the audit Provenance names it."""
    return str(CarePlan.id_for(UUID(client_id)))


def care_team_id(client_id: str) -> str:
    return derived("care-team", client_id)


def need_id(need: str) -> str:
    """A need is a Condition, as a diagnosis is: its own id space, so a sender reusing one
    UUID for both cannot make one hide the other."""
    return derived("need", need)


def referral_task_id(referral_id: str) -> str:
    return derived("referral-task", referral_id)


def minutes_id(conference_id: str, client_id: str) -> str:
    return derived("minutes", conference_id, client_id)


def action_item_task_id(conference_id: str, action_item_id: str) -> str:
    """The care-plan task the action item becomes on sign-off (same rule as the domain)."""
    return str(uuid5(UUID(conference_id), action_item_id))


def summary_id(client_id: str, section: str, index: int) -> str:
    """An entry of a summary view that carries no id of its own (the coordinator's)."""
    return derived("summary", client_id, section, str(index))


def ref(resource_type: str, resource_id: str, display: str | None = None) -> dict[str, Any]:
    out = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        out["display"] = display
    return out


def person(actor: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """A logical reference to a person by careloop's actor id (no resource is exported).
    Everyone who acts in careloop is a practitioner of some organisation."""
    if not actor:
        return None
    if isinstance(actor, str):
        return {"type": "Practitioner", "identifier": {"system": ACTOR_SYSTEM, "value": actor},
                "display": actor}
    display = actor["id"]
    if actor.get("role"):
        display += f" ({actor['role']}, {actor.get('organisation', '')})"
    return {"type": "Practitioner",
            "identifier": {"system": ACTOR_SYSTEM, "value": actor["id"]}, "display": display}


def organisation(name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    return {"type": "Organization",
            "identifier": {"system": ORGANISATION_SYSTEM, "value": name}, "display": name}
