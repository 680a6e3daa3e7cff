"""Ingest partitions: every registered system is consumed by exactly one partition, the
same one in every process (whatever Python's per-process ``hash`` does), and a
partition number outside 0..N-1 is refused."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from services.bus.streams import INBOUND_SUBJECTS
from services.ingest.partitions import (
    assignment,
    check_partition,
    durable_name,
    durable_names,
    filter_subjects,
)
from services.settings import Settings

SYSTEMS = [f"system-{k}" for k in range(40)] + ["riverside-ehr", "harbor-cases"]


def settings(n: int, i: int = 0) -> Settings:
    return Settings(_env_file=None, ingest_partitions=n, ingest_partition=i,  # type: ignore[call-arg]
                    consumer_prefix="cl")


@pytest.mark.parametrize("n", [2, 3, 7])
def test_every_system_is_consumed_by_exactly_one_partition(n: int) -> None:
    owners: dict[str, list[int]] = {}
    for i in range(n):
        for subject in filter_subjects(settings(n, i), SYSTEMS):
            owners.setdefault(subject, []).append(i)
    assert sorted(owners) == sorted(f"careloop.in.{s}.>" for s in SYSTEMS)
    assert all(len(parts) == 1 for parts in owners.values())
    assert len({p[0] for p in owners.values()}) == n  # 42 systems reach every partition


def test_the_partitions_are_even_and_the_same_in_another_process() -> None:
    here = assignment(SYSTEMS, 5)
    sizes = Counter(here.values())
    assert max(sizes.values()) - min(sizes.values()) <= 1
    assert assignment(list(reversed(SYSTEMS)), 5) == here  # the registry's order is no matter
    code = ("from services.ingest.partitions import assignment; "
            f"print(assignment({SYSTEMS!r}, 5))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123"},
                           cwd=Path(__file__).resolve().parents[2]).stdout
    assert str(here) == there.strip()


def test_one_partition_consumes_everything_under_the_name_it_always_had() -> None:
    assert filter_subjects(settings(1), SYSTEMS) == [INBOUND_SUBJECTS]
    assert durable_name(settings(1)) == "cl-ingest"
    assert durable_names(settings(3, 1)) == ["cl-ingest-0-of-3", "cl-ingest-1-of-3",
                                             "cl-ingest-2-of-3"]


@pytest.mark.parametrize(("n", "i"), [(3, 3), (1, 1), (2, 5)])
def test_a_partition_outside_the_count_is_refused(n: int, i: int) -> None:
    with pytest.raises(ValueError, match="not one of"):
        check_partition(settings(n, i))
    check_partition(settings(n, n - 1))
