"""Which team systems may talk to careloop, and which organisations each speaks for.

NATS authenticates the system (its user may publish only under
``careloop.in.<system>.>``), the parser checks that ``source_system`` matches the subject,
and this registry closes the chain: the actor a message names must belong to an
organisation that system speaks for. A system cannot report facts as another team.
Loaded from the JSON file named by ``CARELOOP_PARTNERS_FILE`` (``deploy/partners.json``
holds the example systems). The registry is always on: embedded mode writes the demo
systems' registry under its data directory and uses it; with a NATS server of its own and
no registry configured, careloop refuses to start. An optional ``organisations`` object
says more about an organisation: ``{"riverside-psych": {"treating_provider": true}}``
registers it as a treating provider, whose clinicians may break the glass in an emergency.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contracts.v1.receipts import Problem
from services.settings import Settings


@dataclass(frozen=True)
class Partner:
    system: str
    organisations: frozenset[str]
    description: str = ""


class PartnerRegistry:
    def __init__(self, partners: Iterable[Partner],
                 treating_providers: Iterable[str] = ()) -> None:
        self.partners = {p.system: p for p in partners}
        self.treating_providers = frozenset(treating_providers)

    @classmethod
    def load(cls, path: Path) -> PartnerRegistry:
        doc = json.loads(path.read_text())
        organisations = doc.get("organisations") or {}
        return cls(
            (Partner(p["system"], frozenset(p["organisations"]), p.get("description", ""))
             for p in doc["partners"]),
            treating_providers=[name for name, about in organisations.items()
                                if isinstance(about, dict) and about.get("treating_provider")
                                is True],
        )

    def authorise(self, source_system: str, actor_organisation: str) -> Problem | None:
        """None when ``source_system`` may report acts of ``actor_organisation``'s people;
        otherwise the problem for the rejected receipt."""
        partner = self.partners.get(source_system)
        if partner is None:
            return Problem(
                code="unknown_source_system", field="source_system", rule="partner_registry",
                message=f"'{source_system}' is not a registered team system; "
                "ask the careloop operators to register it",
            )
        if actor_organisation not in partner.organisations:
            return Problem(
                code="actor_not_of_system", field="actor.organisation", rule="partner_registry",
                message=f"'{source_system}' may report acts of people at "
                f"{', '.join(sorted(partner.organisations))} only, not "
                f"'{actor_organisation}'",
            )
        return None


class RegistryNotConfigured(Exception):
    """careloop would accept facts from any system: it refuses to start instead."""


def load_partner_registry(settings: Settings) -> PartnerRegistry:
    """The configured registry; without one careloop does not run."""
    if settings.partners_file is None:
        raise RegistryNotConfigured(
            "no partner registry configured: set CARELOOP_PARTNERS_FILE to the JSON file "
            "naming each team system and the organisations it speaks for (see "
            "deploy/partners.json). careloop refuses to accept facts from unknown systems.")
    try:
        return PartnerRegistry.load(settings.partners_file)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RegistryNotConfigured(
            f"the partner registry {settings.partners_file} cannot be read "
            f"({type(e).__name__}: {e})") from e
