"""careloop's parts as separate OS processes (``careloop serve --component X``), the way
production runs them, so a test can kill -9 one and start it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def component_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    """The environment one component process needs to join the test's careloop."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CARELOOP_") and k != "NATS_URL"}
    env.update({
        "NATS_URL": settings.nats_url or "",
        "CARELOOP_STORE": settings.store,
        "CARELOOP_DATA_DIR": str(data_dir),
        "CARELOOP_SQLITE_PATH": str(settings.resolved_sqlite_path),
        "CARELOOP_POSTGRES_HOST": settings.postgres_host,
        "CARELOOP_POSTGRES_PORT": str(settings.postgres_port),
        "CARELOOP_POSTGRES_DBNAME": settings.postgres_dbname,
        "CARELOOP_POSTGRES_USER": settings.postgres_user,
        "CARELOOP_POSTGRES_PASSWORD": settings.postgres_password,
        "CARELOOP_POSTGRES_SCHEMA": settings.postgres_schema,
        "CARELOOP_STREAM_INBOUND": settings.stream_inbound,
        "CARELOOP_STREAM_EVENTS": settings.stream_events,
        "CARELOOP_STREAM_RECEIPTS": settings.stream_receipts,
        "CARELOOP_STREAM_DEADLETTER": settings.stream_deadletter,
        "CARELOOP_STREAM_FEED": settings.stream_feed,
        "CARELOOP_CONSUMER_PREFIX": settings.consumer_prefix,
        "CARELOOP_RELAY_POLL_SECONDS": str(settings.relay_poll_seconds),
        "CARELOOP_CIPHER_KEY": settings.cipher_key,
        "CARELOOP_TOKEN_SECRET": settings.token_secret or "",
        "CARELOOP_ENCRYPTION": settings.encryption,
        "CARELOOP_HTTP_PORT": "0",
        "CARELOOP_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    })
    if settings.partners_file is not None:
        env["CARELOOP_PARTNERS_FILE"] = str(settings.partners_file)
    return env


class Component:
    """One careloop part in its own process (``all``: every part, as plain ``careloop
    serve`` runs them); its output is appended to ``<name>.log``."""

    def __init__(self, name: str, settings: Settings, work_dir: Path,
                 component: str | None = None, env: dict[str, str] | None = None) -> None:
        """``component``: what it runs when several processes run the same part (``name``
        then tells them apart); ``env``: further settings of this process."""
        self.name = name
        self.component = component or name
        self.data_dir = work_dir / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = work_dir / f"{name}.log"
        self.env = {**component_env(settings, self.data_dir), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        which = [] if self.component == "all" else ["--component", self.component]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", *which],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        """kill -9: no clean-up, no goodbye to NATS or the database."""
        assert self.process is not None and self.process.poll() is None, (
            f"{self.name} died by itself; see {self.log_path}")
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
