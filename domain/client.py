"""The client: a person served by the team. Identity, safe contact, care team, consents.

The care team defines caseloads (who may see the client at all); consents decide what
crosses to non-clinical recipients. A discharged client takes no new facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.consent import CONSENT_STATUSES, DATA_CATEGORIES, PURPOSES, Consent, decide
from domain.consent_evidence import Evidence
from domain.errors import ClientDischarged, DomainError
from domain.provenance import Provenance
from domain.security import DOMESTIC_VIOLENCE, UNLABELLED, SecurityLabels

CONTACT_METHODS = ("phone", "mail", "in-person", "via-coordinator")


class ContactRuleBroken(DomainError):
    """The contact details break a safe-contact rule (e.g. mail to a confidential address)."""

    code = "unsafe_contact"


class CareTeamRuleBroken(DomainError):
    """The care-team change breaks a membership rule (period, duplicate, unknown member)."""

    code = "care_team_rule"


class ConsentRuleBroken(DomainError):
    """The consent change breaks a consent rule (status, period, provisions)."""

    code = "consent_rule"


class Part2ConsentNeedsOrganisations(ConsentRuleBroken):
    """Rule part2_names_recipient_organisations: a 42 CFR Part 2 consent names organisations, not only roles."""

    code = "part2_consent_needs_organisations"
    rule = "part2_names_recipient_organisations"


@dataclass
class Membership:
    role: str
    organisation: str
    start: date
    end: date | None = None

    def active_on(self, on: date) -> bool:
        return self.start <= on and (self.end is None or on <= self.end)


class Client(Aggregate):
    @event("Registered")
    def __init__(
        self,
        id: UUID,
        given_name: str,
        family_name: str,
        birth_date: date,
        preferred_language: str | None,
        provenance: Provenance,
    ) -> None:
        self.given_name = given_name
        self.family_name = family_name
        self.birth_date = birth_date
        self.preferred_language = preferred_language
        self.registered_by = provenance.actor
        self.discharged = False
        self.address_confidential = False
        self.care_team: dict[str, Membership] = {}
        self.consents: dict[UUID, Consent] = {}

    @classmethod
    def register(
        cls,
        client_id: UUID,
        given_name: str,
        family_name: str,
        birth_date: date,
        preferred_language: str | None,
        provenance: Provenance,
    ) -> Client:
        return cls(
            id=client_id,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            preferred_language=preferred_language,
            provenance=provenance,
        )

    @property
    def custodian(self) -> str:
        """The organisation whose system registered the client."""
        return self.registered_by.organisation

    def _require_open(self) -> None:
        if self.discharged:
            raise ClientDischarged(f"client {self.id} was discharged", field="payload.client_id")

    # -- identity and safe contact -----------------------------------------------------------

    def update_demographics(self, given_name: str, family_name: str, birth_date: date,
                            preferred_language: str | None, p: Provenance) -> None:
        self._require_open()
        self._demographics_updated(given_name=given_name, family_name=family_name,
                                   birth_date=birth_date, preferred_language=preferred_language,
                                   provenance=p)

    @event("DemographicsUpdated")
    def _demographics_updated(self, given_name: str, family_name: str, birth_date: date,
                              preferred_language: str | None, provenance: Provenance) -> None:
        self.given_name, self.family_name = given_name, family_name
        self.birth_date, self.preferred_language = birth_date, preferred_language

    def update_contact(self, address: str | None, phone: str | None, safe_contact_method: str,
                       may_leave_messages: bool, address_confidential: bool,
                       p: Provenance) -> None:
        """Safe-contact rules: never contact a client in a way that could endanger them."""
        self._require_open()
        if safe_contact_method not in CONTACT_METHODS:
            raise ContactRuleBroken(f"'{safe_contact_method}' is not one of "
                                    f"{', '.join(CONTACT_METHODS)}",
                                    field="payload.safe_contact_method")
        if safe_contact_method == "phone" and not phone:
            raise ContactRuleBroken("contact by phone needs a phone number", field="payload.phone")
        if may_leave_messages and not phone:
            raise ContactRuleBroken("messages can only be left on a phone number",
                                    field="payload.may_leave_messages")
        if safe_contact_method == "mail" and not address:
            raise ContactRuleBroken("contact by mail needs an address", field="payload.address")
        if address_confidential and safe_contact_method == "mail":
            raise ContactRuleBroken(
                "a confidential address (domestic violence) must not be used for mail; choose "
                "phone, in-person or via-coordinator", field="payload.safe_contact_method")
        security = DOMESTIC_VIOLENCE if address_confidential else UNLABELLED
        self._contact_updated(address=address, phone=phone,
                              safe_contact_method=safe_contact_method,
                              may_leave_messages=may_leave_messages,
                              address_confidential=address_confidential, security=security,
                              provenance=p)

    @event("ContactUpdated")
    def _contact_updated(self, address: str | None, phone: str | None, safe_contact_method: str,
                         may_leave_messages: bool, address_confidential: bool,
                         security: SecurityLabels, provenance: Provenance) -> None:
        self.address_confidential = address_confidential

    # -- care team ---------------------------------------------------------------------------

    def add_team_member(self, member_id: str, role: str, organisation: str, start: date,
                        end: date | None, p: Provenance) -> None:
        self._require_open()
        current = self.care_team.get(member_id)
        if current is not None and current.end is None:
            raise CareTeamRuleBroken(f"{member_id} is already on the care team",
                                     field="payload.member_id")
        if end is not None and end < start:
            raise CareTeamRuleBroken("a membership cannot end before it starts",
                                     field="payload.period_end")
        self._team_member_added(member_id=member_id, role=role, organisation=organisation,
                                start=start, end=end, provenance=p)

    @event("CareTeamMemberAdded")
    def _team_member_added(self, member_id: str, role: str, organisation: str, start: date,
                           end: date | None, provenance: Provenance) -> None:
        self.care_team[member_id] = Membership(role, organisation, start, end)

    def end_team_membership(self, member_id: str, end: date, p: Provenance) -> None:
        member = self.care_team.get(member_id)
        if member is None or member.end is not None:
            raise CareTeamRuleBroken(f"{member_id} has no open membership on the care team",
                                     field="payload.member_id")
        if end < member.start:
            raise CareTeamRuleBroken("a membership cannot end before it starts",
                                     field="payload.period_end")
        self._team_membership_ended(member_id=member_id, end=end, provenance=p)

    @event("CareTeamMembershipEnded")
    def _team_membership_ended(self, member_id: str, end: date, provenance: Provenance) -> None:
        self.care_team[member_id].end = end

    def on_caseload(self, member_id: str, on: date) -> bool:
        member = self.care_team.get(member_id)
        return member is not None and member.active_on(on)

    # -- consent -----------------------------------------------------------------------------

    def record_consent(self, consent_id: UUID, status: str, provision: str,
                       recipient_roles: list[str], recipient_organisations: list[str],
                       purposes: list[str], data_categories: list[str], period_start: date,
                       period_end: date | None, part2: bool, p: Provenance,
                       evidence: Evidence | None = None) -> None:
        self._require_open()
        field = "payload"
        if consent_id in self.consents:
            raise ConsentRuleBroken(f"consent {consent_id} is already recorded",
                                    field=f"{field}.consent_id")
        if status not in ("draft", "active", "rejected"):
            raise ConsentRuleBroken("a new consent is draft, active or rejected",
                                    field=f"{field}.status")
        if provision not in ("permit", "deny"):
            raise ConsentRuleBroken("provision is permit or deny", field=f"{field}.provision")
        if not recipient_roles and not recipient_organisations:
            raise ConsentRuleBroken("a consent names at least one recipient role or organisation",
                                    field=f"{field}.recipient_roles")
        for value, allowed, name in ((purposes, PURPOSES, "purposes"),
                                     (data_categories, DATA_CATEGORIES, "data_categories")):
            unknown = sorted(set(value) - set(allowed)) if value else ["(none)"]
            if unknown:
                raise ConsentRuleBroken(f"{name} must be among {', '.join(allowed)}; "
                                        f"got {', '.join(unknown)}", field=f"{field}.{name}")
        if period_end is not None and period_end < period_start:
            raise ConsentRuleBroken("the consent period ends before it starts",
                                    field=f"{field}.period_end")
        if "substance-use" in data_categories and provision == "permit" and not part2:
            raise ConsentRuleBroken(
                "disclosing substance-use treatment needs a 42 CFR Part 2 consent "
                "(part2: true)", field=f"{field}.part2")
        if part2 and not recipient_organisations:
            raise Part2ConsentNeedsOrganisations(
                "a 42 CFR Part 2 consent names the receiving organisation(s); a role alone "
                "is not enough", field=f"{field}.recipient_organisations")
        self._consent_recorded(consent_id=consent_id, status=status, provision=provision,
                               recipient_roles=recipient_roles,
                               recipient_organisations=recipient_organisations,
                               purposes=purposes, data_categories=data_categories,
                               period_start=period_start, period_end=period_end, part2=part2,
                               evidence=evidence, provenance=p)

    class ConsentRecorded(Aggregate.Event):
        """Version 2 carries the evidence of the client's decision; version 1 events (before
        evidence was recorded) replay with ``evidence`` None."""

        consent_id: UUID
        status: str
        provision: str
        recipient_roles: list[str]
        recipient_organisations: list[str]
        purposes: list[str]
        data_categories: list[str]
        period_start: date
        period_end: date | None
        part2: bool
        evidence: Evidence | None
        provenance: Provenance
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["evidence"] = None

    @event(ConsentRecorded)
    def _consent_recorded(self, consent_id: UUID, status: str, provision: str,
                          recipient_roles: list[str], recipient_organisations: list[str],
                          purposes: list[str], data_categories: list[str], period_start: date,
                          period_end: date | None, part2: bool, evidence: Evidence | None,
                          provenance: Provenance) -> None:
        self.consents[consent_id] = Consent(status, provision, list(recipient_roles),
                                            list(recipient_organisations), list(purposes),
                                            list(data_categories), period_start, period_end, part2,
                                            recorded_by=provenance.actor.organisation,
                                            evidence=evidence)

    def change_consent_status(self, consent_id: UUID, status: str, reason: str,
                              p: Provenance, evidence: Evidence | None = None) -> None:
        """activate a draft, revoke (→ inactive) an active one, or mark one entered in error."""
        consent = self.consents.get(consent_id)
        if consent is None:
            raise ConsentRuleBroken(f"no consent {consent_id}", field="payload.consent_id")
        allowed = {"draft": {"active", "rejected", "entered-in-error"},
                   "active": {"inactive", "entered-in-error"},
                   "inactive": {"entered-in-error"}, "rejected": {"entered-in-error"}}
        if status not in CONSENT_STATUSES or status not in allowed.get(consent.status, set()):
            raise ConsentRuleBroken(
                f"consent {consent_id} is '{consent.status}'; it cannot become '{status}'",
                field="payload.status")
        if status in ("inactive", "entered-in-error") and not reason.strip():
            raise ConsentRuleBroken("revoking a consent needs a reason", field="payload.reason")
        self._consent_status_changed(consent_id=consent_id, status=status, reason=reason,
                                     evidence=evidence, provenance=p)

    class ConsentStatusChanged(Aggregate.Event):
        """Version 2 may carry the evidence given when a draft is activated."""

        consent_id: UUID
        status: str
        reason: str
        evidence: Evidence | None
        provenance: Provenance
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["evidence"] = None

    @event(ConsentStatusChanged)
    def _consent_status_changed(self, consent_id: UUID, status: str, reason: str,
                                evidence: Evidence | None, provenance: Provenance) -> None:
        consent = self.consents[consent_id]
        consent.status = status
        if evidence is not None:
            consent.evidence = evidence

    def permits(self, role: str, organisation: str, purpose: str, category: str,
                on: date) -> bool:
        return decide(list(self.consents.values()), role, organisation, purpose, category, on)

    # -- discharge ---------------------------------------------------------------------------

    def discharge(self, reason: str, on: date, p: Provenance) -> None:
        self._require_open()
        if not reason.strip():
            raise DomainError("discharge needs a reason", field="payload.reason")
        self._discharged(reason=reason, on=on, provenance=p)

    @event("Discharged")
    def _discharged(self, reason: str, on: date, provenance: Provenance) -> None:
        self.discharged = True
