"""The deploy/ NATS cluster, run here: the shipped node configs with only their addresses,
ports and paths substituted, and the secrets ``careloop deploy-secrets`` makes, placed where
compose mounts them (read from compose.yaml, so a wrong mapping there fails here too)."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.bus.embedded_nats import free_port, nats_server_binary
from services.cli.deploy_secrets import write_deploy_secrets
from services.partners.registry import PartnerRegistry

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NODES = ("nats-1", "nats-2", "nats-3")
NATS_SECRETS = "/etc/nats/secrets/"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def substitute(text: str, replacements: list[tuple[str, str]]) -> str:
    """Each pattern must occur: a config that drifted from what the test substitutes fails
    loudly instead of silently running with the container's paths."""
    for pattern, new in replacements:
        text, count = re.subn(pattern, new, text)
        assert count, f"{pattern!r} not in the config"
    return text


@dataclass
class Node:
    name: str
    directory: Path
    client_port: int
    http_port: int
    route_port: int
    config: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.config is not None
        log = (self.directory / "nats-server.log").open("ab")
        self.process = subprocess.Popen([nats_server_binary(), "-c", str(self.config)],
                                        stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def kill(self) -> None:
        """kill -9."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz",
                                        timeout=1) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False


@dataclass
class DeployCluster:
    root: Path
    partners_file: Path
    nodes: dict[str, Node] = field(default_factory=dict)
    secrets: Path = field(init=False)

    def __post_init__(self) -> None:
        self.secrets = self.root / "secrets"
        write_deploy_secrets(self.secrets, PartnerRegistry.load(self.partners_file),
                             list(NODES), ["127.0.0.1"])
        for name in NODES:
            self.nodes[name] = Node(name, self.root / name, free_port(), free_port(),
                                    free_port())
        for node in self.nodes.values():
            node.config = self._write_config(node)

    def _write_config(self, node: Node) -> Path:
        """The node's config from deploy/nats, its secrets where compose mounts them."""
        doc = compose()
        mounted = node.directory / "secrets"
        mounted.mkdir(parents=True)
        for entry in doc["services"][node.name]["secrets"]:
            target = entry["target"]
            assert target.startswith(NATS_SECRETS), target
            source = DEPLOY / doc["secrets"][entry["source"]]["file"]
            relative = source.relative_to(DEPLOY / "secrets")
            shutil.copy(self.secrets / relative, mounted / target.removeprefix(NATS_SECRETS))
        volume = next(v for v in doc["services"][node.name]["volumes"]
                      if v.endswith(":/etc/nats/nats-server.conf:ro"))
        text = (DEPLOY / volume.split(":")[0].removeprefix("./")).read_text()
        routes = [(rf"nats-route://{other.name}:6222",
                   f"nats-route://127.0.0.1:{other.route_port}")
                  for other in self.nodes.values()]
        text = substitute(text, [
            (re.escape(NATS_SECRETS), f"{mounted}/"),
            (r"/data/jetstream", str(node.directory / "jetstream")),
            (r"listen: 0\.0\.0\.0:4222", f"listen: 127.0.0.1:{node.client_port}"),
            (r"http: 0\.0\.0\.0:8222", f"http: 127.0.0.1:{node.http_port}"),
            (r"listen: 0\.0\.0\.0:6222", f"listen: 127.0.0.1:{node.route_port}"),
            *routes,
        ])
        path = node.directory / "nats-server.conf"  # beside secrets/, as in the container
        path.write_text(text)
        return path

    @property
    def url(self) -> str:
        return ",".join(f"tls://127.0.0.1:{n.client_port}" for n in self.nodes.values())

    @property
    def ca(self) -> Path:
        return self.secrets / "ca.pem"

    def passwords(self) -> dict[str, str]:
        return json.loads((self.secrets / "nats_passwords.json").read_text())  # type: ignore[no-any-return]

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def start(self) -> DeployCluster:
        for node in self.nodes.values():
            node.start()
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30.0, nodes: list[str] | None = None) -> None:
        waiting = [self.nodes[n] for n in nodes or self.nodes]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(node.healthy() for node in waiting):
                return
            time.sleep(0.2)
        logs = {n.name: (n.directory / "nats-server.log").read_text()[-1500:] for n in waiting}
        raise AssertionError(f"cluster not healthy within {timeout}s: {logs}")

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
