"""What one audience, a (role, organisation) pair, may see of one client, from the client's
consents as they stand when the view is rendered.

Two kinds of rule meet here. Default rules say what a role sees with no consent at all (the
clinical team sees the clinical picture; an advocate sees nothing of its domain). Consent
changes that per recipient: a permit opens a category that needs one (an advocate's domain,
substance-use treatment under 42 CFR Part 2); a deny closes a category the default would show
(a client may refuse psychiatric data to coordinators, or minutes to one housing agency).
All functions are pure; the shared consent rule is ``domain.consent``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.consent import Consent, decide, denied
from projections.labels import is_psychiatric, is_psychotherapy_note, is_substance_use

Doc = dict[str, Any]
Predicate = Callable[[Doc], bool]

PURPOSE = {"clinical-social-worker": "treatment", "psychiatrist": "treatment",
           "housing-advocate": "care-coordination", "benefits-advocate": "care-coordination",
           "coordinator": "care-coordination"}
"""The purpose a role's view is rendered for: consents are decided for it."""

DENIABLE = ("housing", "benefits", "clinical", "psychiatric", "conference-minutes")
"""Categories a deny provision can close for roles that see them by default. (Substance use
needs a permit in the first place; psychotherapy notes never leave their author.)"""


def consents_of(full: Doc) -> list[Consent]:
    out = []
    for c in (full.get("consents") or {}).values():
        out.append(Consent(
            status=c["status"], provision=c["provision"],
            recipient_roles=list(c["recipient_roles"]),
            recipient_organisations=list(c["recipient_organisations"]),
            purposes=list(c["purposes"]), data_categories=list(c["data_categories"]),
            period_start=date.fromisoformat(c["period_start"]),
            period_end=date.fromisoformat(c["period_end"]) if c.get("period_end") else None,
            part2=bool(c["part2"])))
    return out


def on_date(full: Doc) -> date:
    """Consents are judged as of the last event folded into the plan (a replay renders the
    same view)."""
    return date.fromisoformat(str(full.get("updated_at") or "1970-01-01")[:10])


@dataclass(frozen=True)
class Audience:
    """One recipient of a rendered view, with what consent says for it."""

    role: str
    organisation: str
    part2: bool
    """Substance-use (Part 2) material: an active Part 2 permit names this organisation."""
    denied: frozenset[str]
    """Categories a deny provision closes for this recipient."""

    def may(self, category: str) -> bool:
        return category not in self.denied


def audience(full: Doc, role: str, organisation: str, purpose: str | None = None) -> Audience:
    consents, on = consents_of(full), on_date(full)
    why = purpose or PURPOSE.get(role, "care-coordination")
    part2 = decide([c for c in consents if c.part2], role, organisation, why, "substance-use",
                   on)
    closed = frozenset(c for c in DENIABLE if denied(consents, role, organisation, why, c, on))
    return Audience(role, organisation, part2, closed)


def permits(full: Doc, role: str, organisation: str, category: str,
            purpose: str = "care-coordination") -> bool:
    """An opt-in category (an advocate's domain): an active permit, and no deny."""
    return decide(consents_of(full), role, organisation, purpose, category, on_date(full))


def hidden(who: Audience) -> Predicate:
    """Labelled entries this audience must not get, wherever they sit in the plan."""

    def drop(entry: Doc) -> bool:
        if is_psychotherapy_note(entry):
            return True
        if is_substance_use(entry) and not who.part2:
            return True
        if is_psychiatric(entry) and not who.may("psychiatric"):
            return True
        return entry.get("domain") in who.denied

    return drop
