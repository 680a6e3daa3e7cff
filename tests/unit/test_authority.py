"""Who may assert what: each authority rule, tried by the organisation it must refuse.

Messages go through the command handlers (the service edge) on an in-memory store: a refused
message must leave the store exactly as it was. The client is registered by riverside-cmhc
(its custodian); harbor-housing and riverside-psych join only as the custodian adds them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts.v1.parsing import parse_message
from domain.authority import (
    CareTeamChangeRefused,
    ClinicalSourceNotOnTeam,
    ClinicianRequired,
    ConsentRecorderRefused,
    NoRelationship,
    NotCustodian,
    ReferrerNotOnTeam,
    related,
)
from domain.client import Client, Part2ConsentNeedsOrganisations
from domain.consent_evidence import ConsentEvidenceInvalid, ConsentEvidenceRequired
from domain.errors import DomainError, NotReferralParty
from domain.provenance import Actor, Provenance
from services.commands.registry import execute
from services.store.care_app import CareLoop, create_care_app
from tests.helpers import CLIENT_ID, message

CUSTODIAN_COORDINATOR = {"id": "co-5001", "role": "coordinator", "organisation": "riverside-cmhc"}
CUSTODIAN_SW = {"id": "sw-1042", "role": "clinical-social-worker", "organisation": "riverside-cmhc"}
CUSTODIAN_ADVOCATE = {"id": "ha-1", "role": "housing-advocate", "organisation": "riverside-cmhc"}
HOUSING = {"id": "ha-207", "role": "housing-advocate", "organisation": "harbor-housing"}
HOUSING_PSY = {"id": "hp-9", "role": "psychiatrist", "organisation": "harbor-housing"}
PSYCHIATRIST = {"id": "psy-77", "role": "psychiatrist", "organisation": "riverside-psych"}
STRANGER = {"id": "psy-99", "role": "psychiatrist", "organisation": "elsewhere-clinic"}
BY_CUSTODIAN = Provenance(Actor("co-5001", "coordinator", "riverside-cmhc"),
                          datetime(2026, 11, 2, 15, 0, tzinfo=UTC), "riverside-ehr", "m", "c")
EVIDENCE = {"signed_by": "client", "method": "written",
            "signed_at": "2026-11-02T10:15:00-05:00", "document_reference": "form-1"}


@pytest.fixture
def app() -> CareLoop:
    return create_care_app({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def send(app: CareLoop, message_type: str, actor: dict[str, str] | None = None,
         at: str | None = None, **payload: Any) -> list[str]:
    doc = message(message_type, **payload)
    doc["actor"] = actor or doc["actor"]
    doc["occurred_at"] = at or doc["occurred_at"]
    parsed = parse_message(json.dumps(doc).encode(), doc["source_system"], message_type)
    return execute(app, parsed).event_ids


def refused(app: CareLoop, error: type[DomainError], message_type: str,
            actor: dict[str, str] | None = None, at: str | None = None,
            **payload: Any) -> DomainError:
    """The message is refused with ``error`` and the store is exactly as it was."""
    head = app.head_position()
    with pytest.raises(error) as caught:
        send(app, message_type, actor, at, **payload)
    assert app.head_position() == head
    assert caught.value.rule or caught.value.code
    return caught.value


def member(app: CareLoop, actor: dict[str, str], member_id: str, role: str, org: str) -> None:
    send(app, "care_team.member_added", CUSTODIAN_COORDINATOR if actor is None else actor,
         member_id=member_id, role=role, organisation=org)


@pytest.fixture
def client(app: CareLoop) -> CareLoop:
    """Registered by riverside-cmhc; harbor-housing's ha-207 is on the team."""
    send(app, "client.registered")
    member(app, CUSTODIAN_COORDINATOR, "ha-207", "housing-advocate", "harbor-housing")
    return app


def team(app: CareLoop) -> dict[str, Any]:
    found = app.find(uuid.UUID(CLIENT_ID), Client)
    assert found is not None
    return found.care_team


# -- care team -----------------------------------------------------------------------------

def test_an_organisation_on_the_team_cannot_add_its_own_staff(client: CareLoop) -> None:
    error = refused(client, CareTeamChangeRefused, "care_team.member_added", HOUSING,
                    member_id="ha-208", role="housing-advocate", organisation="harbor-housing")
    assert error.field == "actor.organisation" and error.rule == "care_team_kept_by_custodian"
    assert "ha-208" not in team(client)


def test_an_organisation_cannot_add_itself_to_a_team_it_is_not_on(client: CareLoop) -> None:
    refused(client, CareTeamChangeRefused, "care_team.member_added", STRANGER,
            member_id="psy-99", role="psychiatrist", organisation="elsewhere-clinic")


def test_only_the_custodians_coordinator_or_clinicians_change_the_team(client: CareLoop) -> None:
    error = refused(client, CareTeamChangeRefused, "care_team.member_added", CUSTODIAN_ADVOCATE,
                    member_id="x-1", role="coordinator", organisation="riverside-cmhc")
    assert error.field == "actor.role"
    member(client, CUSTODIAN_SW, "psy-77", "psychiatrist", "riverside-psych")
    assert "psy-77" in team(client)


def test_an_organisation_ends_its_own_member_but_never_anothers(client: CareLoop) -> None:
    member(client, CUSTODIAN_COORDINATOR, "psy-77", "psychiatrist", "riverside-psych")
    refused(client, CareTeamChangeRefused, "care_team.member_ended", HOUSING,
            member_id="psy-77", period_end="2026-11-20")
    refused(client, CareTeamChangeRefused, "care_team.member_ended", HOUSING,
            member_id="nobody", period_end="2026-11-20")
    send(client, "care_team.member_ended", HOUSING, member_id="ha-207", period_end="2026-11-20")
    assert team(client)["ha-207"].end is not None
    send(client, "care_team.member_ended", CUSTODIAN_COORDINATOR, member_id="psy-77",
         period_end="2026-11-20")
    assert team(client)["psy-77"].end is not None


# -- registration facts: custodian only ----------------------------------------------------

@pytest.mark.parametrize("message_type", ["client.demographics_updated",
                                          "client.contact_updated", "client.discharged"])
def test_registration_facts_come_from_the_custodian_only(client: CareLoop,
                                                         message_type: str) -> None:
    error = refused(client, NotCustodian, message_type, HOUSING)
    assert error.rule == "custodian_only"
    send(client, message_type, CUSTODIAN_COORDINATOR)


# -- consent --------------------------------------------------------------------------------

def part2(**overrides: Any) -> dict[str, Any]:
    return {"consent_id": str(uuid.uuid4()), "part2": True, "data_categories": ["substance-use"],
            "recipient_roles": ["housing-advocate"], "recipient_organisations": ["harbor-housing"],
            **overrides}


def test_a_partner_cannot_record_a_part2_consent_naming_itself(client: CareLoop) -> None:
    error = refused(client, ConsentRecorderRefused, "consent.recorded", HOUSING, **part2())
    assert error.rule == "consent_recorded_by_custodian_or_part2_programme"
    refused(client, ConsentRecorderRefused, "consent.recorded", HOUSING,
            consent_id=str(uuid.uuid4()))


def test_the_part2_programme_holding_the_data_may_record_a_part2_consent(
        client: CareLoop) -> None:
    member(client, CUSTODIAN_COORDINATOR, "psy-77", "psychiatrist", "riverside-psych")
    refused(client, ConsentRecorderRefused, "consent.recorded", PSYCHIATRIST, **part2())
    send(client, "substance_use_treatment.recorded", PSYCHIATRIST)
    send(client, "consent.recorded", PSYCHIATRIST, **part2())
    # ... but only Part 2 consents: any other consent is the custodian's to record
    refused(client, ConsentRecorderRefused, "consent.recorded", PSYCHIATRIST,
            consent_id=str(uuid.uuid4()))


def test_a_part2_consent_names_organisations_not_only_roles(client: CareLoop) -> None:
    error = refused(client, Part2ConsentNeedsOrganisations, "consent.recorded",
                    CUSTODIAN_SW, **part2(recipient_organisations=[]))
    assert error.field == "payload.recipient_organisations"
    send(client, "consent.recorded", CUSTODIAN_SW, **part2())


def test_a_decided_consent_carries_evidence_of_the_clients_act(client: CareLoop) -> None:
    cid = str(uuid.uuid4())
    refused(client, ConsentEvidenceRequired, "consent.recorded", consent_id=cid, evidence=None)
    refused(client, ConsentEvidenceRequired, "consent.recorded", consent_id=cid,
            status="rejected", evidence=None)
    send(client, "consent.recorded", consent_id=cid, status="draft", evidence=None)
    refused(client, ConsentEvidenceRequired, "consent.activated", consent_id=cid, evidence=None)
    send(client, "consent.activated", consent_id=cid, evidence=EVIDENCE)
    stored = client.find(uuid.UUID(CLIENT_ID), Client)
    assert stored is not None and stored.consents[uuid.UUID(cid)].status == "active"
    assert stored.consents[uuid.UUID(cid)].evidence["document_reference"] == "form-1"  # type: ignore[index]


@pytest.mark.parametrize(("evidence", "field"), [
    ({**EVIDENCE, "method": "verbal-with-witness"}, "payload.evidence.witness"),
    ({**EVIDENCE, "signed_by": "legal-representative"}, "payload.evidence.representative"),
    ({**EVIDENCE, "signed_at": "2026-11-02T16:00:00-05:00"}, "payload.evidence.signed_at"),
])
def test_evidence_that_contradicts_itself_is_refused(client: CareLoop, evidence: dict[str, str],
                                                     field: str) -> None:
    error = refused(client, ConsentEvidenceInvalid, "consent.recorded",
                    consent_id=str(uuid.uuid4()), evidence=evidence)
    assert error.field == field


def test_only_the_custodian_or_the_recorder_changes_a_consents_status(client: CareLoop) -> None:
    cid = str(uuid.uuid4())
    send(client, "consent.recorded", consent_id=cid)
    refused(client, ConsentRecorderRefused, "consent.revoked", HOUSING, consent_id=cid,
            reason="client asked")
    send(client, "consent.revoked", CUSTODIAN_COORDINATOR, consent_id=cid, reason="client asked")


# -- clinical data: clinicians of an organisation on the team -------------------------------

@pytest.mark.parametrize("message_type", ["diagnosis.recorded", "medication.recorded",
                                          "screening.recorded", "risk_flag.raised",
                                          "psychotherapy_note.recorded",
                                          "substance_use_treatment.recorded"])
def test_clinical_data_only_from_clinicians_of_an_organisation_on_the_team(
        client: CareLoop, message_type: str) -> None:
    refused(client, ClinicalSourceNotOnTeam, message_type, STRANGER)
    refused(client, ClinicianRequired, message_type, HOUSING)  # on the team, not a clinician
    refused(client, ClinicianRequired, message_type, CUSTODIAN_COORDINATOR)
    send(client, message_type, HOUSING_PSY)  # a clinician of an organisation on the team


def test_an_organisation_whose_members_all_left_no_longer_asserts(client: CareLoop) -> None:
    send(client, "screening.recorded", HOUSING_PSY)
    send(client, "care_team.member_ended", HOUSING, member_id="ha-207", period_end="2026-11-05")
    refused(client, ClinicalSourceNotOnTeam, "diagnosis.recorded", HOUSING_PSY)
    refused(client, NoRelationship, "need.identified", HOUSING, at="2026-11-06T09:00:00-05:00")


def test_care_plan_facts_come_from_the_custodian_or_the_team(client: CareLoop) -> None:
    error = refused(client, NoRelationship, "need.identified", STRANGER)
    assert error.rule == "custodian_or_care_team"
    send(client, "need.identified", HOUSING)


# -- referrals --------------------------------------------------------------------------------

def test_the_referrer_is_on_the_team_and_the_recipient_acts_on_its_own_only(
        client: CareLoop) -> None:
    send(client, "consent.recorded")
    rid = str(uuid.uuid4())
    refused(client, ReferrerNotOnTeam, "referral.made", STRANGER, referral_id=rid)
    send(client, "referral.made", referral_id=rid)
    bayside = {"id": "bh-1", "role": "housing-advocate", "organisation": "bayside-housing"}
    refused(client, NotReferralParty, "referral.accepted", bayside, referral_id=rid)
    send(client, "referral.accepted", HOUSING, referral_id=rid)


def test_a_conference_agenda_holds_only_clients_of_the_organisation(client: CareLoop) -> None:
    conference = str(uuid.uuid4())
    send(client, "conference.drafted", STRANGER, conference_id=conference)
    refused(client, NoRelationship, "conference.scheduled", STRANGER, conference_id=conference)


def test_a_draft_is_requested_only_while_the_referrer_is_on_the_team(client: CareLoop) -> None:
    member(client, CUSTODIAN_COORDINATOR, "psy-77", "psychiatrist", "riverside-psych")
    rid = str(uuid.uuid4())
    send(client, "referral.drafted", PSYCHIATRIST, at="2026-11-03T09:00:00-05:00",
         referral_id=rid)
    send(client, "care_team.member_ended", PSYCHIATRIST, at="2026-11-04T09:00:00-05:00",
         member_id="psy-77", period_end="2026-11-04")
    refused(client, ReferrerNotOnTeam, "referral.requested", PSYCHIATRIST,
            at="2026-11-05T09:00:00-05:00", referral_id=rid)


def test_an_unrelated_organisation_does_not_learn_that_a_client_was_discharged(
        client: CareLoop) -> None:
    send(client, "client.discharged", CUSTODIAN_COORDINATOR)
    refused(client, NotCustodian, "client.contact_updated", STRANGER)
    refused(client, ClinicalSourceNotOnTeam, "screening.recorded", STRANGER)
    refused(client, NoRelationship, "goal.set", STRANGER)
    refused(client, ReferrerNotOnTeam, "referral.made", STRANGER, referral_id=str(uuid.uuid4()))


def test_an_organisation_that_left_cannot_keep_asserting_by_backdating(client: CareLoop) -> None:
    send(client, "care_team.member_ended", HOUSING, member_id="ha-207", period_end="2026-11-05")
    # it happened while harbor-housing was on the team, but is reported after it left
    backdated = "2026-11-04T09:00:00-05:00"
    refused(client, ClinicalSourceNotOnTeam, "screening.recorded", HOUSING_PSY, at=backdated)
    refused(client, NoRelationship, "need.identified", HOUSING, at=backdated)
    refused(client, ReferrerNotOnTeam, "referral.made", HOUSING, at=backdated,
            referral_id=str(uuid.uuid4()))


def test_membership_relates_on_the_business_date_and_until_it_ends() -> None:
    found = Client.register(uuid.uuid4(), "A", "B", date(1990, 1, 1), None, BY_CUSTODIAN)
    found.add_team_member("m-1", "housing-advocate", "harbor-housing", date(2026, 11, 2),
                          date(2026, 11, 20), BY_CUSTODIAN)
    assert related(found, "riverside-cmhc", date(2020, 1, 1))  # the custodian, always
    assert not related(found, "harbor-housing", date(2026, 11, 1))  # before it started
    assert related(found, "harbor-housing", date(2026, 11, 10), date(2026, 11, 20))
    assert not related(found, "harbor-housing", date(2026, 11, 10), date(2026, 11, 21))
    assert not related(found, "harbor-housing", date(2026, 11, 21))
    assert not related(found, "Harbor-Housing", date(2026, 11, 10))
