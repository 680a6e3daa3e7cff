"""Consent provisions (FHIR Consent, simplified): who may receive which data, for what, when."""

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

    def covers(self, role: str, organisation: str, purpose: str, category: str, on: date) -> bool:
        recipient = role in self.recipient_roles or organisation in self.recipient_organisations
        in_period = self.period_start <= on and (self.period_end is None or on <= self.period_end)
        return (self.status == "active" and recipient and purpose in self.purposes
                and category in self.data_categories and in_period)


def decide(consents: list[Consent], role: str, organisation: str, purpose: str, category: str,
           on: date) -> bool:
    """Permitted when an active permit covers it and no active deny does (deny wins)."""
    covering = [c for c in consents if c.covers(role, organisation, purpose, category, on)]
    return any(c.provision == "permit" for c in covering) and not any(
        c.provision == "deny" for c in covering)
