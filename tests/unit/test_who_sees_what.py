"""The pure who-sees-what rules: consent per (role, organisation), scope, minutes line by
line, and what auditors' history shows."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from domain.consent import Consent, decide, denied
from projections import access_scope, minutes
from projections.audit_redaction import redact, redact_record
from projections.labels import is_substance_use
from services.partners.registry import PartnerRegistry

ON = date(2026, 11, 20)
PSY = {"confidentiality": "R", "sensitivity": ["PSY"], "law": []}
SUD = {"confidentiality": "R", "sensitivity": ["ETH", "SUD"], "law": ["42CFRPart2"]}
NOTE = {"confidentiality": "V", "sensitivity": ["PSYTHPN"], "law": []}


def consent(roles: list[str], orgs: list[str], provision: str = "permit",
            categories: tuple[str, ...] = ("housing",), part2: bool = False) -> Consent:
    return Consent("active", provision, roles, orgs, ["care-coordination"], list(categories),
                   date(2026, 11, 1), None, part2)


def test_a_provision_naming_a_role_and_an_organisation_needs_both() -> None:
    harbor_only = [consent(["housing-advocate"], ["harbor-housing"])]
    assert decide(harbor_only, "housing-advocate", "harbor-housing", "care-coordination",
                  "housing", ON)
    assert not decide(harbor_only, "housing-advocate", "bayside-housing", "care-coordination",
                      "housing", ON)
    assert not decide(harbor_only, "coordinator", "harbor-housing", "care-coordination",
                      "housing", ON)
    any_housing_agency = [consent(["housing-advocate"], [])]
    assert decide(any_housing_agency, "housing-advocate", "bayside-housing",
                  "care-coordination", "housing", ON)


def test_a_part2_provision_reaches_only_the_organisations_it_names() -> None:
    part2 = [consent(["housing-advocate"], ["harbor-housing"], categories=("substance-use",),
                     part2=True)]
    assert decide(part2, "housing-advocate", "harbor-housing", "care-coordination",
                  "substance-use", ON)
    assert not decide(part2, "housing-advocate", "bayside-housing", "care-coordination",
                      "substance-use", ON)
    role_only = [consent(["housing-advocate"], [], categories=("substance-use",), part2=True)]
    assert not decide(role_only, "housing-advocate", "harbor-housing", "care-coordination",
                      "substance-use", ON)


def test_a_deny_names_its_recipients_and_wins_over_a_permit() -> None:
    both = [consent(["coordinator"], [], categories=("psychiatric",)),
            consent(["coordinator"], ["eastside-cmhc"], "deny", ("psychiatric",))]
    assert denied(both, "coordinator", "eastside-cmhc", "care-coordination", "psychiatric", ON)
    assert not denied(both, "coordinator", "riverside-cmhc", "care-coordination",
                      "psychiatric", ON)
    assert not decide(both, "coordinator", "eastside-cmhc", "care-coordination",
                      "psychiatric", ON)


def test_scope_is_the_custodian_or_a_current_member_and_caseload_is_the_very_person() -> None:
    full = {"client_id": "c", "client": {"registered_by": {"organisation": "riverside-cmhc"}},
            "care_team": {
                "ha-207": {"member_id": "ha-207", "role": "housing-advocate",
                           "organisation": "harbor-housing", "period_start": "2026-11-02",
                           "period_end": None},
                "ba-1": {"member_id": "ba-1", "role": "benefits-advocate",
                         "organisation": "county-benefits", "period_start": "2026-11-02",
                         "period_end": "2026-11-10"}}}
    scope = access_scope.scope_doc(full)
    assert access_scope.related(scope, "riverside-cmhc", ON)
    assert access_scope.related(scope, "harbor-housing", ON)
    assert not access_scope.related(scope, "county-benefits", ON)  # their member has left
    assert not access_scope.related(None, "riverside-cmhc", ON)
    assert access_scope.on_caseload(scope, "ha-207", "housing-advocate", "harbor-housing", ON)
    for impostor in (("ha-207", "housing-advocate", "bayside-housing"),
                     ("ha-207", "benefits-advocate", "harbor-housing")):
        assert not access_scope.on_caseload(scope, *impostor, ON)
    assert access_scope.organisations(full) == ["riverside-cmhc", "county-benefits",
                                                 "harbor-housing"]


def test_a_labelled_line_of_minutes_hides_that_line_not_the_item() -> None:
    conference = {"k": {"conference_id": "k", "title": "t", "status": "in-session",
                        "scheduled_for": "2026-11-17", "addenda": [
                            {"text": "SUD addendum", "security": SUD},
                            {"text": "plain addendum", "security": None}],
                        "agenda_item": {
                            "security": SUD, "decisions": [{"decision": "house first"}],
                            "risk_review": {"summary": "risk", "security": PSY},
                            "information_shared": [
                                {"summary": "drinking", "security": SUD},
                                {"summary": "eviction", "security": {"confidentiality": "N"}}],
                            "action_items": {"a": {"domain": "housing", "title": "apply"},
                                             "b": {"domain": "clinical", "title": "review"}}}}}
    shown = minutes.line_by_line(conference, is_substance_use)["k"]
    item = shown["agenda_item"]
    assert item["decisions"] == [{"decision": "house first"}]
    assert [i["summary"] for i in item["information_shared"]] == ["eviction"]
    assert item["risk_review"]["summary"] == "risk"
    assert [a["text"] for a in shown["addenda"]] == ["plain addendum"]
    extract = minutes.action_items_of_domain(conference, "housing")["k"]
    assert list(extract["action_items"]) == ["a"] and "information_shared" not in extract
    assert minutes.schedule_only(conference)["k"] == {
        "conference_id": "k", "title": "t", "status": "in-session",
        "scheduled_for": "2026-11-17"}


def test_auditors_history_is_redacted_without_a_grant_and_note_text_always() -> None:
    record = {"event_type": "clinical_record.diagnosis_recorded",
              "data": {"diagnosis_id": "d", "display": "Major depressive", "security": PSY}}
    assert redact_record(record)["data"] == {"diagnosis_id": "d", "security": PSY,
                                             "redacted": True}
    assert redact_record(record, grant=True)["data"]["display"] == "Major depressive"
    note = {"note_id": "n", "text": "CBT session", "author_id": "sw", "security": NOTE}
    assert "text" not in redact(note, grant=True)
    contact = {"event_type": "client.contact_updated", "data": {"address": "shelter"}}
    assert redact_record(contact, grant=True)["data"] == {"redacted": True}
    item = {"security": SUD, "decisions": ["house first"],
            "information_shared": [{"summary": "drinking", "security": SUD}]}
    shown = redact(item)
    assert shown["decisions"] == ["house first"]
    assert shown["information_shared"][0] == {"security": SUD, "redacted": True}


def test_the_registry_names_treating_providers_only_when_flagged(tmp_path: Path) -> None:
    example = PartnerRegistry.load(Path("deploy/partners.json"))
    assert example.treating_providers == {"riverside-cmhc", "riverside-psych"}
    plain = tmp_path / "partners.json"
    plain.write_text(json.dumps({
        "partners": [{"system": "s", "organisations": ["a", "b"]}],
        "organisations": {"a": {"treating_provider": "yes"}, "b": {}}}))
    assert PartnerRegistry.load(plain).treating_providers == frozenset()


def test_notes_keys_cannot_be_forged_by_ids_that_hold_separators() -> None:
    from projections.care_plan_derived import notes_key

    role = "clinical-social-worker"
    assert notes_key("c", f"x:{role}", role, "u") != notes_key("c", "x", role, f"{role}:u")
