"""View stores, SQLite and PostgreSQL alike: each event applied once, position in step."""

from __future__ import annotations

from typing import Any

import pytest

from projections.view_store import SQLiteViewStore, ViewStore
from projections.view_store_postgres import PostgresViewStore
from services.settings import Settings
from services.store.view_stores import open_view_store


def counter(doc: dict[str, Any] | None, event: dict[str, Any], key: str) -> dict[str, Any]:
    doc = doc or {"n": 0, "seen": []}
    if event.get("explode"):
        raise RuntimeError("projection bug")
    return {"n": doc["n"] + 1, "seen": [*doc["seen"], event["position"]]}


def key(event: dict[str, Any]) -> list[str]:
    return [str(event["k"])]


def batch(*seqs: int, explode_at: int | None = None) -> list[tuple[int, dict[str, Any]]]:
    return [(s, {"k": "a", "position": s * 10, "explode": s == explode_at}) for s in seqs]


@pytest.fixture
def store(base_settings: Settings) -> ViewStore:
    opened = open_view_store(base_settings)
    expected = SQLiteViewStore if base_settings.store == "sqlite" else PostgresViewStore
    assert isinstance(opened, expected)
    yield opened
    opened.close()


def test_batch_updates_view_and_position_together(store: ViewStore) -> None:
    pos = store.apply_batch("p", "v", batch(1, 2, 3), counter, key)
    assert (pos.stream_seq, pos.store_position) == (3, 30)
    assert store.get("v", "a") == {"n": 3, "seen": [10, 20, 30]}
    assert store.position("p") == pos


def test_redelivered_events_are_applied_once(store: ViewStore) -> None:
    store.apply_batch("p", "v", batch(1, 2), counter, key)
    store.apply_batch("p", "v", batch(2, 3), counter, key)
    assert store.get("v", "a") == {"n": 3, "seen": [10, 20, 30]}


def test_a_failing_batch_leaves_view_and_position_untouched(store: ViewStore) -> None:
    store.apply_batch("p", "v", batch(1), counter, key)
    with pytest.raises(RuntimeError):
        store.apply_batch("p", "v", batch(2, 3, explode_at=3), counter, key)
    assert store.get("v", "a") == {"n": 1, "seen": [10]}
    assert store.position("p").stream_seq == 1


def test_position_survives_reopening(base_settings: Settings, store: ViewStore) -> None:
    store.apply_batch("p", "v", batch(1, 2), counter, key)
    reopened = open_view_store(base_settings)
    try:
        assert reopened.position("p").stream_seq == 2
        assert reopened.get("v", "a") == {"n": 2, "seen": [10, 20]}
    finally:
        reopened.close()
