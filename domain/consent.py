"""Consent provisions (FHIR Consent, simplified): who may receive which data, for what, when.

Pure rules, shared by the domain (may a referral go out?) and by the projections (what does
each (role, organisation) see?). A recipient is always a pair: a provision that names roles
and organisations matches only a recipient that has one of those roles *and* belongs to one
of those organisations; a provision that names only roles (or only organisations) matches on
that alone. A Part 2 (42 CFR Part 2) provision always names organisations, so it never
reaches an organisation it does not name, whatever the role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

CONSENT_STATUSES = ("draft", "active", "inactive", "rejected", "entered-in-error")
PURPOSES = ("treatment", "care-coordination")
DATA_CATEGORIES = ("housing", "benefits", "clinical", "psychiatric", "substance-use",
                   "psychotherapy", "conference-minutes")


@dataclass
class Consent:
    status: str
    provision: str  # permit | deny
    recipient_roles: list[str]
    recipient_organisations: list[str]
    purposes: list[str]
    data_categories: list[str]
    period_start: date
    period_end: date | None
    part2: bool
    recorded_by: str = ""
    """The organisation that recorded the consent (custodian or Part 2 programme)."""
    evidence: dict[str, str | None] | None = None
    """Who signed, how, when, which document (see ``domain.consent_evidence``)."""

    def names(self, role: str, organisation: str) -> bool:
        """Does this provision name the recipient (role AND organisation where both are
        named)? A Part 2 provision must name the organisation."""
        if not self.recipient_roles and not self.recipient_organisations:
            return False
        if self.part2 and organisation not in self.recipient_organisations:
            return False
        role_ok = not self.recipient_roles or role in self.recipient_roles
        org_ok = not self.recipient_organisations or organisation in self.recipient_organisations
        return role_ok and org_ok

    def in_force(self, on: date) -> bool:
        return self.status == "active" and self.period_start <= on and (
            self.period_end is None or on <= self.period_end)

    def covers(self, role: str, organisation: str, purpose: str, category: str, on: date) -> bool:
        return (self.in_force(on) and self.names(role, organisation)
                and purpose in self.purposes and category in self.data_categories)


def decide(consents: list[Consent], role: str, organisation: str, purpose: str, category: str,
           on: date) -> bool:
    """Permitted when an active permit covers it and no active deny does (deny wins)."""
    covering = [c for c in consents if c.covers(role, organisation, purpose, category, on)]
    return any(c.provision == "permit" for c in covering) and not any(
        c.provision == "deny" for c in covering)


def denied(consents: list[Consent], role: str, organisation: str, purpose: str, category: str,
           on: date) -> bool:
    """Does an active deny provision name this recipient for this category and purpose? A
    deny overrides what the default policy would otherwise show."""
    return any(c.provision == "deny" and c.covers(role, organisation, purpose, category, on)
               for c in consents)
