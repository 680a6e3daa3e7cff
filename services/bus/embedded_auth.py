"""Embedded mode's NATS runs closed too: careloop's user, one user per registered partner
system (the same permissions as production), and JetStream's files encrypted.

The passwords and the JetStream key are made once and kept in ``<data>/nats-credentials.json``;
the server's configuration is written beside it as ``nats-server.json``; both 0600. ``careloop
post`` and the demo connect as the partner system that sends, with its password from there.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.bus.permissions import (
    nats_server_config,
    partner_inbox,
    write_nats_server_config,
    write_private,
)
from services.partners.registry import PartnerRegistry
from services.settings import Settings

CREDENTIALS_FILE = "nats-credentials.json"
SERVER_CONFIG_FILE = "nats-server.json"
BUNDLED_PARTNERS = Path(__file__).resolve().parents[2] / "deploy" / "partners.json"
CARELOOP_USER = "careloop"


class NoCredentials(Exception):
    """No embedded credentials for this system (not registered, or no embedded careloop)."""


@dataclass(frozen=True)
class EmbeddedCredentials:
    passwords: dict[str, str]
    jetstream_key: str

    def partner_options(self, system: str) -> dict[str, Any]:
        """``nats.connect`` keyword arguments for a partner system's own user."""
        if system not in self.passwords or system == CARELOOP_USER:
            raise NoCredentials(f"no NATS user for system {system!r}; registered: "
                                f"{', '.join(sorted(set(self.passwords) - {CARELOOP_USER}))}")
        return {"user": system, "password": self.passwords[system],
                "inbox_prefix": partner_inbox(system).encode()}


def embedded_registry(settings: Settings) -> PartnerRegistry:
    """The configured partner registry, else the example systems shipped with careloop."""
    path = settings.partners_file or BUNDLED_PARTNERS
    return PartnerRegistry.load(path) if path.exists() else PartnerRegistry([])


def load_credentials(data_dir: Path) -> EmbeddedCredentials:
    path = data_dir / CREDENTIALS_FILE
    if not path.exists():
        raise NoCredentials(f"no {path}: start careloop in embedded mode first")
    doc = json.loads(path.read_text())
    return EmbeddedCredentials(dict(doc["passwords"]), str(doc["jetstream_key"]))


def prepare(settings: Settings) -> tuple[Path, Settings]:
    """Credentials (made once), the server configuration, and careloop's settings with its
    own NATS user. Partners registered since the last start get a password too."""
    data_dir = settings.data_dir
    registry = embedded_registry(settings)
    try:
        known = load_credentials(data_dir)
    except NoCredentials:
        known = EmbeddedCredentials({}, secrets.token_urlsafe(32))
    passwords = {CARELOOP_USER: known.passwords.get(CARELOOP_USER) or secrets.token_urlsafe(24)}
    for system in registry.partners:
        passwords[system] = known.passwords.get(system) or secrets.token_urlsafe(24)
    write_private(data_dir / CREDENTIALS_FILE, json.dumps(
        {"passwords": passwords, "jetstream_key": known.jetstream_key}, indent=2))
    partner_passwords = {k: v for k, v in passwords.items() if k != CARELOOP_USER}
    config = nats_server_config(registry, passwords[CARELOOP_USER], partner_passwords,
                                careloop_user=CARELOOP_USER, streams=settings,
                                jetstream_key=known.jetstream_key)
    path = write_nats_server_config(data_dir / SERVER_CONFIG_FILE, config)
    update: dict[str, Any] = {"nats_user": CARELOOP_USER,
                              "nats_password": passwords[CARELOOP_USER]}
    if settings.partners_file is None and BUNDLED_PARTNERS.exists():
        update["partners_file"] = BUNDLED_PARTNERS  # ingest checks the same registry
    return path, settings.model_copy(update=update)


def joining_embedded(settings: Settings) -> Settings:
    """A careloop process given ``NATS_URL`` but no NATS user, whose data folder holds
    embedded mode's credentials (a component started beside ``careloop serve``), connects
    as careloop's user from there."""
    if settings.nats_user:
        return settings
    try:
        known = load_credentials(settings.data_dir)
    except NoCredentials:
        return settings
    return settings.model_copy(update={"nats_user": CARELOOP_USER,
                                       "nats_password": known.passwords[CARELOOP_USER]})
