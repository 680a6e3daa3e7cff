"""Properties of the clinical record that must hold for any input, not just the examples."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clinical_record import (
    CLINICAL_STATUSES,
    REVIEW_OUTCOMES,
    RISK_LEVELS,
    VERIFICATION_STATUSES,
    ClinicalRecord,
)
from domain.errors import DomainError
from domain.provenance import Actor, Provenance

MODEST = settings(max_examples=150, deadline=None)

# The tables as docs/domain.md gives them, written out again so the test does not trust the code.
COUNT = {"PHQ-9": 9, "GAD-7": 7}
BANDS = {
    "PHQ-9": [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"),
              (15, 19, "moderately severe"), (20, 27, "severe")],
    "GAD-7": [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")],
}


def expected_band(instrument: str, total: int) -> str:
    (band,) = [b for low, high, b in BANDS[instrument] if low <= total <= high]
    return band


def by(role: str, person: str) -> Provenance:
    return Provenance(
        actor=Actor(id=person, role=role, organisation="riverside-cmhc"),
        occurred_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        source_system="riverside-ehr", message_id=str(uuid.uuid4()), correlation_id="c",
    )


PEOPLE = [by("clinical-social-worker", "sw-a"), by("clinical-social-worker", "sw-b"),
          by("psychiatrist", "psy-a"), by("coordinator", "co-a"),
          by("housing-advocate", "ha-a"), by("benefits-advocate", "ba-a")]


def new_record() -> ClinicalRecord:
    return ClinicalRecord.start(uuid.uuid4(), PEOPLE[0])


# -- (a) screening arithmetic ---------------------------------------------------------------

@st.composite
def screenings(draw: st.DrawFn) -> tuple[str, list[int], int]:
    """Half well-formed answers with the right total, half anything at all."""
    instrument = draw(st.sampled_from(sorted(COUNT)))
    if draw(st.booleans()):
        items = draw(st.lists(st.integers(0, 3), min_size=COUNT[instrument],
                              max_size=COUNT[instrument]))
        return instrument, items, sum(items)
    items = draw(st.lists(st.integers(-2, 5), min_size=0, max_size=11))
    total = draw(st.one_of(st.just(sum(items)), st.integers(-3, 30)))
    return instrument, items, total


@MODEST
@given(screenings())
def test_screening_is_accepted_iff_count_ranges_and_total_are_right(
        screening: tuple[str, list[int], int]) -> None:
    instrument, items, total = screening
    valid = (len(items) == COUNT[instrument] and all(0 <= i <= 3 for i in items)
             and total == sum(items))
    record = new_record()
    record.collect_events()
    try:
        record.record_screening(uuid.uuid4(), instrument, items, total, PEOPLE[0])
    except DomainError as refusal:
        assert not valid, refusal
        assert refusal.field is not None and refusal.field.startswith("payload.")
        assert record.collect_events() == []
        return
    assert valid
    recorded, *rest = record.collect_events()
    assert recorded.band == expected_band(instrument, total)  # type: ignore[attr-defined]
    self_harm = instrument == "PHQ-9" and items[8] > 0
    assert [type(e).__name__ for e in rest] == (["RiskReviewRequested"] if self_harm else [])


# -- (b) random command sequences -----------------------------------------------------------

# Choices lean towards what is allowed (a psychiatrist may do everything), so sequences get
# deep enough to change, stop and amend what they recorded; the rest exercises refusals.
def mostly(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(good * 5 + bad)


IDS = [UUID(int=n) for n in (1, 2)]
ids = st.sampled_from(IDS)
people = mostly([PEOPLE[2]], PEOPLE)
texts = mostly(["because"], ["", " "])
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 1, 6))
maybe_days = st.none() | days
levels = mostly(list(RISK_LEVELS), ["extreme"])
clinical = mostly(list(CLINICAL_STATUSES), ["cured"])
verification = mostly(list(VERIFICATION_STATUSES[:-1]), ["entered-in-error", "likely"])
answers = mostly(["PHQ-9"], ["GAD-7"]).flatmap(lambda name: st.tuples(
    st.just(name), mostly([COUNT[name]], [8]).flatmap(
        lambda n: st.lists(st.integers(0, 3), min_size=n, max_size=n)),
    mostly([True], [False])))

Command = tuple[Any, ...]
STEPS: dict[str, Callable[..., None]] = {
    "screen": lambda r, p, i, a: r.record_screening(i, a[0], a[1], sum(a[1]) + (not a[2]), p),
    "review": lambda r, p, i, outcome, note, flag: r.complete_risk_review(i, outcome, note,
                                                                          flag, p),
    "raise": lambda r, p, i, level, reason: r.raise_risk_flag(i, level, reason, p),
    "level": lambda r, p, i, level, reason: r.change_risk_level(i, level, reason, p),
    "inactivate": lambda r, p, i, reason: r.inactivate_risk_flag(i, reason, p),
    "diagnose": lambda r, p, i, code, c, v: r.record_diagnosis(i, code, "d", c, v, None, p),
    "restatus": lambda r, p, i, c, v: r.change_diagnosis_status(i, c, v, "", p),
    "prescribe": lambda r, p, i, start, end: r.record_medication(i, "m", "d", "x", start, end, p),
    "stop": lambda r, p, i, on, reason: r.stop_medication(i, on, reason, p),
    "note": lambda r, p, i, text: r.record_psychotherapy_note(i, date(2026, 1, 1), text, p),
    "amend": lambda r, p, i, text: r.amend_psychotherapy_note(i, text, p),
    "treat": lambda r, p, i, start, end: r.record_substance_use_treatment(i, "prog", start, end,
                                                                          "", p),
    "discharge": lambda r, p, i, on: r.end_substance_use_treatment(i, on, "", p),
}
commands = st.one_of(
    st.tuples(st.just("screen"), people, ids, answers),
    st.tuples(st.just("review"), people, ids, mostly(list(REVIEW_OUTCOMES), ["shrug"]),
              texts, st.none() | ids),
    st.tuples(st.just("raise"), people, ids, levels, texts),
    st.tuples(st.just("level"), people, ids, levels, texts),
    st.tuples(st.just("inactivate"), people, ids, texts),
    st.tuples(st.just("diagnose"), people, ids, mostly(["F32.1"], ["bad"]),
              clinical, verification),
    st.tuples(st.just("restatus"), people, ids, st.none() | clinical, st.none() | verification),
    st.tuples(st.just("prescribe"), people, ids, days, maybe_days),
    st.tuples(st.just("stop"), people, ids, days, texts),
    st.tuples(st.just("note"), people, ids, texts),
    st.tuples(st.just("amend"), people, ids, texts),
    st.tuples(st.just("treat"), people, ids, days, maybe_days),
    st.tuples(st.just("discharge"), people, ids, days),
)


def state_of(record: ClinicalRecord) -> dict[str, Any]:
    return copy.deepcopy({k: v for k, v in vars(record).items() if k != "_pending_events"})


def assert_valid(record: ClinicalRecord) -> None:
    for flag in record.risk_flags.values():
        assert flag.status in ("active", "inactive") and flag.level in RISK_LEVELS
    for review in record.risk_reviews.values():
        assert review.status in ("requested", "completed")
        assert (review.outcome is None) == (review.status == "requested")
        assert review.screening_id in record.screenings
    for dx in record.diagnoses.values():
        assert dx.verification_status in VERIFICATION_STATUSES
        in_error = dx.verification_status == "entered-in-error"
        assert (dx.clinical_status is None) if in_error else dx.clinical_status in CLINICAL_STATUSES
    for med in record.medications.values():
        assert med.status in ("active", "stopped")
        assert med.end is None or med.end >= med.start
        assert med.status == "active" or med.end is not None
    for episode in record.episodes.values():
        assert episode.end is None or episode.end >= episode.start
    for note in record.notes.values():
        assert note.author in {"sw-a", "sw-b", "psy-a"}


def run(record: ClinicalRecord, script: list[Command]) -> list[Any]:
    """Apply each command; a refusal must leave the record exactly as it was."""
    events = list(record.collect_events())
    for name, person, *args in script:
        before, version = state_of(record), record.version
        try:
            STEPS[name](record, person, *args)
        except DomainError as refusal:
            assert refusal.code != DomainError.code and refusal.field
            assert state_of(record) == before and record.version == version
            assert record.collect_events() == []
        assert_valid(record)
        events += record.collect_events()
    return events


@MODEST
@given(st.lists(commands, min_size=10, max_size=60))
def test_any_command_sequence_keeps_statuses_valid_and_refusals_change_nothing(
        script: list[Command]) -> None:
    run(new_record(), script)


# -- (c) replay -----------------------------------------------------------------------------

@MODEST
@given(st.lists(commands, min_size=10, max_size=60))
def test_replaying_the_events_rebuilds_the_same_record(script: list[Command]) -> None:
    record = new_record()
    events = run(record, script)
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt is not None
    assert vars(rebuilt) == vars(record)
