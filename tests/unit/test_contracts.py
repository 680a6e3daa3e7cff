"""Contracts are complete, documented by example, exported, and refuse precisely."""

from __future__ import annotations

import json

import pytest

from contracts.export import EXAMPLES, SCHEMAS, render, schemas
from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.fhir_messages import FHIR_MESSAGE_TYPES
from contracts.v1.input_limits import decode
from contracts.v1.parsing import MAX_MESSAGE_BYTES, Rejection, parse_message
from tests.helpers import example, message


def test_every_message_type_has_an_example_and_a_schema() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(MESSAGE_TYPES)
    assert {p.stem for p in SCHEMAS.glob("*.json")} >= set(MESSAGE_TYPES)


@pytest.mark.parametrize("message_type", sorted(MESSAGE_TYPES))
def test_every_example_validates_against_its_contract(message_type: str) -> None:
    doc = example(message_type)
    parsed = parse_message(json.dumps(doc).encode(), doc["source_system"], message_type)
    assert parsed.message_type == message_type


def test_committed_schemas_match_the_models() -> None:
    for name, schema in schemas().items():
        assert (SCHEMAS / f"{name}.json").read_text() == render(schema), (
            f"{name}: run `careloop contracts` to regenerate"
        )


def refusal(raw: bytes, source: str = "riverside-ehr", mtype: str = "referral.made") -> Rejection:
    with pytest.raises(Rejection) as refused:
        parse_message(raw, source, mtype)
    return refused.value


def test_invalid_json_is_refused_with_its_position() -> None:
    r = refusal(b'{"schema_version": 1,')
    assert r.code == "invalid_json" and "line 1" in r.problems[0].message


def test_wrong_encoding_is_refused() -> None:
    assert refusal('{"a": "é"}'.encode("latin-1")).code == "invalid_encoding"


def test_oversized_message_is_refused() -> None:
    assert refusal(b" " * (MAX_MESSAGE_BYTES + 1)).code == "too_large"


def test_json_that_is_not_an_object_is_refused() -> None:
    assert refusal(b"[1, 2]").code == "invalid_json"


def test_unknown_message_type_is_refused_but_ids_are_echoed() -> None:
    doc = message("referral.made")
    r = refusal(json.dumps(doc).encode(), mtype="referral.teleported")
    assert r.code == "unknown_message_type"
    assert r.known["message_id"] == doc["message_id"]


def test_source_system_must_match_the_subject() -> None:
    r = refusal(json.dumps(message("referral.made")).encode(), source="someone-else")
    assert r.code == "subject_mismatch" and r.problems[0].field == "source_system"


def test_future_schema_version_is_refused_as_such() -> None:
    doc = {**message("referral.made"), "schema_version": 2}
    r = refusal(json.dumps(doc).encode())
    assert r.code == "unsupported_version" and r.problems[0].field == "schema_version"


def test_schema_violations_name_each_field_and_rule() -> None:
    doc = message("referral.made")
    del doc["payload"]["reason"]
    doc["payload"]["to_service"] = "astrology"
    doc["payload"]["surprise"] = 1
    r = refusal(json.dumps(doc).encode())
    found = {(p.field, p.rule) for p in r.problems}
    assert found == {("payload.reason", "missing"), ("payload.to_service", "literal_error"),
                     ("payload.surprise", "extra_forbidden")}


def test_business_time_must_carry_an_offset() -> None:
    doc = {**message("referral.made"), "occurred_at": "2026-11-20T10:00:00"}
    r = refusal(json.dumps(doc).encode())
    assert [p.field for p in r.problems] == ["occurred_at"]


def test_the_unknown_type_rejection_lists_whole_type_names_only() -> None:
    r = refusal(json.dumps(message("referral.made")).encode(), mtype="referral.teleported")
    text = r.problems[0].message
    listed = text.split("known types: ")[1].split(" and ")[0].split(", ")
    known = {*MESSAGE_TYPES, *FHIR_MESSAGE_TYPES}
    assert listed and all(name in known for name in listed)  # none cut mid-word
    more = len(known) - len(listed)
    assert (f"and {more} more" in text) if more else text.endswith(listed[-1])
    assert "…" not in text


@pytest.mark.parametrize(("body", "code", "field"), [
    (b"[" * 40_000 + b"]" * 40_000, "too_deep", None),  # RecursionError in json
    (b'{"a": ' + b"1" * 5000 + b"}", "number_out_of_range", "a"),  # ValueError in json
    (b'{"a": 1e400}', "number_out_of_range", "a"),
    (b'{"a": NaN}', "number_out_of_range", "a"),
    (b'{"a": {"b": -Infinity}}', "number_out_of_range", "a.b"),
    (b'{"a": [0, 9223372036854775808]}', "number_out_of_range", "a.1"),  # 2**63
    (b'{"a": -1.5e309}', "number_out_of_range", "a"),
    (b'{"a": 1, "a": 2}', "duplicate_key", "a"),
    (b'{"a": ["x\\u0000"]}', "unstorable_character", "a.0"),
    (b'{"\\ud83d": 1}', "unstorable_character", "\ud83d"),
])
def test_input_no_store_can_hold_gets_a_specific_rejection(
    body: bytes, code: str, field: str | None
) -> None:
    r = refusal(body)
    assert (r.code, r.problems[0].field) == (code, field)


@pytest.mark.parametrize(("where", "value"), [
    ("occurred_at", "0001-01-01T00:00:00+01:00"),
    ("occurred_at", "1899-12-31T23:00:00+00:00"),
    ("payload.birth_date", "0001-01-01"),
    ("payload.birth_date", "2200-01-01"),
])
def test_dates_outside_the_documented_range_are_refused(where: str, value: str) -> None:
    doc = message("client.registered")
    if where == "occurred_at":
        doc["occurred_at"] = value
    else:
        doc["payload"]["birth_date"] = value
    r = refusal(json.dumps(doc).encode(), mtype="client.registered")
    assert (r.code, r.problems[0].field) == ("date_out_of_range", where)
    assert "1900-01-01" in r.problems[0].message


def test_numbers_within_range_read_exactly_with_or_without_the_number_hooks() -> None:
    # The decoder skips its per-number hooks unless a number could be out of range: the
    # values must be the same either way, up to the edges of the range.
    assert decode(b'{"a": 9223372036854775807, "b": -123456789012345678, "c": 1.5e300,'
                  b' "d": -0.25, "e": 1e-5, "f": "e123 NaN"}') == {
        "a": 2**63 - 1, "b": -123456789012345678, "c": 1.5e300, "d": -0.25, "e": 1e-5,
        "f": "e123 NaN"}
    assert decode(b'{"a": 123456789012345678, "b": 1.5e99}') == {
        "a": 123456789012345678, "b": 1.5e99}


def test_a_date_inside_a_list_of_items_is_checked_too() -> None:
    doc = message("conference.item_discussed")
    item = {**doc["payload"]["action_items"][0], "due": "2200-01-01"}
    doc["payload"]["action_items"] = [doc["payload"]["action_items"][0], item]
    r = refusal(json.dumps(doc).encode(), mtype="conference.item_discussed")
    assert (r.code, r.problems[0].field) == ("date_out_of_range", "payload.action_items.1.due")
