"""What every measurement shares: one nats-server, fresh PostgreSQL schemas, the machine."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from services.api.access_tokens import Caller, issue
from services.bus.embedded_nats import EmbeddedNats, free_port, nats_server_binary
from services.partners.demo_registry import write_demo_registry
from services.settings import Settings
from services.store.encryption_at_rest import new_key
from services.store.store_setup import open_stores

ROOT = Path(__file__).resolve().parent.parent
PG = {
    "postgres_host": os.environ.get("CARELOOP_BENCH_POSTGRES_HOST", "127.0.0.1"),
    "postgres_port": int(os.environ.get("CARELOOP_BENCH_POSTGRES_PORT", "5432")),
    "postgres_dbname": os.environ.get("CARELOOP_BENCH_POSTGRES_DBNAME", "test"),
    "postgres_user": os.environ.get("CARELOOP_BENCH_POSTGRES_USER", "postgres"),
}


# Shared with the bench's child processes through the environment they inherit.
BENCH_TOKEN_SECRET = os.environ.setdefault("CARELOOP_BENCH_TOKEN_SECRET",
                                           f"careloop-bench-{uuid.uuid4().hex}")
BENCH_CIPHER_KEY = os.environ.setdefault("CARELOOP_BENCH_CIPHER_KEY", new_key())
"""Production configuration: tokens are checked and payloads are encrypted at rest."""


def coordinator_headers() -> dict[str, str]:
    """Who the query load says it is: a coordinator with a signed token, of the organisation
    whose system registers the bench's clients (their custodian: reads are scoped to it)."""
    token = issue(BENCH_TOKEN_SECRET, Caller("bench-coordinator", "coordinator", "riverside-cmhc"),
                  timedelta(hours=2))
    return {"Authorization": f"Bearer {token}"}


def settings_for(run: str, nats_url: str, data_dir: Path) -> Settings:
    """Settings for one measurement: its own schema, streams and consumers."""
    tag = f"{run}_{uuid.uuid4().hex[:8]}"
    return Settings(  # type: ignore[call-arg]
        _env_file=None, store="postgres", postgres_schema=f"bench_{tag}", nats_url=nats_url,
        data_dir=data_dir / tag, stream_inbound=f"B_{tag.upper()}_INBOUND",
        stream_events=f"B_{tag.upper()}_EVENTS", stream_receipts=f"B_{tag.upper()}_RECEIPTS",
        stream_deadletter=f"B_{tag.upper()}_DEADLETTER", consumer_prefix=f"b{tag}",
        http_port=free_port(), log_format="json", log_level="WARNING",
        token_secret=BENCH_TOKEN_SECRET, cipher_key=BENCH_CIPHER_KEY,
        partners_file=write_demo_registry(data_dir / tag), **PG,
    )


def as_env(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for a service subprocess."""
    env = {**os.environ, "NATS_URL": settings.nats_url or ""}
    for name, value in settings.model_dump().items():
        if name != "nats_url" and value is not None:
            env[f"CARELOOP_{name.upper()}"] = str(value)
    return env


def drop_schema(schema: str) -> None:
    conninfo = psycopg.conninfo.make_conninfo(
        host=PG["postgres_host"], port=PG["postgres_port"], dbname=PG["postgres_dbname"],
        user=PG["postgres_user"])
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def start_nats(data_dir: Path) -> EmbeddedNats:
    return EmbeddedNats(data_dir / "nats").start()


class ServiceProcess:
    """careloop as operators run it: ``careloop serve --component X``, one process per
    component (the way to use more than one core), so the load generator shares none of
    their interpreters either."""

    def __init__(self, settings: Settings,
                 components: tuple[str, ...] = ("ingest", "relay", "projector", "api")) -> None:
        self.settings, self.components = settings, components
        self.procs: list[subprocess.Popen[bytes]] = []
        self.http_url = ""

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        s = self.settings
        app, views = open_stores(s)  # tables and functions first
        app.close()
        views.close()
        for component in self.components:
            data = s.data_dir / component
            data.mkdir(parents=True, exist_ok=True)
            env = {**as_env(s), "CARELOOP_DATA_DIR": str(data)}
            log = (data / "service.log").open("ab")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", "--component", component],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        waiting = [s.data_dir / c / "runtime.json" for c in self.components]
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                self.stop()
                raise RuntimeError(f"careloop serve exited; see {s.data_dir}/*/service.log")
            if all(f.exists() for f in waiting):
                if "api" in self.components:
                    runtime = json.loads((s.data_dir / "api" / "runtime.json").read_text())
                    self.http_url = runtime["http_url"]
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("careloop serve did not start")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each component's process has used so far (Linux
        ``/proc``; empty elsewhere). Unlike throughput, CPU per command hardly moves with
        what else runs on the machine."""
        used: dict[str, float] = {}
        for component, proc in zip(self.components, self.procs, strict=True):
            try:
                stat = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return {}
            used[component] = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        return used

    def cpu_per_command(self, before: dict[str, float], commands: int) -> dict[str, float]:
        """Microseconds of CPU per command in each component since ``before``."""
        after = self.cpu_seconds()
        return {c: round((after[c] - before[c]) / max(commands, 1) * 1e6)
                for c in before if c in after}

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    load = os.getloadavg()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "os": platform.platform(), "load_average_at_start": [round(x, 2) for x in load]}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("eventsourcing", "faststream", "nats-py", "psycopg", "fastapi", "uvicorn",
                    "pydantic", "httpx"):
        out[package] = version(package)
    nats_v = subprocess.run([nats_server_binary(), "--version"], capture_output=True, text=True)
    out["nats-server"] = nats_v.stdout.strip()
    conninfo = psycopg.conninfo.make_conninfo(
        host=PG["postgres_host"], port=PG["postgres_port"], dbname=PG["postgres_dbname"],
        user=PG["postgres_user"])
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        out["postgresql"] = str(row[0]) if row else "unknown"
    return out


async def delete_streams(nats_url: str, settings: Settings) -> None:
    """Streams of different runs share subjects, so each run removes its own."""
    import nats

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for name in (settings.stream_inbound, settings.stream_events, settings.stream_receipts,
                 settings.stream_deadletter):
        with contextlib.suppress(Exception):  # never created
            await js.delete_stream(name)
    await nc.close()
