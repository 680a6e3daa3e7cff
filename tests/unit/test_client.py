"""Client: safe contact, care team, consent and discharge rules (given/when/then)."""

from __future__ import annotations

from datetime import date

import pytest

from domain.client import CareTeamRuleBroken, ConsentRuleBroken, ContactRuleBroken
from domain.errors import ClientDischarged
from domain.security import DOMESTIC_VIOLENCE, UNLABELLED
from tests.unit.domain_fixtures import SOCIAL_WORKER, consent, registered_client

NOV20 = date(2026, 11, 20)


# -- safe contact ------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "phone", "method", "leave", "confidential", "field"), [
    (None, None, "phone", False, False, "payload.phone"),
    (None, None, "in-person", True, False, "payload.may_leave_messages"),
    (None, "555", "mail", False, False, "payload.address"),
    ("1 Safe St", "555", "mail", False, True, "payload.safe_contact_method"),
    ("1 Safe St", "555", "carrier-pigeon", False, False, "payload.safe_contact_method"),
])
def test_unsafe_contact_details_are_refused(address, phone, method, leave, confidential,  # type: ignore[no-untyped-def]
                                            field) -> None:
    client = registered_client()
    with pytest.raises(ContactRuleBroken) as refused:
        client.update_contact(address, phone, method, leave, confidential, SOCIAL_WORKER)
    assert refused.value.field == field


def test_confidential_address_is_labelled_domestic_violence_when_recorded() -> None:
    client = registered_client()
    client.update_contact("Shelter", "555", "phone", False, True, SOCIAL_WORKER)
    event = client.collect_events()[-1]
    assert event.security == DOMESTIC_VIOLENCE  # type: ignore[attr-defined]
    client.update_contact("Home", "555", "mail", True, False, SOCIAL_WORKER)
    assert client.collect_events()[-1].security == UNLABELLED  # type: ignore[attr-defined]


# -- care team ---------------------------------------------------------------------------

def test_care_team_membership_defines_the_caseload_for_its_period() -> None:
    client = registered_client()
    client.add_team_member("ha-1", "housing-advocate", "harbor", date(2026, 11, 1), None,
                           SOCIAL_WORKER)
    assert client.on_caseload("ha-1", NOV20)
    client.end_team_membership("ha-1", date(2026, 11, 25), SOCIAL_WORKER)
    assert client.on_caseload("ha-1", NOV20) and not client.on_caseload("ha-1", date(2026, 12, 1))
    assert not client.on_caseload("someone-else", NOV20)


def test_a_member_cannot_be_added_twice_while_active() -> None:
    client = registered_client()
    client.add_team_member("ha-1", "housing-advocate", "harbor", date(2026, 11, 1), None,
                           SOCIAL_WORKER)
    with pytest.raises(CareTeamRuleBroken):
        client.add_team_member("ha-1", "housing-advocate", "harbor", date(2026, 11, 2), None,
                               SOCIAL_WORKER)


def test_membership_cannot_end_before_it_starts_or_end_twice() -> None:
    client = registered_client()
    client.add_team_member("ha-1", "housing-advocate", "harbor", date(2026, 11, 10), None,
                           SOCIAL_WORKER)
    with pytest.raises(CareTeamRuleBroken):
        client.end_team_membership("ha-1", date(2026, 11, 1), SOCIAL_WORKER)
    client.end_team_membership("ha-1", date(2026, 11, 11), SOCIAL_WORKER)
    with pytest.raises(CareTeamRuleBroken):
        client.end_team_membership("ha-1", date(2026, 11, 12), SOCIAL_WORKER)


# -- consent -----------------------------------------------------------------------------

def test_active_permit_covers_its_recipient_category_and_period_only() -> None:
    client = registered_client()
    consent(client, end=date(2026, 12, 31))
    assert client.permits("housing-advocate", "any", "care-coordination", "housing", NOV20)
    assert not client.permits("benefits-advocate", "any", "care-coordination", "housing", NOV20)
    assert not client.permits("housing-advocate", "any", "care-coordination", "clinical", NOV20)
    assert not client.permits("housing-advocate", "any", "treatment", "housing", NOV20)
    assert not client.permits("housing-advocate", "any", "care-coordination", "housing",
                              date(2027, 1, 1))


def test_a_deny_provision_wins_over_a_permit() -> None:
    client = registered_client()
    consent(client)
    consent(client, provision="deny", roles=(), orgs=("harbor",))
    assert not client.permits("housing-advocate", "harbor", "care-coordination", "housing", NOV20)
    assert client.permits("housing-advocate", "elsewhere", "care-coordination", "housing", NOV20)


def test_revoked_consent_no_longer_permits() -> None:
    client = registered_client()
    consent_id = consent(client)
    client.change_consent_status(consent_id, "inactive", "withdrawn", SOCIAL_WORKER)
    assert not client.permits("housing-advocate", "x", "care-coordination", "housing", NOV20)


def test_draft_consent_permits_only_once_activated() -> None:
    client = registered_client()
    consent_id = consent(client, status="draft")
    assert not client.permits("housing-advocate", "x", "care-coordination", "housing", NOV20)
    client.change_consent_status(consent_id, "active", "", SOCIAL_WORKER)
    assert client.permits("housing-advocate", "x", "care-coordination", "housing", NOV20)


@pytest.mark.parametrize(("start", "target", "reason"), [
    ("active", "active", "x"), ("active", "draft", "x"), ("active", "inactive", " "),
])
def test_consent_status_changes_follow_the_lifecycle(start: str, target: str, reason: str) -> None:
    client = registered_client()
    consent_id = consent(client, status=start)
    with pytest.raises(ConsentRuleBroken):
        client.change_consent_status(consent_id, target, reason, SOCIAL_WORKER)


def test_substance_use_disclosure_needs_a_part2_consent_naming_the_organisation() -> None:
    client = registered_client()
    with pytest.raises(ConsentRuleBroken) as refused:
        consent(client, categories=("substance-use",), orgs=("harbor",))
    assert refused.value.field == "payload.part2"
    with pytest.raises(ConsentRuleBroken) as refused:
        consent(client, categories=("substance-use",), part2=True)
    assert refused.value.field == "payload.recipient_organisations"
    consent(client, categories=("substance-use",), orgs=("harbor",), part2=True)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"roles": (), "orgs": ()}, "payload.recipient_roles"),
    ({"categories": ("horoscopes",)}, "payload.data_categories"),
    ({"categories": ()}, "payload.data_categories"),
    ({"end": date(2026, 10, 1)}, "payload.period_end"),
    ({"provision": "maybe"}, "payload.provision"),
    ({"status": "inactive"}, "payload.status"),
])
def test_malformed_consents_are_refused_naming_the_field(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConsentRuleBroken) as refused:
        consent(registered_client(), **kwargs)
    assert refused.value.field == field


# -- discharge ---------------------------------------------------------------------------

def test_discharged_client_takes_no_new_facts() -> None:
    client = registered_client()
    client.discharge("moved away", NOV20, SOCIAL_WORKER)
    assert client.discharged
    with pytest.raises(ClientDischarged):
        client.update_demographics("A", "B", date(1980, 1, 1), None, SOCIAL_WORKER)
    with pytest.raises(ClientDischarged):
        consent(client)
    with pytest.raises(ClientDischarged):
        client.discharge("again", NOV20, SOCIAL_WORKER)
