"""Authority to assert: which organisation may report which fact about a client.

careloop serves several organisations at once, so a role alone decides nothing: every rule
here names the organisation. A client's custodian is the organisation whose system
registered them; another organisation relates to the client only through an active
care-team member of its own. The command handlers call these rules before any domain
method, so a refused message changes nothing. Each refusal has its own code and names
its rule.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Protocol

from domain.errors import DomainError
from domain.provenance import Provenance

CLINICIANS = ("clinical-social-worker", "psychiatrist")
TEAM_KEEPERS = ("coordinator", *CLINICIANS)
"""Who at the custodian may add people to a client's care team or end their membership."""


class NotAuthorised(DomainError):
    """The sender's organisation may not assert this fact about this client."""

    code = "not_authorised"


class NotCustodian(NotAuthorised):
    """Rule custodian_only: registration, demographics, contact and discharge come from the client's custodian."""

    code = "not_custodian"
    rule = "custodian_only"


class NoRelationship(NotAuthorised):
    """Rule custodian_or_care_team: the sender's organisation is neither the custodian nor on the client's care team."""

    code = "no_relationship_to_client"
    rule = "custodian_or_care_team"


class CareTeamChangeRefused(NotAuthorised):
    """Rule care_team_kept_by_custodian: only the custodian's coordinator or clinicians add members; others end only their own."""

    code = "care_team_change_not_authorised"
    rule = "care_team_kept_by_custodian"


class ClinicalSourceNotOnTeam(NotAuthorised):
    """Rule clinical_data_from_care_team: clinical data from an organisation that is not the custodian or on the care team."""

    code = "organisation_not_on_care_team"
    rule = "clinical_data_from_care_team"


class ClinicianRequired(NotAuthorised):
    """Rule clinical_data_from_clinicians: clinical data comes from a clinical social worker or psychiatrist."""

    code = "clinician_required"
    rule = "clinical_data_from_clinicians"


class ConsentRecorderRefused(NotAuthorised):
    """Rule consent_recorded_by_custodian_or_part2_programme: consents are recorded (and changed) by the custodian or, for Part 2, the programme holding the data."""

    code = "consent_recorder_not_authorised"
    rule = "consent_recorded_by_custodian_or_part2_programme"


class ReferrerNotOnTeam(NotAuthorised):
    """Rule referrer_on_care_team: a referral is made by the custodian or an organisation on the care team."""

    code = "referrer_not_on_care_team"
    rule = "referrer_on_care_team"


class TeamMember(Protocol):
    @property
    def organisation(self) -> str: ...

    def active_on(self, on: date) -> bool: ...


class ClientFacts(Protocol):
    """What authority needs to know of a client: the custodian and the care team."""

    @property
    def custodian(self) -> str: ...

    @property
    def care_team(self) -> Mapping[str, TeamMember]: ...


def team_organisations(client: ClientFacts, on: date, recorded_on: date | None = None) -> set[str]:
    """Organisations with a member on the client's care team on ``on`` (the business date)
    whose membership had not ended by ``recorded_on`` (the day careloop records the fact):
    an organisation that has left the team cannot keep asserting by backdating."""
    return {m.organisation for m in client.care_team.values()
            if m.active_on(on) and (recorded_on is None or m.active_on(max(on, recorded_on)))}


def related(client: ClientFacts, organisation: str, on: date,
            recorded_on: date | None = None) -> bool:
    return organisation == client.custodian or organisation in team_organisations(
        client, on, recorded_on)


def _who(p: Provenance) -> str:
    return f"'{p.actor.organisation}'"


def require_custodian(client: ClientFacts, p: Provenance, what: str) -> None:
    """Registration facts (demographics, contact, discharge) come from the custodian only."""
    if p.actor.organisation != client.custodian:
        raise NotCustodian(
            f"only the client's custodian (the organisation that registered them) may "
            f"{what}; {_who(p)} is not", field="actor.organisation")


def require_relationship(client: ClientFacts, p: Provenance, what: str,
                         recorded_on: date | None = None) -> None:
    """Care-plan facts: the custodian or an organisation with an active member on the team."""
    if not related(client, p.actor.organisation, p.occurred_at.date(), recorded_on):
        raise NoRelationship(
            f"{_who(p)} may not {what}: it is neither the client's custodian nor on their "
            "care team", field="actor.organisation")


def require_team_keeper(client: ClientFacts, p: Provenance) -> None:
    """Only the custodian's coordinator or clinicians add people to a care team."""
    if p.actor.organisation != client.custodian:
        raise CareTeamChangeRefused(
            f"only the client's custodian adds people to the care team; {_who(p)} may not "
            "add itself or anyone else", field="actor.organisation")
    if p.actor.role not in TEAM_KEEPERS:
        raise CareTeamChangeRefused(
            f"only the custodian's {', '.join(TEAM_KEEPERS)} change the care team; "
            f"'{p.actor.role}' may not", field="actor.role")


def require_may_end_membership(client: ClientFacts, member_id: str, p: Provenance) -> None:
    """The custodian's keepers end any membership; another organisation only its own."""
    if p.actor.organisation == client.custodian:
        require_team_keeper(client, p)
        return
    member = client.care_team.get(member_id)
    if member is None or member.organisation != p.actor.organisation:
        raise CareTeamChangeRefused(
            f"{_who(p)} may end only its own members' care-team memberships",
            field="payload.member_id")


def require_clinician_on_team(client: ClientFacts, p: Provenance, what: str,
                              recorded_on: date | None = None) -> None:
    """Clinical data comes from clinicians of the custodian or of an organisation on the team."""
    if not related(client, p.actor.organisation, p.occurred_at.date(), recorded_on):
        raise ClinicalSourceNotOnTeam(
            f"{_who(p)} may not {what}: clinical data comes only from organisations on the "
            "client's care team (or the custodian)", field="actor.organisation")
    if p.actor.role not in CLINICIANS:
        raise ClinicianRequired(
            f"only {' or '.join(CLINICIANS)} may {what}; '{p.actor.role}' may not",
            field="actor.role")


def require_consent_recorder(client: ClientFacts, p: Provenance, part2: bool,
                             part2_programmes: Collection[str]) -> None:
    """Consent is the client's act, recorded by the custodian; a 42 CFR Part 2 consent may
    also be recorded by a Part 2 programme that holds the client's substance-use records
    (an organisation that recorded a substance-use treatment episode for them)."""
    org = p.actor.organisation
    if org == client.custodian or (part2 and org in part2_programmes):
        return
    holders = " or a Part 2 programme holding the client's substance-use records" if part2 else ""
    raise ConsentRecorderRefused(
        f"a consent is recorded by the client's custodian{holders}; {_who(p)} is neither",
        field="actor.organisation")


def require_consent_keeper(client: ClientFacts, p: Provenance, recorded_by: str) -> None:
    """A consent's status changes come from the custodian or the organisation that recorded it."""
    if p.actor.organisation not in (client.custodian, recorded_by):
        raise ConsentRecorderRefused(
            f"a consent's status is changed by the client's custodian or by the organisation "
            f"that recorded it; {_who(p)} is neither", field="actor.organisation")


def require_referrer_on_team(client: ClientFacts, p: Provenance,
                             recorded_on: date | None = None) -> None:
    if not related(client, p.actor.organisation, p.occurred_at.date(), recorded_on):
        raise ReferrerNotOnTeam(
            f"{_who(p)} may not refer this client: a referrer is the custodian or on the "
            "client's care team", field="actor.organisation")
