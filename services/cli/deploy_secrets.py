"""``careloop deploy-secrets``: every secret the deploy/ stack reads, as files, made once.

Compose (``secrets:``) and Kubernetes (``secretGenerator``) mount these files; careloop reads
them through ``CARELOOP_<NAME>_FILE``. A file that exists is kept, so running the command
again only adds what is missing (a partner added to the registry gets its password, a new
node its certificate); to rotate a secret, delete its file first (the JetStream key and the
cipher key need the procedures in docs/operations.md).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated

import typer

from services.bus.permissions import include_files, nats_server_config
from services.bus.tls_certs import ensure_ca, ensure_node_cert
from services.partners.registry import PartnerRegistry
from services.settings import Settings

DEFAULT_NODES = ("nats-1", "nats-2", "nats-3")
READ_BY_SERVICES = 0o644
"""Read inside containers by non-root users (careloop's uid 10001, postgres); compose mounts
a file with its host mode, so the folder (0700) is what keeps others on the host out."""
NATS_ONLY = 0o600
"""Read by nats-server only (root in its image), or never mounted."""


def _write(path: Path, text: str, mode: int) -> Path:
    path.touch(mode=mode)
    path.chmod(mode)
    path.write_text(text)
    return path


def _keep_or_make(path: Path, make: str, mode: int) -> str:
    if path.exists():
        path.chmod(mode)
        return path.read_text().strip()
    _write(path, make + "\n", mode)
    return make


def write_deploy_secrets(directory: Path, registry: PartnerRegistry,
                         nodes: list[str], names: list[str]) -> list[Path]:
    """Everything the stack mounts; returns the files the folder now holds."""
    from services.store.encryption_at_rest import new_key

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    _keep_or_make(directory / "token_secret", secrets.token_urlsafe(48), READ_BY_SERVICES)
    _keep_or_make(directory / "cipher_key", new_key(), READ_BY_SERVICES)
    _keep_or_make(directory / "postgres_password", secrets.token_urlsafe(24), READ_BY_SERVICES)
    password_file = directory / "nats_passwords.json"  # to hand out: never mounted
    passwords: dict[str, str] = (json.loads(password_file.read_text())
                                 if password_file.exists() else {})
    careloop = passwords.get("careloop") or secrets.token_urlsafe(24)
    passwords = {"careloop": careloop, **{
        system: passwords.get(system) or secrets.token_urlsafe(24)
        for system in sorted(registry.partners)}}
    _write(password_file, json.dumps(passwords, indent=2) + "\n", NATS_ONLY)
    _write(directory / "nats_password", careloop + "\n", READ_BY_SERVICES)
    js_key_file = directory / "nats_jetstream_key"
    js_key = _keep_or_make(js_key_file, secrets.token_urlsafe(32), NATS_ONLY)
    config = nats_server_config(
        registry, careloop, {k: v for k, v in passwords.items() if k != "careloop"},
        streams=Settings(), jetstream_key=js_key)
    includes = include_files(config)
    _write(directory / "nats_authorization.conf", includes["authorization"], NATS_ONLY)
    _write(directory / "nats_jetstream.conf", includes["jetstream"], NATS_ONLY)
    ensure_ca(directory)
    (directory / "ca.pem").chmod(READ_BY_SERVICES)
    for node in nodes:
        ensure_node_cert(directory, node, names, key_mode=NATS_ONLY)
    return sorted(p for p in directory.iterdir() if p.is_file())


def deploy_secrets_cmd(
    target: Annotated[Path, typer.Argument(help="Folder for the secrets (made 0700).")] = Path(
        "deploy/secrets"),
    partners: Annotated[Path, typer.Option(exists=True, help="Partner registry JSON.")] = Path(
        "deploy/partners.json"),
    node: Annotated[list[str] | None, typer.Option(
        help="A NATS node's host name (one certificate each); default nats-1..3.")] = None,
    san: Annotated[list[str] | None, typer.Option(
        help="Another name every node certificate is valid for (e.g. '*.nats', 127.0.0.1).",
    )] = None,
) -> None:
    """Make the deploy/ stack's secrets: access-token secret, at-rest cipher key, PostgreSQL
    password, NATS users (careloop's and one per partner system) and JetStream key, and a
    private CA with a TLS certificate per NATS node. Existing files are kept."""
    files = write_deploy_secrets(target, PartnerRegistry.load(partners),
                                 list(node or DEFAULT_NODES), list(san or []))
    typer.echo(f"{target}: {', '.join(p.name for p in files)}")
    typer.echo("give each partner system its password from nats_passwords.json, and the CA "
               "(ca.pem); keep ca-key.pem offline")
