"""Generates a nats-server configuration with one user per partner system, each allowed
to publish only under its own ``careloop.in.<system>.>`` and to read only its own receipts
(and its own reply inbox, ``_INBOX_<system>.>``, for JetStream's publish acknowledgements),
plus careloop's own user with what its processes need.

The file holds passwords: write it where only the nats-server can read it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.bus.streams import (
    DEADLETTER_ROOT,
    EVENTS_ROOT,
    RECEIPTS_ROOT,
    inbound_subject,
    receipts_subject,
)
from services.partners.registry import PartnerRegistry

CARELOOP_PUBLISH = [f"{RECEIPTS_ROOT}.>", f"{EVENTS_ROOT}.>", f"{DEADLETTER_ROOT}.>",
                    "$JS.API.>", "$JS.ACK.>", "$KV.>", "_INBOX.>"]
"""Receipts, events, dead letters, JetStream's API and acks, and the key-value buckets
(per-component health reports)."""
CARELOOP_SUBSCRIBE = ["careloop.>", "_INBOX.>"]


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path | None = None
    """Set to also require client certificates signed by this CA."""


def partner_inbox(system: str) -> str:
    """The reply-subject prefix a partner connects with (nats-py ``inbox_prefix``)."""
    return f"_INBOX_{system}"


def partner_permissions(system: str) -> dict[str, Any]:
    return {
        "publish": {"allow": [inbound_subject(system, ">")]},
        "subscribe": {"allow": [receipts_subject(system), f"{partner_inbox(system)}.>"]},
    }


def nats_server_config(
    registry: PartnerRegistry, careloop_password: str, partner_passwords: Mapping[str, str],
    *, careloop_user: str = "careloop", tls: TlsFiles | None = None,
) -> dict[str, Any]:
    unknown = set(partner_passwords) - set(registry.partners)
    if unknown:
        raise ValueError(f"passwords for unregistered systems: {', '.join(sorted(unknown))}")
    users: list[dict[str, Any]] = [{
        "user": careloop_user, "password": careloop_password,
        "permissions": {"publish": {"allow": CARELOOP_PUBLISH},
                        "subscribe": {"allow": CARELOOP_SUBSCRIBE}},
    }]
    users += [{"user": system, "password": partner_passwords[system],
               "permissions": partner_permissions(system)}
              for system in sorted(registry.partners) if system in partner_passwords]
    config: dict[str, Any] = {"authorization": {"users": users}}
    if tls is not None:
        block: dict[str, Any] = {"cert_file": str(tls.cert), "key_file": str(tls.key)}
        if tls.ca is not None:
            block.update(ca_file=str(tls.ca), verify=True)
        config["tls"] = block
    return config


def write_nats_server_config(path: Path, config: Mapping[str, Any]) -> Path:
    """nats-server reads JSON as its configuration format; the file is private to its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(config, indent=2))
    return path


def new_credentials(
    registry: PartnerRegistry, tls: TlsFiles | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A configuration with fresh random passwords for careloop and every partner, and the
    passwords by user (to hand out; careloop's goes into ``CARELOOP_NATS_PASSWORD``)."""
    passwords = {system: secrets.token_urlsafe(24) for system in registry.partners}
    careloop = secrets.token_urlsafe(24)
    config = nats_server_config(registry, careloop, passwords, tls=tls)
    return config, {"careloop": careloop, **passwords}
