"""``python -m bench`` (``make bench``): the four measurements, careloop beside the naive
baseline, printed as a table and written to ``bench/results/latest.json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import freshness, ingest_throughput, query_load
from bench import replay_fold as replay
from bench.environment import (
    ROOT,
    delete_streams,
    drop_schema,
    machine,
    settings_for,
    start_nats,
    versions,
)
from bench.http_floor import FloorProcess
from services.bus.embedded_nats import free_port
from services.cli.structured_logging import configure_logging

out = Console(width=150)
TARGETS = {"ingest_cmds_per_s": 5000, "ingest_vs_baseline": 6.0, "ingest_vs_ceiling": 0.7,
           "freshness_p99_ms": 100, "query_p99_ms": 20, "query_rps": 3000,
           "query_vs_floor": round(1 / 3, 3), "replay_vs_raw": 0.6}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, to try the bench out")
    p.add_argument("--ingest-commands", type=int, default=40_000)
    p.add_argument("--baseline-commands", type=int, default=4_000)
    p.add_argument("--fresh-rate", type=int, default=1_000, help="commands/s")
    p.add_argument("--fresh-seconds", type=float, default=20)
    p.add_argument("--query-rate", type=int, default=1_000, help="requests/s")
    p.add_argument("--query-seconds", type=float, default=10)
    p.add_argument("--replay-sizes", default="100000,1000000")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    a = p.parse_args()
    if a.quick:
        a.ingest_commands, a.baseline_commands = 4_000, 400
        a.fresh_seconds, a.query_seconds, a.replay_sizes = 5, 3, "10000,50000"
    return a


def _fold(*where: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.replay_fold", *where],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def main(a: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="careloop-bench-"))
    nats = start_nats(work)
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(),
                               "machine": machine(), "versions": versions()}
    try:
        out.print(f"[1/4] ingest: careloop, {a.ingest_commands} commands ...")
        results["ingest"] = await ingest_throughput.careloop(nats.url, work, a.ingest_commands)
        out.print(f"[1/4] ingest: the store ceiling for the same {a.ingest_commands} commands ...")
        results["store_ceiling"] = await ingest_throughput.ceiling(nats.url, work,
                                                                   a.ingest_commands)
        out.print(f"[1/4] ingest: naive baseline, {a.baseline_commands} commands ...")
        results["baseline"] = await ingest_throughput.baseline(nats.url, work,
                                                               a.baseline_commands)

        out.print(f"[2/4] freshness at {a.fresh_rate} commands/s for {a.fresh_seconds}s ...")
        s = settings_for("service", nats.url, work)
        fresh, service = await freshness.run(s, a.fresh_rate, a.fresh_seconds)
        client_ids = fresh.pop("client_ids")
        results["freshness"] = fresh
        try:
            out.print(f"[3/4] query: open loop at {a.query_rate} requests/s, then closed loop ...")
            results["query_open_loop"] = await query_load.open_loop(
                service.http_url, client_ids, a.query_rate, a.query_seconds)
            document = await query_load.sample(service.http_url, client_ids)
            out.print("[3/4] query: the HTTP floor (same stack, same document, nothing else) ...")
            with FloorProcess(free_port(), document, work) as floor:
                results["http_floor"] = await query_load.closed_loop(
                    floor.url, client_ids, 32, a.query_seconds)
            results["http_floor"]["document_bytes"] = len(document)
            results["query_closed_loop"] = await query_load.closed_loop(
                service.http_url, client_ids, 32, a.query_seconds)
        finally:
            service.stop()
            await delete_streams(nats.url, s)
            drop_schema(s.postgres_schema)

        sizes = sorted(int(x) for x in a.replay_sizes.split(","))
        r = settings_for("replay", nats.url, work)
        stored, folds = 0, {}
        try:
            for size in sizes:
                out.print(f"[4/4] replay: storing up to {size} events ...")
                t = time.perf_counter()
                stored += await asyncio.to_thread(replay.generate, r, size - stored)
                out.print(f"      stored {stored} events in {time.perf_counter() - t:.0f}s; "
                          "rebuilding the care-plan view in a fresh process ...")
                views = f"{r.postgres_schema}_views_{size}"
                folds[str(size)] = {"stored_events": stored,
                                    **await asyncio.to_thread(_fold, r.postgres_schema, views)}
                drop_schema(views)
        finally:
            drop_schema(r.postgres_schema)
        results["replay"] = folds
        out.print(f"[4/4] replay on SQLite: storing {sizes[0]} events, then rebuilding ...")
        lite = r.model_copy(update={"store": "sqlite", "sqlite_path": work / "replay.sqlite3"})
        stored = await asyncio.to_thread(replay.generate, lite, sizes[0])
        results["replay_sqlite"] = {str(sizes[0]): {"stored_events": stored, **_fold(
            "sqlite", str(lite.sqlite_path), str(work / "replay-views.sqlite3"))}}
    finally:
        nats.stop()
    return results


def _ratio(value: float, limit: float) -> float:
    return round(value / limit, 3) if limit else float("nan")


def summary(results: dict[str, Any]) -> dict[str, Any]:
    folds = results["replay"]
    sizes = sorted(folds, key=int)
    largest = folds[sizes[-1]]
    q = results["query_open_loop"]
    ingest, ceiling = results["ingest"]["cmds_per_s"], results["store_ceiling"]["cmds_per_s"]
    query, floor = results["query_closed_loop"]["rps"], results["http_floor"]["rps"]
    return {
        "ingest_cmds_per_s": ingest,
        "baseline_cmds_per_s": results["baseline"]["cmds_per_s"],
        "ingest_vs_baseline": round(ingest / results["baseline"]["cmds_per_s"], 2),
        "store_ceiling_cmds_per_s": ceiling,
        "ingest_vs_ceiling": _ratio(ingest, ceiling),
        "freshness_p50_ms": results["freshness"]["p50_ms"],
        "freshness_p99_ms": results["freshness"]["p99_ms"],
        "query_p50_ms": q["p50_ms"],
        "query_p99_ms": q["p99_ms"],
        "query_rps": query,
        "query_open_loop_achieved_rps": q["achieved_rps"],
        "http_floor_rps": floor,
        "query_vs_floor": _ratio(query, floor),
        "replay_events_per_s": largest["events_per_s"],
        "raw_read_events_per_s": largest["raw_read_events_per_s"],
        "replay_vs_raw": largest["replay_vs_raw"],
        **{f"replay_sqlite_{k}": fold[k] for fold in results["replay_sqlite"].values()
           for k in ("events_per_s", "raw_read_events_per_s", "replay_vs_raw")},
        "replay_peak_rss_mb_100k": folds[sizes[0]]["peak_rss_mb"],
        "replay_peak_rss_mb_1m": largest["peak_rss_mb"],
    }


def table(s: dict[str, Any], results: dict[str, Any]) -> Table:
    t = Table(title="careloop benchmark: each figure beside its limit, measured in the same run")
    for col in ("measurement", "careloop", "limit (same run)", "ratio", "target", "met"):
        t.add_column(col)

    def row(name: str, value: Any, limit: Any, ratio: Any, target: str,
            met: bool | None) -> None:
        t.add_row(name, str(value), str(limit), str(ratio), target,
                  "-" if met is None else ("yes" if met else "[red]no[/red]"))

    row("1. ingest, commands/s (durable + published)", s["ingest_cmds_per_s"],
        f"{s['store_ceiling_cmds_per_s']} store ceiling", s["ingest_vs_ceiling"],
        ">= 5000 and >= 0.7 of ceiling",
        s["ingest_cmds_per_s"] >= 5000 and s["ingest_vs_ceiling"] >= 0.7)
    _cpu_row(row, results["ingest"])
    row("   naive ingest (one message, one transaction)", s["baseline_cmds_per_s"],
        f"{s['ingest_cmds_per_s']} careloop", f"{s['ingest_vs_baseline']}x", ">= 6x",
        s["ingest_vs_baseline"] >= 6)
    f = results["freshness"]
    row(f"2. freshness p50 / p99 ms at {f['offered_cmds_per_s']} cmd/s",
        f"{s['freshness_p50_ms']} / {s['freshness_p99_ms']}", "-", "-", "p99 <= 100",
        s["freshness_p99_ms"] <= 100)
    _cpu_row(row, f)
    row("3. care-plan reads/s, 32 connections (token, policy, read recorded)", s["query_rps"],
        f"{s['http_floor_rps']} HTTP floor", s["query_vs_floor"],
        ">= 1/3 of floor and >= 3000",
        s["query_vs_floor"] >= 1 / 3 and s["query_rps"] >= 3000)
    q = results["query_open_loop"]
    row(f"   p50 / p99 ms, open loop at {q['offered_rps']} req/s offered",
        f"{s['query_p50_ms']} / {s['query_p99_ms']}", f"{q['achieved_rps']} req/s achieved",
        "-", "p99 <= 20 at 1000 req/s",
        s["query_p99_ms"] <= 20 and q["achieved_rps"] >= 0.99 * q["offered_rps"])
    row("4. replay events/s (full rebuild, PostgreSQL)", s["replay_events_per_s"],
        f"{s['raw_read_events_per_s']} raw log read", s["replay_vs_raw"], ">= 0.6 of raw",
        s["replay_vs_raw"] >= 0.6)
    for name, fold in results.get("replay_sqlite", {}).items():
        row(f"   replay events/s (full rebuild, SQLite, {name} events)", fold["events_per_s"],
            f"{fold['raw_read_events_per_s']} raw log read", fold["replay_vs_raw"],
            ">= 0.6 of raw", fold["replay_vs_raw"] >= 0.6)
    row("   replay peak RSS MB, smallest / largest", f"{s['replay_peak_rss_mb_100k']} / "
        f"{s['replay_peak_rss_mb_1m']}", "-", "-", "flat", None)
    return t


def _cpu_row(row: Any, measured: dict[str, Any]) -> None:
    """CPU per command in each process: what the machine's load cannot move much."""
    cpu = measured.get("cpu_us_per_command") or {}
    if cpu:
        row(f"   CPU µs per command ({' / '.join(cpu)})",
            " / ".join(str(v) for v in cpu.values()), "-", "-", "-", None)


if __name__ == "__main__":
    arguments = _args()
    configure_logging("json", "WARNING")
    raw = asyncio.run(main(arguments))
    figures = summary(raw)
    report = {**figures, "machine": raw["machine"], "versions": raw["versions"],
              "started_at": raw["started_at"], "details": {k: v for k, v in raw.items()
                                                           if k not in ("machine", "versions")},
              "query_client": "bench/http_client.py (asyncio HTTP/1.1 keep-alive) in the "
                              "bench process: 64 connections at a fixed rate (open loop), "
                              "32 connections flat out (closed loop), the same 32 "
                              "against the HTTP floor (bench/http_floor.py)",
              "targets": TARGETS}
    out.print(table(figures, raw))
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(report, indent=2) + "\n")
    out.print(f"written: {arguments.out}")
