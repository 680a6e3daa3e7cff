"""FHIR messages become exactly the native referral message they mean, or a rejection that
names the FHIR field to fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.v1.parsing import Rejection, parse_message
from services.fhir.inbound import translate
from tests.helpers import EXAMPLES

RID = "2b9e4f61-7c3a-4d58-9e1b-6a0c5d3f8e72"


def load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / "fhir" / f"{name}.json").read_text())  # type: ignore[no-any-return]


def parsed(doc: dict[str, Any]) -> Any:
    raw = json.dumps(doc).encode()
    return translate(parse_message(raw, doc["source_system"], doc["message_type"]))


def test_the_examples_translate_to_the_native_loop() -> None:
    made = parsed(load("fhir.referral"))
    assert made.message_type == "referral.made"
    assert (str(made.payload.referral_id), made.payload.to_service,
            made.payload.to_organisation, made.payload.priority) == (
        RID, "housing", "harbor-housing", "urgent")
    assert made.message_id == load("fhir.referral")["message_id"]
    accepted = parsed(load("fhir.task.accepted"))
    assert (accepted.message_type, accepted.payload.owner) == ("referral.accepted", "ha-207")
    completed = parsed(load("fhir.task.completed"))
    assert (completed.message_type, completed.payload.outcome) == ("referral.completed",
                                                                   "got-help")
    closed = parsed(load("fhir.service_request.completed"))
    assert closed.message_type == "referral.outcome_acknowledged"


@pytest.mark.parametrize(("status", "native", "extra"), [
    ("received", "referral.received", {}),
    ("in-progress", "referral.started", {}),
    ("rejected", "referral.rejected", {"statusReason": {"text": "No capacity."}}),
    ("on-hold", "referral.put_on_hold", {"statusReason": {"text": "Waiting for papers."}}),
    ("failed", "referral.failed", {"statusReason": {"text": "Could not reach them."}}),
    ("cancelled", "referral.cancelled", {"statusReason": {"text": "Client moved away."}}),
])
def test_every_task_status_maps_to_its_native_message(status: str, native: str,
                                                      extra: dict[str, Any]) -> None:
    doc = load("fhir.task.accepted")
    doc["payload"] = {**{k: v for k, v in doc["payload"].items() if k != "owner"},
                      "status": status, **extra}
    message = parsed(doc)
    assert message.message_type == native
    assert getattr(message.payload, "reason", None) == (extra.get("statusReason") or {}).get(
        "text")


def rejection(doc: dict[str, Any]) -> Rejection:
    with pytest.raises(Rejection) as caught:
        parsed(doc)
    return caught.value


def test_untranslatable_messages_name_the_fhir_field() -> None:
    doc = load("fhir.task.accepted")
    doc["payload"]["status"] = "requested"
    assert rejection(doc).problems[0].rule == "fhir_status"
    doc["payload"]["resourceType"] = "Patient"
    assert rejection(doc).problems[0].field == "payload.resourceType"
    doc = load("fhir.task.accepted")
    doc["payload"]["status"] = "rejected"
    assert [p.field for p in rejection(doc).problems] == ["payload.statusReason.text"]
    doc = load("fhir.task.accepted")
    doc["payload"]["authoredOn"] = "not a date"
    assert rejection(doc).problems[0].rule == "fhir_r4"
    doc = load("fhir.referral")
    doc["payload"]["entry"][1]["resource"]["focus"] = {"reference": "ServiceRequest/other"}
    assert rejection(doc).problems[0].rule == "fhir_task_focus"
    doc = load("fhir.referral")
    request = doc["payload"]["entry"][0]["resource"]
    request["code"] = {"text": "food"}
    request["category"] = []
    assert [p.field for p in rejection(doc).problems] == ["ServiceRequest.code"]
    doc = load("fhir.referral")
    doc["payload"]["entry"].pop()
    assert rejection(doc).problems[0].rule == "fhir_bundle_entries"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                               max_size=4),
    max_leaves=30)
fhir_keys = st.sampled_from(["resourceType", "status", "focus", "owner", "businessStatus",
                             "statusReason", "entry", "resource", "id", "subject", "code",
                             "category", "note", "reference", "coding", "intent"])


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["fhir.referral", "fhir.task.accepted", "fhir.task.completed",
                             "fhir.service_request.completed"]),
       changes=st.lists(st.tuples(fhir_keys, json_values), max_size=5), drop=st.booleans())
def test_hostile_fhir_payloads_are_translated_or_rejected_never_crash(
    name: str, changes: list[tuple[str, Any]], drop: bool
) -> None:
    doc = load(name)
    target = doc["payload"]
    if name == "fhir.referral" and target["entry"]:
        target = target["entry"][-1]["resource"]
    for key, value in changes:
        if drop:
            target.pop(key, None)
        else:
            target[key] = value
    try:
        message = parsed(doc)
    except Rejection as rejection:
        assert rejection.problems and all(p.code and p.rule for p in rejection.problems)
    else:
        assert message.message_type.startswith("referral.")


def test_deeply_nested_fhir_is_rejected_not_crashed() -> None:
    doc = load("fhir.task.accepted")
    doc["payload"]["owner"] = "DEEP"
    levels = 5000  # far deeper than the interpreter's recursion limit; 75 KB
    raw = json.dumps(doc).replace('"DEEP"', '{"extension": [' * levels + '"x"' + ']}' * levels)
    with pytest.raises(Rejection):
        translate(parse_message(raw.encode(), doc["source_system"], doc["message_type"]))


def test_deeply_nested_native_json_is_rejected_as_too_deep() -> None:
    raw = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(Rejection) as caught:
        parse_message(raw, "riverside-ehr", "referral.made")
    assert (caught.value.code, caught.value.problems[0].rule) == ("too_deep", "max_depth")


def test_owner_may_be_a_literal_reference() -> None:
    doc = load("fhir.task.accepted")
    doc["payload"]["owner"] = {"reference": "Practitioner/ha-207"}
    assert parsed(doc).payload.owner == "ha-207"
    doc = load("fhir.referral")
    doc["payload"]["entry"][1]["resource"]["owner"] = {
        "reference": "https://partner.example/fhir/Organization/harbor-housing"}
    assert parsed(doc).payload.to_organisation == "harbor-housing"
