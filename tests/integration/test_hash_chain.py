"""Tamper evidence, SQLite and PostgreSQL alike: any change to a stored row is caught.

The store is changed behind careloop's back with plain SQL, as someone with database access
could: an event's content altered, an event deleted, two events swapped. ``verify`` names
the first position where history no longer matches the chain. A rewrite of the chain table
too is caught only by a head hash anchored outside the database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.audit.hash_chain import HashChain, TamperFound
from services.audit.hash_chain_tables import TABLE, open_chain_table
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from tests.audit_support import RawStore, housing_story, post


@pytest.fixture
def app(base_settings: Settings) -> Iterator[CareLoop]:
    app = create_care_app(eventsourcing_env(base_settings))
    housing_story(app)  # positions 1..8: ledger entry, event, ledger entry, event, ...
    yield app
    app.close()


@pytest.fixture
def chain(app: CareLoop, base_settings: Settings) -> Iterator[HashChain]:
    table = open_chain_table(base_settings)
    chain = HashChain(app, table)
    assert chain.advance() == app.head_position() == 8
    yield chain
    table.close()


@pytest.fixture
def raw(base_settings: Settings, app: CareLoop) -> Iterator[RawStore]:
    store = RawStore(base_settings, app.recorder.events_table_name)
    yield store
    store.close()


def test_an_untouched_store_verifies_and_reports_its_head(chain: HashChain) -> None:
    report = chain.verify()
    head = chain.head()
    assert report.ok and report.finding is None
    assert head is not None and (report.checked, report.head_position) == (8, 8)
    assert report.head_hash == head.chain


def test_new_events_extend_the_chain_without_rehashing_the_past(
    app: CareLoop, chain: HashChain
) -> None:
    head_before = chain.head()
    post(app, "need.identified")
    assert chain.advance() == app.head_position() - 8
    assert chain.verify().ok
    assert chain.table.links(0, 8)[-1] == head_before


def test_an_altered_event_is_caught_at_its_position(chain: HashChain, raw: RawStore) -> None:
    raw.alter(4, b"harbor-housing", b"harbor-hostile")  # the consent's recipient
    report = chain.verify()
    assert not report.ok and report.finding is not None
    assert (report.finding.position, report.finding.kind) == (4, "altered")
    assert report.checked == 3


def test_a_deleted_event_is_caught(chain: HashChain, raw: RawStore) -> None:
    raw.delete(6)  # the referral being made
    report = chain.verify()
    assert report.finding is not None
    assert (report.finding.position, report.finding.kind) == (6, "deleted")


def test_the_last_event_deleted_is_caught_too(chain: HashChain, raw: RawStore) -> None:
    raw.delete(8)
    report = chain.verify()
    assert report.finding is not None and report.finding.kind == "deleted"
    assert report.finding.position == 8


def test_reordered_events_are_caught(chain: HashChain, raw: RawStore) -> None:
    raw.swap(4, 6)
    report = chain.verify()
    assert report.finding is not None
    assert (report.finding.position, report.finding.kind) == (4, "reordered")
    assert "chained at position 6" in report.finding.detail


def test_a_rewritten_chain_is_caught_only_by_the_external_anchor(
    app: CareLoop, chain: HashChain, raw: RawStore
) -> None:
    anchored = chain.verify()
    anchor = f"{anchored.head_position}:{anchored.head_hash}"
    # Someone alters an event and rebuilds the chain table to match it.
    raw.alter(2, b"Jordan", b"Jordon")
    raw.run(f"DELETE FROM {TABLE}")
    with pytest.raises(TamperFound):  # the altered row's seal no longer holds
        chain.advance()
    found = chain.verify().finding
    assert found is not None and (found.position, found.kind) == (2, "forged")
    report = chain.verify(expect_head=anchor)
    assert not report.ok and report.finding is not None  # the published head disagrees too


def test_a_forged_row_appended_after_the_head_is_never_chained(
    app: CareLoop, chain: HashChain, raw: RawStore
) -> None:
    raw.forge(copy_of=2)  # a real event's ciphertext, under another aggregate
    with pytest.raises(TamperFound) as found:
        chain.advance()
    assert (found.value.finding.position, found.value.finding.kind) == (9, "forged")
    head = chain.head()
    assert head is not None and head.position == 8  # not chained
    report = chain.verify()
    assert not report.ok and report.finding is not None
    assert (report.finding.position, report.finding.kind) == (9, "forged")


def test_an_anchor_is_found_on_a_chain_that_grew_since(app: CareLoop, chain: HashChain) -> None:
    anchored = chain.verify()
    post(app, "need.identified")
    chain.advance()
    assert chain.verify(expect_head=anchored.head_hash).ok
    assert chain.verify(expect_head=f"{anchored.head_position}:{anchored.head_hash}").ok
    assert not chain.verify(expect_head=f"3:{anchored.head_hash}").ok


def test_an_edited_chain_record_is_reported_as_such(chain: HashChain, raw: RawStore) -> None:
    raw.run(f"UPDATE {TABLE} SET chain_hash=? WHERE notification_id=?", "f" * 64, 5)
    report = chain.verify()
    assert report.finding is not None
    assert (report.finding.position, report.finding.kind) == (5, "chain-altered")
