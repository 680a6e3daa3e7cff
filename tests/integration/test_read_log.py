"""Reads over the API are recorded in the read log before any data leaves: every one is in
the accounting of disclosures, the log is encrypted at rest and hash-chained, and a read
whose record fails returns nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from typer.testing import CliRunner

from domain.disclosure import BreakGlassReasonRequired
from services.api.access_tokens import Caller
from services.api.disclosure_recorder import DisclosureRecorder, Read
from services.audit.disclosure_accounting import Reader, accounting, record_read
from services.cli.main import app as cli
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from services.store.read_log import ReadFact, ReadLog
from tests.integration.test_audit_queries import cli_env

CLIENT = uuid.uuid4()
PSY = Caller("psy-1", "psychiatrist", "riverside-psych")


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """The CLI points structlog at the runner's captured stderr; put it back afterwards."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def app(base_settings: Settings) -> Iterator[CareLoop]:
    app = create_care_app(eventsourcing_env(base_settings))
    yield app
    app.close()


async def record_all(app: CareLoop, reads: list[Read]) -> DisclosureRecorder:
    recorder = DisclosureRecorder(app)
    try:
        await asyncio.gather(*(recorder.record(r) for r in reads))
    finally:
        await recorder.stop()
    return recorder


async def test_every_concurrent_read_is_in_the_accounting(app: CareLoop) -> None:
    others = uuid.uuid4()
    reads = [Read(CLIENT if i % 3 else others, PSY, "care_plan.psychiatrist", "treatment",
                  "http") for i in range(300)]
    recorder = await record_all(app, reads)
    assert recorder.recorded == 300
    assert recorder.commits < 300  # reads waiting together shared commits
    listed = [e for e in accounting(app, CLIENT) if e.kind == "read"]
    assert len(listed) == sum(1 for r in reads if r.client_id == CLIENT)
    assert {(e.recipient, e.role, e.organisation, e.what, e.purpose, e.channel)
            for e in listed} == {("psy-1", "psychiatrist", "riverside-psych",
                                  "care_plan.psychiatrist", "treatment", "http")}


async def test_logged_and_stored_reads_come_out_together_in_time_order(app: CareLoop) -> None:
    start = datetime.now(UTC)
    record_read(app, CLIENT, Reader("aud-7", "auditor", "state-oversight"), "timeline", "cli")
    await record_all(app, [Read(CLIENT, PSY, "care_plan.psychiatrist", "emergency", "http",
                                "unresponsive in A&E")])
    entries = list(accounting(app, CLIENT))
    assert [(e.recipient, e.channel) for e in entries] == [("aud-7", "cli"), ("psy-1", "http")]
    assert entries[1].break_glass_reason == "unresponsive in A&E"
    assert list(accounting(app, CLIENT, until=start)) == []
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert list(accounting(app, CLIENT, since=later)) == []


async def test_the_log_is_encrypted_and_any_change_to_it_is_found(app: CareLoop) -> None:
    for i in range(3):
        await record_all(app, [Read(CLIENT, PSY, f"view-{i}", "treatment", "http")])
    log = ReadLog(app)
    assert log.verify() is None
    with app.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"SELECT body FROM {log.table}")
        bodies = [bytes(r["body"]) for r in cursor.fetchall()]
    assert len(bodies) == 3 and not any(b"psy-1" in b or b"view-" in b for b in bodies)

    with app.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"UPDATE {log.table} SET body = {log.mark} WHERE seq = 2",
                       (bodies[0],))  # another row's (valid, encrypted) reads
    assert log.verify() == 2
    with app.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"UPDATE {log.table} SET body = {log.mark} WHERE seq = 2",
                       (bodies[1],))
        cursor.execute(f"DELETE FROM {log.table} WHERE seq = 1")
    assert log.verify() == 1  # a row taken out


async def test_audit_verify_reports_a_broken_read_log(
    app: CareLoop, base_settings: Settings,
) -> None:
    for _ in range(2):
        await record_all(app, [Read(CLIENT, PSY, "care_plan", "treatment", "http")])
    env = cli_env(base_settings)
    assert CliRunner().invoke(cli, ["audit", "verify"], env=env).exit_code == 0
    log = ReadLog(app)
    with app.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"DELETE FROM {log.table} WHERE seq = 1")
    caught = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert caught.exit_code == 2 and "read log breaks at row 1" in caught.output


async def test_a_read_is_refused_when_it_cannot_be_recorded(
    app: CareLoop, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: ReadLog, facts: object) -> int:
        raise OSError("the disk is full")

    monkeypatch.setattr(ReadLog, "append", broken)
    recorder = DisclosureRecorder(app)
    try:
        with pytest.raises(OSError):
            await recorder.record(Read(CLIENT, PSY, "care_plan", "treatment", "http"))
    finally:
        await recorder.stop()
    assert recorder.recorded == 0


async def test_an_emergency_read_without_a_reason_is_refused(app: CareLoop) -> None:
    recorder = DisclosureRecorder(app)
    with pytest.raises(BreakGlassReasonRequired):
        await recorder.record(Read(CLIENT, PSY, "break_glass", "emergency", "http", "  "))
    await recorder.stop()
    assert list(accounting(app, CLIENT)) == []


async def test_two_writers_take_turns_without_breaking_the_chain(app: CareLoop) -> None:
    """Two API processes append to one log: each finds the other's rows and links to them."""
    first, second = ReadLog(app), ReadLog(app)
    for i in range(4):
        (first if i % 2 == 0 else second).append([_fact(i)])
    assert [f.view for f in first.reads()] == ["view-0", "view-1", "view-2", "view-3"]
    assert first.verify() is None


def _fact(i: int) -> ReadFact:
    return ReadFact(uuid.uuid4(), CLIENT, "psy-1", "psychiatrist", "riverside-psych",
                    f"view-{i}", "treatment", None, "http", datetime.now(UTC))
