"""Replay benchmark: how fast a full projection rebuild reads the store, and how much memory.

Generates N stored events quickly into a fresh SQLite file and a fresh PostgreSQL schema
(copies of a real client story made by the domain, with fresh ids; inserted in large
batches, one transaction per batch), then times a full rebuild of every projection in a
child process that reports its own peak RSS. Prints a table and writes
``bench/results/replay.json``. Not a test: figures depend on the machine.

    .venv/bin/python -m bench.replay                      # 100k and 1M events, both stores
    .venv/bin/python -m bench.replay --events 100000 --stores sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql
from rich.console import Console
from rich.table import Table

from contracts.v1.catalogue import MESSAGE_TYPES
from services.audit.rebuild import open_namespaces, rebuild
from services.commands.registry import execute
from services.projector.registry import PROJECTIONS
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env, postgres_conninfo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "contracts" / "examples"
RESULTS = ROOT / "bench" / "results" / "replay.json"
BATCH = 4_000
"""Events per insert transaction (larger PostgreSQL batches stalled the recorder here)."""
STORY = ("client.registered", "care_team.member_added", "consent.recorded", "referral.made",
         "referral.received", "referral.accepted", "referral.completed",
         "referral.outcome_acknowledged", "need.identified", "goal.set", "task.added",
         "screening.recorded")
out = Console()


def _message(message_type: str) -> Any:
    doc = json.loads((EXAMPLES / f"{message_type}.json").read_text())
    doc["message_id"] = f"bench-{uuid.uuid4()}"
    return MESSAGE_TYPES[message_type].model_validate(doc)


def template() -> list[StoredEvent]:
    """One client's story as stored by the real domain (ledger entries included)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_care_app(eventsourcing_env(Settings(_env_file=None, data_dir=Path(tmp))))
        for message_type in STORY:
            execute(app, _message(message_type))
        notes = app.recorder.select_notifications(0, 10_000)
        app.close()
    return [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in notes]


def _ids_in(events: list[StoredEvent]) -> set[uuid.UUID]:
    found = {e.originator_id for e in events if isinstance(e.originator_id, uuid.UUID)}
    for e in events:
        text = e.state.decode()
        for chunk in text.split('"_data_":"')[1:]:
            value = chunk.split('"', 1)[0]
            if len(value) == 32:
                with contextlib.suppress(ValueError):
                    found.add(uuid.UUID(hex=value))
    return found


def copies(story: list[StoredEvent], n_events: int) -> Any:
    """Batches of stored events: the story over and over, every id fresh each time."""
    ids = sorted(_ids_in(story), key=str)
    batch: list[StoredEvent] = []
    made = 0
    while made < n_events:
        fresh = {old: uuid.uuid4() for old in ids}
        for e in story:
            state = e.state
            for old, new in fresh.items():
                state = state.replace(old.hex.encode(), new.hex.encode())
            origin = fresh.get(e.originator_id, e.originator_id)  # type: ignore[arg-type]
            batch.append(StoredEvent(origin, e.originator_version, e.topic, state))
            made += 1
            if made >= n_events:
                break
        if len(batch) >= BATCH or made >= n_events:
            yield batch
            batch = []


def settings_for(store: str, workdir: Path) -> Settings:
    values: dict[str, Any] = {"data_dir": workdir, "store": store}
    if store == "postgres":
        values.update(
            postgres_host=os.environ.get("CARELOOP_BENCH_POSTGRES_HOST", "127.0.0.1"),
            postgres_port=int(os.environ.get("CARELOOP_BENCH_POSTGRES_PORT", "5432")),
            postgres_dbname=os.environ.get("CARELOOP_BENCH_POSTGRES_DBNAME", "test"),
            postgres_user=os.environ.get("CARELOOP_BENCH_POSTGRES_USER", "postgres"),
            postgres_schema=f"careloop_bench_{uuid.uuid4().hex[:10]}",
        )
    return Settings(_env_file=None, **values)


def generate(settings: Settings, story: list[StoredEvent], n_events: int) -> float:
    app = create_care_app(eventsourcing_env(settings))
    started = time.perf_counter()
    for batch in copies(story, n_events):
        app.recorder.insert_events(batch)  # one transaction per batch
    seconds = time.perf_counter() - started
    app.close()
    return seconds


def rebuild_all(settings: Settings) -> dict[str, Any]:
    """Runs in a child process, so its peak RSS is the rebuild's alone."""
    app: CareLoop = create_care_app(eventsourcing_env(settings))
    spaces = open_namespaces(settings)
    head = app.head_position()
    started = time.perf_counter()
    events = 0
    for projection in PROJECTIONS.values():
        events += rebuild(app, spaces, projection, upto=head).events
    seconds = time.perf_counter() - started
    spaces.close()
    app.close()
    return {"notifications": head, "domain_events": events, "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def drop(settings: Settings) -> None:
    if settings.store == "postgres":
        with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(settings.postgres_schema)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(rebuild_all(Settings.model_validate_json(args.child))))
        return
    story = template()
    rows = []
    for n in args.events:
        for store in args.stores.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                settings = settings_for(store, Path(tmp))
                try:
                    out.print(f"{store}: generating {n:,} events ...")
                    gen = generate(settings, story, n)
                    out.print(f"{store}: rebuilding ...")
                    child = subprocess.run(
                        [sys.executable, "-m", "bench.replay", "--child",
                         settings.model_dump_json()],
                        cwd=ROOT, capture_output=True, text=True, check=True)
                    result = json.loads(child.stdout.strip().splitlines()[-1])
                finally:
                    drop(settings)
            target = 50_000 if store == "sqlite" else 30_000
            rate = result["notifications"] / result["seconds"]
            rows.append({"store": store, "events": n, "generate_seconds": round(gen, 2),
                         **{k: round(v, 2) if isinstance(v, float) else v
                            for k, v in result.items()},
                         "stored_events_per_second": round(rate),
                         "domain_events_per_second": round(result["domain_events"]
                                                           / result["seconds"]),
                         "target_events_per_second": target, "met": rate >= target})
    table = Table(title="full rebuild of every projection from the store")
    for column in ("store", "events", "generate s", "rebuild s", "stored ev/s",
                   "domain ev/s", "target", "peak RSS MB"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["store"], f"{r['events']:,}", f"{r['generate_seconds']:.1f}",
                      f"{r['seconds']:.1f}", f"{r['stored_events_per_second']:,}",
                      f"{r['domain_events_per_second']:,}",
                      f"{r['target_events_per_second']:,} {'met' if r['met'] else 'MISSED'}",
                      f"{r['peak_rss_mb']:.0f}")
    out.print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": rows}, indent=2) + "\n")
    out.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
