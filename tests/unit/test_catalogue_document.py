"""docs/catalogue.md is generated from the code: stale or incomplete, a test says so."""

from __future__ import annotations

import re
from pathlib import Path

from contracts.v1.catalogue import MESSAGE_TYPES
from services.cli.catalogue import (
    CATALOGUE,
    INPUT_CODES,
    SERVICE_CODES,
    catalogue_markdown,
    domain_codes,
    outbound_events,
)

ROOT = Path(__file__).resolve().parents[2]
CODE_LITERALS = re.compile(r'(?:_problem|Rejection|_rejected\([^,]+,)\(?\s*"([a-z0-9_]+)"|code="([a-z0-9_]+)"')


def test_the_committed_catalogue_is_what_the_code_says() -> None:
    assert CATALOGUE.read_text() == catalogue_markdown(), "run `careloop contracts` and commit docs/catalogue.md"


def test_every_rejection_code_written_in_the_code_is_documented() -> None:
    documented = set(INPUT_CODES) | set(SERVICE_CODES) | set(domain_codes())
    used = set()
    for folder in ("contracts", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            for a, b in CODE_LITERALS.findall(path.read_text()):
                used.add(a or b)
    assert used, "the scan found no codes at all: the pattern is broken"
    assert used - documented == set()


def test_the_catalogue_names_every_inbound_type_and_the_renamed_outbound_events() -> None:
    text = CATALOGUE.read_text()
    for name in MESSAGE_TYPES:
        assert f"| `{name}` |" in text
    events = {event for event, _ in outbound_events()}
    assert {"client.care_team_member_added", "care_plan.started", "referral.made"} <= events
    assert all(f"| `{event}` |" in text for event in events)
