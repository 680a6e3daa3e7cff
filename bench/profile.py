"""Where the time goes: py-spy samples careloop's processes under the bench's own load.

    python -m bench.profile reads    # the API process under 32 connections of care-plan reads
    python -m bench.profile ingest   # the ingest process draining a loaded inbound stream

py-spy (``pip install py-spy``; not a dependency of careloop) samples the running process
from outside, so the profile costs the process nothing. Prints the functions with the most
samples (inclusive and own) and leaves the collapsed stacks (flamegraph input) in the
bench's work folder.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from bench import freshness, query_load
from bench.environment import (
    ServiceProcess,
    delete_streams,
    drop_schema,
    settings_for,
    start_nats,
)
from bench.traffic import export, publish_all
from services.bus.streams import ensure_streams


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(__file__).parents[1] / ".venv/bin/py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return found


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([_py_spy(), "record", "-p", str(pid), "-d", str(int(seconds)),
                             "-r", "200", "--gil", "-f", "raw", "-o", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(collapsed: Path, top: int = 25) -> str:
    """The heaviest functions by inclusive and own samples, as percentages."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
                  + ")" if " (" in f else f for f in stack.split(";")]
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    lines = [f"{total} samples", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["own:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


async def reads(work: Path, nats_url: str, seconds: float) -> Path:
    s = settings_for("profile", nats_url, work)
    fresh, service = await freshness.run(s, 400, 5)
    try:
        pid = service.procs[service.components.index("api")].pid
        out = work / "reads.collapsed"
        spy = record(pid, seconds, out)
        load = await query_load.closed_loop(service.http_url, fresh["client_ids"], 32,
                                            seconds + 1)
        print(f"care-plan reads under the profiler: {load}")
        await asyncio.to_thread(spy.wait)
        return out
    finally:
        service.stop()
        await delete_streams(nats_url, s)
        drop_schema(s.postgres_schema)


async def ingest(work: Path, nats_url: str, commands: int) -> Path:
    s = settings_for("profile", nats_url, work)
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream(), s)
    await publish_all(nc, s.stream_inbound, export(commands))
    service = ServiceProcess(s, ("ingest", "relay"))
    await asyncio.to_thread(service.start)
    try:
        out = work / "ingest.collapsed"
        spy = record(service.procs[0].pid, 15, out)
        await asyncio.to_thread(spy.wait)
        return out
    finally:
        service.stop()
        await nc.close()
        await delete_streams(nats_url, s)
        drop_schema(s.postgres_schema)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("path", choices=("reads", "ingest"))
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--commands", type=int, default=40_000)
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="careloop-profile-"))
    server = start_nats(work)
    try:
        started = time.perf_counter()
        job: Any = reads(work, server.url, a.seconds) if a.path == "reads" else ingest(
            work, server.url, a.commands)
        collapsed = asyncio.run(job)
        print(f"profiled for {time.perf_counter() - started:.0f}s; stacks: {collapsed}")
        print(summarise(collapsed))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
