"""PHQ-9 and GAD-7 scoring (LOINC): the pure rules a screening must pass before it is recorded.

Kept apart from the clinical record so the arithmetic can be tested exhaustively on its own.
A screening is refused rather than repaired: a total that does not add up means the sender's
form is wrong, and a silently corrected score would hide that from the clinician.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import DomainError

ITEM_MIN, ITEM_MAX = 0, 3


@dataclass(frozen=True)
class Instrument:
    name: str
    loinc_total: str
    item_count: int
    bands: tuple[tuple[int, int, str], ...]
    """(lowest total, highest total, band), covering 0 to the maximum without gaps."""

    @property
    def max_total(self) -> int:
        return self.item_count * ITEM_MAX


PHQ9 = Instrument("PHQ-9", "44261-6", 9, (
    (0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 19, "moderately severe"),
    (20, 27, "severe")))
GAD7 = Instrument("GAD-7", "70274-6", 7, (
    (0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")))
INSTRUMENTS = {i.name: i for i in (PHQ9, GAD7)}

PHQ9_SELF_HARM_ITEM = 8
"""Index of PHQ-9 item 9, 'thoughts that you would be better off dead or of hurting yourself'."""
PHQ9_SELF_HARM_LOINC = "44260-8"


class ScreeningError(DomainError):
    """A screening rule refused the result."""

    code = "screening_rule"


class UnknownInstrument(ScreeningError):
    """The screening instrument is not PHQ-9 or GAD-7."""

    code = "unknown_screening_instrument"


class WrongItemCount(ScreeningError):
    """The screening has the wrong number of items for its instrument."""

    code = "screening_item_count"


class ItemOutOfRange(ScreeningError):
    """A screening item is outside 0-3."""

    code = "screening_item_out_of_range"


class TotalOutOfRange(ScreeningError):
    """The screening total is outside the instrument's range."""

    code = "screening_total_out_of_range"


class TotalMismatch(ScreeningError):
    """The screening total does not equal the sum of its items."""

    code = "screening_total_mismatch"


@dataclass(frozen=True)
class Score:
    instrument: Instrument
    total: int
    band: str
    self_harm_score: int
    """PHQ-9 item 9 (0 for instruments without a self-harm item); above 0 needs a risk review."""

    @property
    def needs_risk_review(self) -> bool:
        return self.self_harm_score > 0


def instrument(name: str) -> Instrument:
    if name not in INSTRUMENTS:
        raise UnknownInstrument(
            f"screening instrument '{name}' is not one of {', '.join(INSTRUMENTS)}",
            field="payload.instrument")
    return INSTRUMENTS[name]


def band_of(inst: Instrument, total: int) -> str:
    for low, high, band in inst.bands:
        if low <= total <= high:
            return band
    raise TotalOutOfRange(f"a {inst.name} total is 0 to {inst.max_total}, not {total}",
                          field="payload.total")


def _is_score(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and \
        ITEM_MIN <= value <= ITEM_MAX


def score(name: str, items: list[int], total: int) -> Score:
    """Check the answers and the reported total; the band is ours, never the sender's."""
    inst = instrument(name)
    if len(items) != inst.item_count:
        raise WrongItemCount(
            f"a {inst.name} has {inst.item_count} items; {len(items)} were sent",
            field="payload.items")
    for i, value in enumerate(items):
        if not _is_score(value):
            raise ItemOutOfRange(
                f"{inst.name} item {i + 1} is scored {ITEM_MIN} to {ITEM_MAX}, not {value!r}",
                field=f"payload.items[{i}]")
    if isinstance(total, bool) or not isinstance(total, int) or \
            not 0 <= total <= inst.max_total:
        raise TotalOutOfRange(f"a {inst.name} total is 0 to {inst.max_total}, not {total!r}",
                              field="payload.total")
    if total != sum(items):
        raise TotalMismatch(
            f"the {inst.name} total {total} does not equal the sum of its items ({sum(items)})",
            field="payload.total")
    self_harm = items[PHQ9_SELF_HARM_ITEM] if inst is PHQ9 else 0
    return Score(inst, total, band_of(inst, total), self_harm)
