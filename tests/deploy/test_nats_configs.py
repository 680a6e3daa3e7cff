"""``nats-server -t`` accepts the shipped node configs (compose's three and Kubernetes' one)
with the secrets ``careloop deploy-secrets`` makes, and refuses them without: no node starts
open (anonymous, plaintext)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nats
import pytest
import yaml

from services.bus.embedded_nats import nats_server_binary
from services.cli.deploy_secrets import write_deploy_secrets
from services.partners.registry import PartnerRegistry
from tests.deploy.nats_cluster import DEPLOY, DeployCluster, substitute

K8S = DEPLOY / "k8s" / "base"


def check(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([nats_server_binary(), "-t", "-c", str(config)], capture_output=True,
                          text=True, timeout=30, env={**os.environ, **(env or {})})


def test_nats_server_accepts_each_compose_node_config(tmp_path: Path) -> None:
    cluster = DeployCluster(tmp_path, DEPLOY / "partners.json")
    for node in cluster.nodes.values():
        assert node.config is not None
        done = check(node.config)
        assert done.returncode == 0, done.stdout + done.stderr
        text = node.config.read_text()
        assert "verify: true" in text and text.count("tls {") == 2  # clients and routes


def test_a_node_without_its_secrets_does_not_start(tmp_path: Path) -> None:
    cluster = DeployCluster(tmp_path, DEPLOY / "partners.json")
    node = cluster.nodes["nats-1"]
    assert node.config is not None
    for missing in ("nats_authorization", "nats_1_key"):
        secrets = node.directory / "secrets"
        kept = tmp_path / missing
        shutil.move(secrets / missing, kept)
        done = check(node.config)
        assert done.returncode != 0 and missing in done.stdout + done.stderr
        shutil.move(kept, secrets / missing)
    assert check(node.config).returncode == 0


def test_nats_server_accepts_the_kubernetes_node_config(tmp_path: Path) -> None:
    made = tmp_path / "made"
    write_deploy_secrets(made, PartnerRegistry.load(K8S / "partners.json"), ["nats"],
                         ["*.nats", "127.0.0.1"])
    mounted = tmp_path / "secrets"  # as the Secret volume shows them: key = file name
    mounted.mkdir()
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    generator = next(g for g in kustomization["secretGenerator"] if g["name"] == "nats-secrets")
    for entry in generator["files"]:
        key, source = entry.split("=")
        shutil.copy(made / Path(source).relative_to("secrets"), mounted / key)
    text = substitute((K8S / "nats.conf").read_text(), [
        (re.escape("/etc/nats/secrets/"), f"{mounted}/"),
        (r"/data/jetstream", str(tmp_path / "jetstream")),
        (r"nats-route://nats-(\d)\.nats:6222", r"nats-route://127.0.0.1:1600\1"),
    ])
    config = tmp_path / "nats.conf"
    config.write_text(text)
    done = check(config, {"POD_NAME": "nats-0"})
    assert done.returncode == 0, done.stdout + done.stderr


async def test_the_shipped_cluster_refuses_anonymous_and_plaintext_clients_and_encrypts(
    tmp_path: Path,
) -> None:
    cluster = DeployCluster(tmp_path, DEPLOY / "partners.json").start()
    try:
        url = cluster.url.split(",")[0]
        once = {"allow_reconnect": False, "max_reconnect_attempts": 0, "connect_timeout": 5}
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await nats.connect(url, tls=cluster.tls(), **once)
        with pytest.raises(Exception, match=r"(?i)tls|ssl|secure"):
            await nats.connect(url.replace("tls://", "nats://"), **once)
        nc = await nats.connect(url, user="careloop", password=cluster.passwords()["careloop"],
                                tls=cluster.tls(), **once)
        await nc.close()
    finally:
        cluster.stop()
    for node in cluster.nodes.values():
        assert "ChaCha20" in (node.directory / "nats-server.log").read_text(), node.name
