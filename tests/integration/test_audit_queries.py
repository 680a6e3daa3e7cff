"""An auditor's questions, answered from the store itself, SQLite and PostgreSQL alike:
a client's timeline, their care plan as it stood earlier, one aggregate at a version, the
accounting of disclosures, and the same through ``careloop audit`` (whose reads are recorded)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

from services.audit.as_of import aggregate_at_version, view_as_of
from services.audit.disclosure_accounting import Reader, accounting, record_read
from services.audit.fhir_export import timeline_bundle
from services.audit.timeline import TimelineFilter, timeline
from services.cli.main import app as cli
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from tests.audit_support import RawStore, housing_story, post
from tests.helpers import CLIENT_ID

CLIENT = uuid.UUID(CLIENT_ID)
AUDITOR = Reader("aud-7", "auditor", "state-oversight")


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


def cli_env(settings: Settings) -> dict[str, str]:
    env = {"CARELOOP_STORE": settings.store, "CARELOOP_DATA_DIR": str(settings.data_dir)}
    if settings.store == "postgres":
        env.update({f"CARELOOP_POSTGRES_{k.upper()}": str(getattr(settings, f"postgres_{k}"))
                    for k in ("host", "port", "dbname", "user", "password", "schema")})
    return env


def test_timeline_lists_every_event_of_the_client_across_aggregates_in_order(app: CareLoop) -> None:
    referral = housing_story(app)
    post(app, "need.identified")
    post(app, "client.registered", client_id=uuid.uuid4())  # someone else
    events = list(timeline(app, CLIENT))
    assert [e["event_type"] for e in events] == [
        "client.registered", "client.consent_recorded", "referral.made", "referral.accepted",
        "care_plan.started", "care_plan.need_identified"]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    accepted = events[3]
    assert accepted["aggregate_id"] == str(referral)
    assert accepted["actor"] == {"id": "ha-207", "role": "housing-advocate",
                                 "organisation": "harbor-housing"}
    assert accepted["occurred_at"] != accepted["recorded_at"]  # business vs recorded time


def test_timeline_filters_by_aggregate_actor_and_recorded_period(app: CareLoop) -> None:
    referral = housing_story(app)
    middle = datetime.now(UTC)
    post(app, "need.identified")
    assert {e["aggregate_type"] for e in timeline(app, CLIENT, TimelineFilter(
        aggregate="referral"))} == {"referral"}
    assert len(list(timeline(app, CLIENT, TimelineFilter(aggregate=str(referral))))) == 2
    assert [e["event_type"] for e in timeline(app, CLIENT, TimelineFilter(actor="ha-207"))] == [
        "referral.accepted"]
    later = [e["event_type"] for e in timeline(app, CLIENT, TimelineFilter(since=middle))]
    assert later == ["care_plan.started", "care_plan.need_identified"]
    assert len(list(timeline(app, CLIENT, TimelineFilter(until=middle)))) == 4


def test_timeline_exports_as_a_valid_fhir_bundle_of_provenance_and_audit_events(
    app: CareLoop
) -> None:
    housing_story(app)
    record_read(app, CLIENT, AUDITOR, "care_plan", "http", purpose="emergency",
                break_glass_reason="client missing, welfare check")
    bundle = timeline_bundle(timeline(app, CLIENT))
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Provenance"] * 4 + ["AuditEvent"]
    made = bundle["entry"][2]["resource"]
    assert made["target"][0]["reference"].startswith("ServiceRequest/")
    assert made["agent"][0]["who"]["identifier"]["value"] == "sw-1042"
    read = bundle["entry"][4]["resource"]
    assert read["action"] == "R"
    assert {c["coding"][0]["code"] for c in read["purposeOfEvent"]} == {"ETREAT", "BTG"}
    assert read["entity"][0]["what"]["reference"] == f"Patient/{CLIENT_ID}"


def test_care_plan_as_of_an_earlier_instant_is_rebuilt_from_the_events_up_to_it(
    app: CareLoop
) -> None:
    referral = housing_story(app)
    before_need = datetime.now(UTC)
    post(app, "need.identified")
    post(app, "referral.completed", referral_id=referral)
    then = view_as_of(app, CLIENT, before_need)
    now = view_as_of(app, CLIENT, datetime.now(UTC))
    assert then is not None and now is not None
    assert then["referrals"][str(referral)]["status"] == "accepted"
    assert now["referrals"][str(referral)]["status"] == "completed"
    assert "needs" not in then and now["needs"]
    assert view_as_of(app, CLIENT, datetime(2000, 1, 1, tzinfo=UTC)) is None


def test_as_of_business_time_uses_when_things_happened(app: CareLoop) -> None:
    housing_story(app)  # the examples happened on 2026-11-02 .. 2026-11-05
    early = view_as_of(app, CLIENT, datetime(2026, 11, 2, 23, 0, tzinfo=UTC), by="business")
    assert early is not None and early["client"] is not None
    assert early["referrals"] == {}


def test_one_aggregate_replays_to_any_version(app: CareLoop) -> None:
    referral = housing_story(app)
    assert aggregate_at_version(app, referral, 1)["status"] == "requested"
    assert aggregate_at_version(app, referral, 2)["status"] == "accepted"
    with pytest.raises(LookupError):
        aggregate_at_version(app, uuid.uuid4(), 1)


def test_accounting_lists_reads_and_referral_disclosures_in_the_period(app: CareLoop) -> None:
    housing_story(app)
    start = datetime.now(UTC)
    record_read(app, CLIENT, Reader("psy-9", "psychiatrist", "riverside-psych"), "care_plan",
                "http", purpose="emergency", break_glass_reason="overdose risk")
    record_read(app, uuid.uuid4(), AUDITOR, "care_plan", "http")  # another client
    entries = list(accounting(app, CLIENT))
    assert [e.kind for e in entries] == ["referral", "read"]
    assert entries[0].organisation == "harbor-housing"
    read = entries[1]
    assert (read.recipient, read.role, read.organisation, read.what, read.purpose,
            read.break_glass_reason) == ("psy-9", "psychiatrist", "riverside-psych",
                                         "care_plan", "emergency", "overdose risk")
    assert [e.kind for e in accounting(app, CLIENT, since=start)] == ["read"]


def test_cli_answers_from_the_store_and_records_the_auditors_own_reads(
    app: CareLoop, base_settings: Settings
) -> None:
    housing_story(app)
    runner = CliRunner()
    env = cli_env(base_settings)
    done = runner.invoke(cli, ["audit", "timeline", CLIENT_ID, "--format", "ndjson",
                               "--auditor", "aud-7"], env=env)
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.output.splitlines()]
    assert [e["event_type"] for e in lines][:4] == [
        "client.registered", "client.consent_recorded", "referral.made", "referral.accepted"]
    assert lines[-1]["event_type"] == "disclosure.recorded"  # this very read
    as_of = runner.invoke(cli, ["audit", "as-of", CLIENT_ID, "--at", "2100-01-01"], env=env)
    assert as_of.exit_code == 0, as_of.output
    assert json.loads(as_of.output)["client"]["given_name"] == "Jordan"
    listed = runner.invoke(cli, ["audit", "disclosures", CLIENT_ID, "--format", "ndjson"],
                           env=env)
    reads = [json.loads(line) for line in listed.output.splitlines()]
    reads = [r for r in reads if r["kind"] == "read"]
    assert [r["what"] for r in reads] == ["timeline:ndjson", "care_plan:as-of:2100-01-01T00:00:00+00:00",
                                          "disclosures"]
    assert reads[0]["recipient"] == "aud-7"
    assert {(r["role"], r["channel"], r["purpose"]) for r in reads} == {("auditor", "cli", "audit")}


def test_cli_verify_passes_then_catches_a_deliberate_alteration(
    app: CareLoop, base_settings: Settings
) -> None:
    housing_story(app)
    runner = CliRunner()
    env = cli_env(base_settings)
    first = runner.invoke(cli, ["audit", "verify"], env=env)
    assert first.exit_code == 0 and "OK" in first.output
    head = first.output.split("head: ")[1].split()[0]
    anchored = runner.invoke(cli, ["audit", "verify", "--expect-head", head], env=env)
    assert anchored.exit_code == 0, anchored.output
    raw = RawStore(base_settings, app.recorder.events_table_name)
    try:
        raw.alter(6, b"urgent", b"routine")  # the referral's priority
    finally:
        raw.close()
    caught = runner.invoke(cli, ["audit", "verify"], env=env)
    assert caught.exit_code == 2
    assert "TAMPERED at position 6 (altered)" in caught.output


def test_every_audit_command_on_a_tampered_store_names_the_bad_row(
    app: CareLoop, base_settings: Settings
) -> None:
    housing_story(app)
    raw = RawStore(base_settings, app.recorder.events_table_name)
    try:
        raw.alter(2, b"Jordan", b"Jordon")  # the client's registration (Invalid cipher tag)
    finally:
        raw.close()
    runner = CliRunner()
    env = cli_env(base_settings)
    commands = [["audit", "timeline", CLIENT_ID, "--format", "ndjson"],
                ["audit", "as-of", CLIENT_ID, "--at", "2100-01-01"],
                ["audit", "rebuild", "--all"],
                ["audit", "verify"]]
    for command in commands:
        done = runner.invoke(cli, command, env=env)
        assert done.exit_code == 2, (command, done.output, done.exception)
        assert "TAMPERED" in done.output, (command, done.output)
        assert "position 2" in done.output or CLIENT_ID in done.output, (command, done.output)
        assert "Traceback" not in done.output


def test_cli_redacts_restricted_content_unless_an_investigation_is_stated(
    app: CareLoop, base_settings: Settings
) -> None:
    housing_story(app)
    post(app, "substance_use_treatment.recorded")
    post(app, "psychotherapy_note.recorded")
    sud = "goal of abstinence"
    note = "Session 2 of CBT"
    runner = CliRunner()
    env = cli_env(base_settings)
    plain = runner.invoke(cli, ["audit", "timeline", CLIENT_ID, "--format", "ndjson"], env=env)
    assert plain.exit_code == 0 and sud not in plain.output and note not in plain.output
    assert '"redacted": true' in plain.output
    short = runner.invoke(cli, ["audit", "timeline", CLIENT_ID, "--investigation", "why"],
                          env=env)
    assert short.exit_code != 0
    reason = "Complaint 2026-114 about Part 2 disclosures"
    opened = runner.invoke(cli, ["audit", "as-of", CLIENT_ID, "--at", "2100-01-01",
                                 "--investigation", reason], env=env)
    assert opened.exit_code == 0 and sud in opened.output and note not in opened.output
    reads = [e for e in accounting(app, CLIENT) if e.kind == "read"]
    assert [r.break_glass_reason for r in reads] == [None, reason]
