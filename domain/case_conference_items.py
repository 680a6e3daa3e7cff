"""The case conference's vocabulary, the state its events build, and its refusals.

Events carry plain dicts and lists (what the event store can write); the dataclasses here
are only ever built inside event bodies, so nothing but primitives is stored for good. The
checks at the bottom turn what a sender supplied into those dicts, or refuse it naming the
rule, the conference's state and the field.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from domain.care_plan import NEED_DOMAINS
from domain.case_conference_errors import (
    DetailRequired,
    DissentNotStated,
    DuplicateActionItem,
    RationaleRequired,
    UnknownCode,
)
from domain.provenance import Actor
from domain.security import (
    DOMESTIC_VIOLENCE,
    PSYCHIATRIC,
    SUBSTANCE_USE,
    UNLABELLED,
    SecurityLabels,
)

Data = dict[str, Any]

DISCIPLINE_OF_ROLE = {
    "psychiatrist": "psychiatry",
    "clinical-social-worker": "clinical-social-work",
    "housing-advocate": "housing",
    "benefits-advocate": "benefits",
    "coordinator": "care-coordination",
}
"""A person's discipline follows from the role they act in. Care coordination counts as a
discipline of its own for the quorum: coordinators bring the whole-plan view."""

MEDICAL = "psychiatry"
"""The medical practitioner's discipline a quorum cannot do without."""
OTHER_DISCIPLINES_NEEDED = 2
DISCIPLINES = tuple(DISCIPLINE_OF_ROLE.values())

RISK_LEVELS = ("low", "moderate", "high", "imminent")
AGREEMENT_METHODS = ("verbal", "written", "via-representative")
REVIEW_OUTCOMES = ("done", "in-progress", "not-done", "no-longer-needed")
ACTION_DOMAINS = NEED_DOMAINS
NO_DISSENT = "none"

SENSITIVE_TOPICS: dict[str, SecurityLabels] = {
    "substance-use": SUBSTANCE_USE,
    "domestic-violence": DOMESTIC_VIOLENCE,
}
RISK_REVIEW_LABELS = PSYCHIATRIC
"""A risk review is clinical risk information: advocates see only a safety flag, never it."""

_CONFIDENTIALITY_ORDER = ("N", "R", "V")


def combine(*parts: SecurityLabels) -> SecurityLabels:
    """The most restrictive confidentiality and every sensitivity and law of the parts."""
    conf = max((p["confidentiality"] for p in parts), key=_CONFIDENTIALITY_ORDER.index,
               default="N")
    return {"confidentiality": conf,
            "sensitivity": sorted({s for p in parts for s in p["sensitivity"]}),
            "law": sorted({law for p in parts for law in p["law"]})}


def shared_by(discipline: str, topic: str | None) -> SecurityLabels:
    """Labels for what one discipline shared: psychiatry's input is psychiatric (PSY);
    a flagged topic adds its own labels (substance use carries 42 CFR Part 2)."""
    base = PSYCHIATRIC if discipline == MEDICAL else UNLABELLED
    return combine(base, SENSITIVE_TOPICS[topic]) if topic else combine(base)


@dataclass(frozen=True)
class Person:
    """Someone invited, attending or chairing; known by id within their organisation."""

    id: str
    role: str
    organisation: str

    @classmethod
    def of(cls, data: Data) -> Person:
        return cls(id=data["id"], role=data["role"], organisation=data["organisation"])

    def as_dict(self) -> Data:
        return {"id": self.id, "role": self.role, "organisation": self.organisation}

    @property
    def discipline(self) -> str:
        return DISCIPLINE_OF_ROLE[self.role]

    def is_actor(self, actor: Actor) -> bool:
        return (self.id, self.organisation) == (actor.id, actor.organisation)


@dataclass
class AgendaItem:
    """One client's place on the agenda: may they be discussed, and what became of it."""

    carried_over: bool
    agreement: str | None = None
    """'agreed' or 'safeguarding-exception' once recorded."""
    outcome: str = "pending"
    """'pending', then 'discussed' or 'deferred'."""


@dataclass
class ActionItem:
    client_id: UUID
    title: str
    domain: str
    owner: str | None
    due: date | None

    @property
    def assigned(self) -> bool:
        return self.owner is not None and self.due is not None


@dataclass
class PreviousAction:
    """An action item of the previous conference, to be reviewed before sign-off."""

    client_id: UUID
    title: str
    owner: str
    due: date
    review: str | None = None


# -- checking and normalising what senders supply ------------------------------------------
# ``where`` says which conference in which state, so every refusal names rule, state, field.

def require_text(where: str, value: object, field: str, rule: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise DetailRequired(f"{where}; {rule} ({field} is blank)", field=field)


def require_one_of(where: str, value: object, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise UnknownCode(f"{where}; '{value}' is not one of {', '.join(allowed)}", field=field)


def person_of(where: str, d: Data, at: str) -> Person:
    require_text(where, d.get("id"), f"{at}.id", "a person is named by id")
    require_one_of(where, d.get("role"), tuple(DISCIPLINE_OF_ROLE), f"{at}.role")
    require_text(where, d.get("organisation"), f"{at}.organisation",
                 "a person acts for an organisation")
    return Person.of(d)


def information_of(where: str, d: Data, at: str) -> Data:
    require_one_of(where, d.get("discipline"), DISCIPLINES, f"{at}.discipline")
    require_text(where, d.get("summary"), f"{at}.summary", "information shared needs a summary")
    topic = d.get("sensitive_topic")
    if topic is not None:
        require_one_of(where, topic, tuple(SENSITIVE_TOPICS), f"{at}.sensitive_topic")
    return {"discipline": d["discipline"], "summary": d["summary"], "sensitive_topic": topic,
            "security": shared_by(d["discipline"], topic)}


def risk_review_of(where: str, d: Data) -> Data:
    require_one_of(where, d.get("level"), RISK_LEVELS, "payload.risk_review.level")
    require_text(where, d.get("summary"), "payload.risk_review.summary",
                 "the risk review needs a summary")
    return {"level": d["level"], "summary": d["summary"], "security": combine(RISK_REVIEW_LABELS)}


def decision_of(where: str, d: Data, at: str) -> Data:
    require_text(where, d.get("decision"), f"{at}.decision", "a decision says what was decided")
    rationale = d.get("rationale")
    if not isinstance(rationale, str) or not rationale.strip():
        raise RationaleRequired(f"{where}; every decision records its rationale "
                                f"({at}.rationale is blank)", field=f"{at}.rationale")
    return {"decision": d["decision"], "rationale": rationale}


def dissent_of(where: str, dissent: str | list[Data]) -> str | list[Data]:
    if dissent == NO_DISSENT:
        return NO_DISSENT
    if isinstance(dissent, str) or not dissent:
        raise DissentNotStated(f"{where}; dissent is recorded for every discussed item: list "
                               "who dissented and why, or say 'none' explicitly",
                               field="payload.dissent")
    out = []
    for i, d in enumerate(dissent):
        at = f"payload.dissent.{i}"
        require_one_of(where, d.get("discipline"), DISCIPLINES, f"{at}.discipline")
        require_text(where, d.get("view"), f"{at}.view", "a dissent states the view")
        out.append({"discipline": d["discipline"], "view": d["view"]})
    return out


def action_item_of(where: str, d: Data, at: str, taken: Collection[UUID]) -> Data:
    """Owner and due date may follow later (conference.action_item_assigned)."""
    aid = d.get("action_item_id")
    if not isinstance(aid, UUID) or aid in taken:
        raise DuplicateActionItem(f"{where}; action item {aid} needs an id (UUID) not used "
                                  "before in this conference", field=f"{at}.action_item_id")
    require_text(where, d.get("title"), f"{at}.title", "an action item needs a title")
    require_one_of(where, d.get("domain"), ACTION_DOMAINS, f"{at}.domain")
    owner, due = d.get("owner"), d.get("due")
    if owner is not None:
        require_text(where, owner, f"{at}.owner", "an owner, when given, names someone")
    if due is not None and not isinstance(due, date):
        raise DetailRequired(f"{where}; a due date, when given, is a date", field=f"{at}.due")
    return {"action_item_id": aid, "title": d["title"], "domain": d["domain"], "owner": owner,
            "due": due}
