"""The compose stack's careloop services, started as compose would start them: each its own
``careloop serve --component X`` process with exactly the environment compose.yaml gives it
(only addresses and the mounted files' paths substituted; secrets read from files), against
the deploy/ NATS cluster (TLS, users) and PostgreSQL. All of them come up, ``/health`` turns
ok, and a partner system posts with ``careloop post`` over TLS with its own user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from services.bus.embedded_nats import free_port
from tests.conftest import PG
from tests.deploy.nats_cluster import DEPLOY, DeployCluster, compose

pytestmark = pytest.mark.postgres
CARELOOP = str(Path(sys.executable).parent / "careloop")
EXAMPLE = DEPLOY.parent / "contracts" / "examples" / "client.registered.json"


def clean_environment() -> dict[str, str]:
    """This machine's environment without careloop's settings (the test run's own cipher
    key among them): what a container starts from."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("CARELOOP_") and k != "NATS_URL"}


def service_environment(name: str, cluster: DeployCluster, schema: str, data: Path,
                        http_port: int) -> dict[str, str]:
    doc = compose()
    service = doc["services"][name]
    mounted = {f"/run/secrets/{s}": str(cluster.secrets / Path(doc["secrets"][s]["file"]).name)
               for s in service["secrets"]}
    volumes = {v.split(":")[1]: str(DEPLOY / v.split(":")[0]) for v in service["volumes"]}
    env = {k: mounted.get(v, volumes.get(v, v)) for k, v in service["environment"].items()}
    assert not [v for v in env.values() if v.startswith(("/run/", "/etc/"))], env
    env.update(NATS_URL=cluster.url, CARELOOP_DATA_DIR=str(data),
               CARELOOP_POSTGRES_HOST=str(PG["postgres_host"]),
               CARELOOP_POSTGRES_PORT=str(PG["postgres_port"]),
               CARELOOP_POSTGRES_DBNAME=str(PG["postgres_dbname"]),
               CARELOOP_POSTGRES_USER=str(PG["postgres_user"]), CARELOOP_POSTGRES_SCHEMA=schema)
    if "CARELOOP_HTTP_PORT" in env:
        env.update(CARELOOP_HTTP_HOST="127.0.0.1", CARELOOP_HTTP_PORT=str(http_port))
    if "CARELOOP_OPS_PORT" in env:  # every process has one; here they share one machine
        env.update(CARELOOP_OPS_HOST="127.0.0.1", CARELOOP_OPS_PORT="0")
    if PG["postgres_password"]:
        Path(env["CARELOOP_POSTGRES_PASSWORD_FILE"]).write_text(str(PG["postgres_password"]))
    return {**clean_environment(), **env}


def health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as reply:
            return json.loads(reply.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as e:
        return {"http": e.code, **json.loads(e.read() or b"{}")}
    except OSError:
        return None


def ready(runtime_file: Path, timeout: float = 30.0) -> bool:
    """The process's /readyz answers ok (its ops port is named in runtime.json once up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runtime_file.exists():
            ops = json.loads(runtime_file.read_text())["ops_url"]
            try:
                with urllib.request.urlopen(f"{ops}/readyz", timeout=3) as reply:
                    if json.loads(reply.read())["status"] == "ok":
                        return True
            except OSError:  # 503 (an HTTPError) or not listening yet
                pass
        time.sleep(0.2)
    return False


def test_every_compose_service_starts_from_its_environment_and_serves(
    tmp_path: Path, pg_schema: str,
) -> None:
    cluster = DeployCluster(tmp_path / "cluster", DEPLOY / "partners.json").start()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    http_port = free_port()
    try:
        for name, service in compose()["services"].items():
            if not name.startswith("careloop-"):
                continue
            env = service_environment(name, cluster, pg_schema, tmp_path / name, http_port)
            log = (tmp_path / f"{name}.log").open("wb")
            processes[name] = subprocess.Popen([CARELOOP, *service["command"]], env=env,
                                               stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline:
            exited = {n: p.returncode for n, p in processes.items() if p.poll() is not None}
            assert not exited, (exited, {n: (tmp_path / f"{n}.log").read_text()[-2000:]
                                         for n in exited})
            answer = health(http_port)
            if answer is not None and answer.get("status") == "ok":
                break
            time.sleep(0.5)
        assert answer is not None and answer.get("status") == "ok", answer
        for name in processes:  # each process's own readiness, on its ops port
            assert ready(tmp_path / name / "runtime.json"), name

        # A partner system, as an operator's instructions tell it: its user, the CA, a list.
        password = tmp_path / "riverside-ehr-password"
        password.write_text(cluster.passwords()["riverside-ehr"] + "\n")
        posted = subprocess.run(
            [CARELOOP, "post", str(EXAMPLE), "--timeout", "30"], capture_output=True,
            timeout=60, env={**clean_environment(), "NATS_URL": cluster.url,
                             "CARELOOP_NATS_USER": "riverside-ehr",
                             "CARELOOP_NATS_PASSWORD_FILE": str(password),
                             "CARELOOP_NATS_TLS_CA": str(cluster.ca)})
        assert posted.returncode == 0, posted.stdout + posted.stderr
        receipt = json.loads(posted.stdout)
        assert receipt["status"] == "accepted" and receipt["event_ids"], receipt
    finally:
        codes: dict[str, int | None] = {}
        for process in processes.values():
            process.terminate()
        for name, process in processes.items():
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                codes[name] = None
                process.kill()
                process.wait()
        cluster.stop()
    assert codes == dict.fromkeys(processes, 0), codes  # each stops cleanly on SIGTERM
