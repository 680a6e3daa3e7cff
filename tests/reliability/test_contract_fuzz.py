"""Every contract, fuzzed: mutations of the committed examples (fields dropped, retyped,
added, made huge, thousands of errors at once; wrong encodings, broken JSON, oversized bodies, future versions, skewed
clocks, unknown types, foreign systems) are each answered with a specific rejection that
names the rule and the field, or parse as a valid message; nothing else ever escapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from contracts.v1.catalogue import MESSAGE_TYPES
from contracts.v1.envelope import Envelope
from contracts.v1.parsing import Rejection, parse_message
from services.ingest import receipts
from tests.helpers import example
from tests.reliability.conftest import Figures
from tests.reliability.malformed import HOSTILE, Malformed, malformed, names_the_field

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RECEIPT_LIMIT = 64 * 1024  # far below NATS's 1 MB payload limit
EXAMPLES = 3000
tried: dict[str, int] = {}
outcomes = {"rejected": 0, "valid": 0}


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(case=malformed(now=NOW))
def test_every_malformed_message_gets_a_specific_rejection_or_parses(case: Malformed) -> None:
    tried[case.mutation] = tried.get(case.mutation, 0) + 1
    if case.message_type in MESSAGE_TYPES:
        tried["types:" + case.message_type] = 1
    try:
        parsed = parse_message(case.body, case.source_system, case.message_type, now=NOW)
    except Rejection as rejection:
        outcomes["rejected"] += 1
        assert rejection.code in case.codes, (case.mutation, case.path, rejection.problems)
        assert rejection.problems
        assert all(p.code == rejection.code and p.message and p.rule for p in rejection.problems)
        receipt = receipts.rejected_input(rejection, case.source_system, case.message_type, 1)
        assert len(receipt.model_dump_json()) < RECEIPT_LIMIT  # it can always be delivered
        if case.path is not None:
            assert any(names_the_field(p.field, case.path) for p in rejection.problems), (
                case.path, [p.field for p in rejection.problems])
        return
    outcomes["valid"] += 1
    assert case.may_be_valid, f"{case.mutation} at {case.path} was accepted"
    assert isinstance(parsed, Envelope)
    assert parsed.message_type == case.message_type


def test_fuzzing_covered_every_contract_and_mutation(figures: Figures) -> None:
    types = {k for k in tried if k.startswith("types:")}
    mutations = {k: v for k, v in tried.items() if not k.startswith("types:")}
    figures("contract_fuzz", {"cases_tried": sum(mutations.values()),
                              "message_types": len(types), "mutations": len(mutations),
                              **outcomes, "unexpected_exceptions": 0})
    assert len(types) == len(MESSAGE_TYPES)
    assert len(mutations) == 13 + len(HOSTILE)  # 13 kinds, and each hostile input
    assert outcomes["rejected"] > outcomes["valid"] > 0


def test_a_fact_from_the_future_is_refused_with_the_clock_rule() -> None:
    doc: dict[str, Any] = example("referral.made")
    doc["occurred_at"] = "2026-11-23T12:11:00+00:00"  # 11 minutes ahead
    with pytest.raises(Rejection) as refused:
        parse_message(json.dumps(doc).encode(), "riverside-ehr", "referral.made",
                      now=NOW)
    (problem,) = refused.value.problems
    assert (refused.value.code, problem.field, problem.rule) == (
        "clock_skew", "occurred_at", "max_future_skew")
    assert "11 minutes ahead" in problem.message
    doc["occurred_at"] = "2026-11-23T12:09:00+00:00"  # within the allowed drift
    parse_message(json.dumps(doc).encode(), "riverside-ehr", "referral.made", now=NOW)
