"""``careloop audit ...``: an auditor's questions, answered from the event store itself.

Reads the store directly with the same settings as ``careloop serve``. Every command that
shows part of a client's record first stores that read as a ``Disclosure`` (channel
``cli``, purpose ``audit``), so auditors appear in the accounting of disclosures too.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from projections.audit_redaction import redact, redact_record
from services.audit.as_of import aggregate_at_version, owners_of, view_as_of
from services.audit.disclosure_accounting import Reader, accounting, record_read
from services.audit.fhir_export import timeline_bundle
from services.audit.hash_chain import HashChain, TamperFound
from services.audit.hash_chain_tables import open_chain_table
from services.audit.rebuild import (
    NothingLive,
    compare,
    compare_derived,
    live_namespace,
    open_namespaces,
    rebuild,
    switch,
)
from services.audit.timeline import TimelineFilter, timeline
from services.cli.structured_logging import configure_logging
from services.projector.registry import PROJECTIONS
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_seal import DamagedEvent
from services.store.event_store_config import eventsourcing_env
from services.store.read_log import ReadLog
from services.store.view_stores import open_view_store

audit_app = typer.Typer(help="Audit: history, past states, tamper evidence, disclosures, "
                             "projection rebuilds.", no_args_is_help=True)
out = Console(soft_wrap=True)

AuditorOpt = Annotated[str | None, typer.Option(
    "--auditor", help="Who is auditing (recorded as the reader); default: your login name.")]
OrgOpt = Annotated[str, typer.Option("--organisation", help="The auditor's organisation.")]
InvestigationOpt = Annotated[str | None, typer.Option(
    "--investigation", help="Show restricted (R/V) content, for this stated reason (recorded "
    "with the read). Psychotherapy-note text and contact details are never shown.")]


def parse_instant(text: str | None) -> datetime | None:
    """ISO date or date-time; a date means its midnight, no offset means UTC."""
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@contextmanager
def store() -> Iterator[tuple[Settings, CareLoop]]:
    settings = Settings()
    configure_logging("console", "WARNING")
    app = create_care_app(eventsourcing_env(settings))
    try:
        yield settings, app
    except DamagedEvent as e:  # a tampered or unreadable row: say which, no traceback
        out.print(f"[red]TAMPERED[/red]: {e}")
        out.print("Run `careloop audit verify` for the full check.")
        raise typer.Exit(2) from None
    finally:
        app.close()


def _record(app: CareLoop, client_id: UUID, auditor: str | None, organisation: str,
            view: str, investigation: str | None = None) -> None:
    reader = Reader(user=auditor or getpass.getuser(), role="auditor", organisation=organisation)
    if investigation is not None and len(investigation.strip()) < 10:
        raise typer.BadParameter("--investigation needs the reason in at least a sentence")
    record_read(app, client_id, reader, view=view, channel="cli", purpose="audit",
                break_glass_reason=investigation)


@audit_app.command("timeline")
def timeline_cmd(
    client_id: UUID,
    since: Annotated[str | None, typer.Option(help="Recorded at or after (ISO date/time).")] = None,
    until: Annotated[str | None, typer.Option(help="Recorded before (ISO date/time).")] = None,
    aggregate: Annotated[str | None, typer.Option(
        help="Aggregate type (client, referral, care_plan, ...) or one aggregate id.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor's events.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, ndjson or fhir.")] = "table",
    auditor: AuditorOpt = None,
    organisation: OrgOpt = "careloop",
    investigation: InvestigationOpt = None,
) -> None:
    """Every event touching a client, across all aggregates, in store order (restricted
    content redacted unless --investigation states why it is needed)."""
    if fmt not in ("table", "ndjson", "fhir"):
        raise typer.BadParameter("--format must be table, ndjson or fhir")
    where = TimelineFilter(parse_instant(since), parse_instant(until), aggregate, actor)
    with store() as (_, app):
        _record(app, client_id, auditor, organisation, f"timeline:{fmt}", investigation)
        grant = investigation is not None
        events = (redact_record(e, grant) for e in timeline(app, client_id, where))
        if fmt == "ndjson":
            for event in events:
                out.print(json.dumps(event), highlight=False, markup=False)
        elif fmt == "fhir":
            out.print_json(json.dumps(timeline_bundle(events)))
        else:
            _timeline_table(client_id, events)


def _timeline_table(client_id: UUID, events: Iterator[dict[str, Any]]) -> None:
    table = Table(title=f"timeline of client {client_id}")
    for column in ("pos", "recorded", "occurred", "event", "aggregate", "actor", "role",
                   "organisation"):
        table.add_column(column)
    for e in events:
        actor = e["actor"]
        table.add_row(str(e["position"]), e["recorded_at"], e["occurred_at"], e["event_type"],
                      f"{e['aggregate_type']} {e['aggregate_id']} v{e['aggregate_version']}",
                      actor["id"], actor["role"], actor["organisation"])
    out.print(table)


@audit_app.command("as-of")
def as_of_cmd(
    client_id: Annotated[UUID | None, typer.Argument(help="The client (omit with --aggregate).")] = None,
    at: Annotated[str | None, typer.Option(help="The instant (ISO date/time).")] = None,
    view: Annotated[str, typer.Option(help=f"The view: {', '.join(PROJECTIONS)}.")] = "care_plan",
    by: Annotated[str, typer.Option(
        help="recorded: what careloop knew then; business: what had happened by then.")
    ] = "recorded",
    aggregate: Annotated[UUID | None, typer.Option(help="One aggregate instead of a view.")] = None,
    version: Annotated[int | None, typer.Option(help="The aggregate's version.")] = None,
    auditor: AuditorOpt = None,
    organisation: OrgOpt = "careloop",
    investigation: InvestigationOpt = None,
) -> None:
    """A client's view as it stood at an instant, or one aggregate at a version (restricted
    content redacted unless --investigation states why it is needed)."""
    with store() as (_, app):
        if aggregate is not None:
            if version is None:
                raise typer.BadParameter("--aggregate needs --version")
            state = aggregate_at_version(app, aggregate, version)
            for owner in owners_of(aggregate, state):  # a conference: each client on it
                _record(app, UUID(owner), auditor, organisation,
                        f"aggregate:{aggregate}@v{version}", investigation)
            out.print_json(json.dumps(redact(state, investigation is not None)))
            return
        instant = parse_instant(at)
        if client_id is None or instant is None:
            raise typer.BadParameter("give CLIENT_ID and --at (or --aggregate and --version)")
        if view not in PROJECTIONS or by not in ("recorded", "business"):
            raise typer.BadParameter(f"--view is one of {', '.join(PROJECTIONS)}; "
                                     "--by is recorded or business")
        _record(app, client_id, auditor, organisation, f"{view}:as-of:{instant.isoformat()}",
                investigation)
        doc = view_as_of(app, client_id, instant, view, by)  # type: ignore[arg-type]
        if doc is None:
            out.print(f"client {client_id} had no {view} at {instant.isoformat()}")
            raise typer.Exit(1)
        out.print_json(json.dumps(redact(doc, investigation is not None)))


@audit_app.command("verify")
def verify_cmd(
    expect_head: Annotated[str | None, typer.Option(
        help="An anchored head, POSITION:HASH (or HASH), that the chain must pass through.")
    ] = None,
) -> None:
    """Re-walk the whole store against the hash chain (extending the chain first)."""
    with store() as (settings, app):
        table = open_chain_table(settings)
        try:
            chain = HashChain(app, table)
            try:
                added = chain.advance()
            except TamperFound:
                added = 0  # the verification below names the row
            report = chain.verify(expect_head)
        finally:
            table.close()
        broken_read = ReadLog(app).verify()
    if broken_read is not None:
        out.print(f"[red]TAMPERED[/red]: the read log breaks at row {broken_read}.")
        raise typer.Exit(2)
    if report.ok:
        out.print(f"[green]OK[/green]: {report.checked} events verified"
                  f" ({added} newly chained); the read log is intact.")
        out.print(f"head: {report.head_position}:{report.head_hash}")
        return
    assert report.finding is not None
    out.print(f"[red]TAMPERED[/red] at position {report.finding.position} "
              f"({report.finding.kind}): {report.finding.detail}")
    out.print(f"{report.checked} events verified before it.")
    raise typer.Exit(2)


@audit_app.command("disclosures")
def disclosures_cmd(
    client_id: UUID,
    since: Annotated[str | None, typer.Option(help="From (ISO date/time).")] = None,
    until: Annotated[str | None, typer.Option(help="Before (ISO date/time).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or ndjson.")] = "table",
    auditor: AuditorOpt = None,
    organisation: OrgOpt = "careloop",
) -> None:
    """Accounting of disclosures: every read and disclosure of a client's record."""
    with store() as (_, app):
        _record(app, client_id, auditor, organisation, "disclosures")
        entries = list(accounting(app, client_id, parse_instant(since), parse_instant(until)))
    if fmt == "ndjson":
        for entry in entries:
            out.print(json.dumps(entry.as_dict()), highlight=False, markup=False)
        return
    table = Table(title=f"disclosures of client {client_id}")
    for column in ("date", "kind", "recipient", "role", "organisation", "what", "purpose",
                   "break-glass reason", "channel"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.at, e.kind, e.recipient, e.role, e.organisation, e.what, e.purpose,
                      e.break_glass_reason or "", e.channel)
    out.print(table)


@audit_app.command("rebuild")
def rebuild_cmd(
    projection: Annotated[list[str] | None, typer.Option(
        help=f"Projection(s) to rebuild: {', '.join(PROJECTIONS)}.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Rebuild every projection.")] = False,
    do_switch: Annotated[bool, typer.Option(
        "--switch", help="Make the rebuilt views live if they match (no downtime).")] = False,
    force: Annotated[bool, typer.Option(help="Switch even if the comparison differs.")] = False,
) -> None:
    """Rebuild projections from the event store into fresh namespaces and compare."""
    names = list(PROJECTIONS) if all_ or not projection else projection
    unknown = set(names) - set(PROJECTIONS)
    if unknown:
        raise typer.BadParameter(f"unknown projection(s): {', '.join(sorted(unknown))}")
    failed = False
    with store() as (settings, app):
        spaces = open_namespaces(settings)
        views = open_view_store(settings)
        try:
            for name in names:
                p = PROJECTIONS[name]
                with Progress(TextColumn(f"rebuilding {name}"), BarColumn(),
                              MofNCompleteColumn(), TimeElapsedColumn(), console=out) as bar:
                    task = bar.add_task(name, total=None)

                    def show(done: int, target: int, task: Any = task, bar: Progress = bar) -> None:
                        bar.update(task, completed=done, total=target)

                    result = rebuild(app, spaces, p, progress=show)
                out.print(f"{name}: {result.events} events to position {result.position} in "
                          f"{result.seconds:.2f}s ({result.events_per_second:,.0f} events/s) "
                          f"→ {result.namespace}")
                live = live_namespace(spaces, p)
                diff = compare(spaces, live, result.namespace)
                derived = compare_derived(spaces, views, p, result.namespace)
                if derived.identical:
                    out.print(f"[green]identical[/green] derived views ({derived.compared} "
                              "role views and notes documents)")
                else:
                    failed = True
                    out.print(f"[red]differs[/red]: {len(derived.different)} derived documents")
                    for key in derived.different[:20]:
                        out.print(f"  derived different: {key}")
                if diff.identical:
                    out.print(f"[green]identical[/green] to the live {live} "
                              f"({diff.compared} documents)")
                else:
                    failed = True
                    out.print(f"[red]differs[/red] from the live {live}: "
                              f"{len(diff.different)} different, "
                              f"{len(diff.missing_in_rebuilt)} missing from the rebuild, "
                              f"{len(diff.missing_in_live)} missing from the live view")
                    for label, keys in (("different", diff.different),
                                        ("missing in rebuild", diff.missing_in_rebuilt),
                                        ("missing in live", diff.missing_in_live)):
                        for key in keys[:20]:
                            out.print(f"  {label}: {key}")
                if do_switch and (diff.identical or force):
                    try:
                        previous = switch(app, spaces, p, result.namespace)
                    except NothingLive as e:
                        out.print(f"[yellow]not switched[/yellow]: {e}")
                        continue
                    out.print(f"switched {p.view} → {result.namespace} (was {previous})")
        finally:
            spaces.close()
            views.close()
    if failed:
        raise typer.Exit(1)
