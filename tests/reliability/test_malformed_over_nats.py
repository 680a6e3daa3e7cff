"""A sample of the fuzzed messages, sent through the real ingest over NATS: each gets a
rejected receipt with the same code the contract fuzzing expects, the store does not move,
and the ingest goes on accepting good messages afterwards."""

from __future__ import annotations

import asyncio

from hypothesis import Phase, given, settings

from contracts.v1.parsing import Rejection, parse_message
from services.partners.client import PartnerClient
from services.runtime import Runtime
from tests.helpers import message
from tests.reliability.conftest import Figures
from tests.reliability.malformed import Malformed, malformed

SAMPLE = 60


def rejected_sample(n: int) -> list[tuple[Malformed, Rejection]]:
    """``n`` malformed messages that careloop must refuse, with the refusal it owes."""
    found: list[tuple[Malformed, Rejection]] = []

    @settings(max_examples=n * 2, database=None, derandomize=True, phases=[Phase.generate],
              deadline=None)
    @given(case=malformed())
    def collect(case: Malformed) -> None:
        try:
            parse_message(case.body, case.source_system, case.message_type)
        except Rejection as rejection:
            if len(found) < n:
                found.append((case, rejection))

    collect()
    return found


async def test_malformed_messages_over_nats_are_rejected_and_change_nothing(
    runtime: Runtime, figures: Figures,
) -> None:
    sample = rejected_sample(SAMPLE)
    partners: dict[str, PartnerClient] = {}
    head = await asyncio.to_thread(runtime.app.head_position)  # type: ignore[union-attr]
    wrong = []
    try:
        for case, expected in sample:
            if case.source_system not in partners:
                partners[case.source_system] = await PartnerClient.connect(
                    runtime.nats_url, case.source_system, runtime.settings.stream_inbound)
            receipt = await partners[case.source_system].post_raw(case.body, case.message_type)
            if (receipt.status, receipt.reason) != ("rejected", expected.code) or (
                    [p.field for p in receipt.problems] != [p.field for p in expected.problems]):
                wrong.append((case.mutation, case.path, receipt.reason, expected.code))
        assert await asyncio.to_thread(runtime.app.head_position) == head  # type: ignore[union-attr]

        ehr = partners.get("riverside-ehr") or await PartnerClient.connect(
            runtime.nats_url, "riverside-ehr", runtime.settings.stream_inbound)
        partners["riverside-ehr"] = ehr
        still_working = await ehr.post(message("client.registered"))
    finally:
        for partner in partners.values():
            await partner.close()
    figures(f"malformed_over_nats[{runtime.settings.store}]", {"messages_sent": len(sample),
                                    "mutations": len({c.mutation for c, _ in sample}),
                                    "rejected_as_expected": len(sample) - len(wrong),
                                    "stored": 0})
    assert len(sample) == SAMPLE
    assert wrong == []
    assert still_working.status == "accepted"


async def test_a_message_with_thousands_of_errors_gets_a_short_precise_rejection(
    runtime: Runtime,
) -> None:
    flood = message("consent.recorded")
    flood["payload"]["recipient_roles"] = ["x"] * 20_000  # ~100 KB, 20,000 errors
    ehr = await PartnerClient.connect(runtime.nats_url, "riverside-ehr",
                                      runtime.settings.stream_inbound)
    try:
        receipt = await ehr.post(flood, timeout=60)
    finally:
        await ehr.close()
    assert (receipt.status, receipt.reason) == ("rejected", "schema_violation")
    assert receipt.problems[0].field == "payload.recipient_roles.0"
    assert receipt.problems[-1].rule == "more_problems"
    assert len(receipt.problems) == 21 and "19980 more" in receipt.problems[-1].message
    assert len(receipt.model_dump_json()) < 64 * 1024
