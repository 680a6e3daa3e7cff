"""Generates a nats-server configuration: careloop's own user, and one user per partner
system allowed exactly what the partner guide documents, nothing else:

- publish its facts under ``careloop.in.<system>.>`` (JetStream acknowledges them into its
  own reply inbox, ``_INBOX_<system>.>``, the only inbox it may read);
- read its receipts live on ``careloop.receipts.<system>`` and from the receipts stream
  through the durable pull consumer careloop keeps for it (named after the system);
- consume the feed of each organisation it speaks for through the durable pull consumer
  careloop keeps for it on that organisation's feed stream, and read any message of that
  stream by sequence (direct get) to replay from a point;
- ask the query API (``careloop.query.>``, request-reply).

Partners cannot create, change or delete streams or consumers (so they cannot point a
consumer's deliveries at someone else's subject), and no JetStream API subject of the
internal streams (inbound, events with the disclosures, dead letters) is open to them.
Without a user nobody connects: an authorization block with users admits no anonymous
client. The file holds passwords and the JetStream key: write it where only the
nats-server can read it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.bus.streams import (
    checked_name,
    feed_stream,
    feed_subjects,
    inbound_subject,
    receipts_subject,
)
from services.partners.registry import PartnerRegistry
from services.settings import Settings

QUERY_SUBJECTS = "careloop.query.>"


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path | None = None
    """Set to also require client certificates signed by this CA."""


def partner_inbox(system: str) -> str:
    """The reply-subject prefix a partner connects with (nats-py ``inbox_prefix``)."""
    return f"_INBOX_{system}"


def partner_permissions(system: str, organisations: frozenset[str],
                        streams: Settings | None = None) -> dict[str, Any]:
    s = streams or Settings(_env_file=None)  # type: ignore[call-arg]
    checked_name(system, "system")  # a '.', '*' or '>' would widen the subjects below
    consume = [(s.stream_receipts, system)] + [
        (feed_stream(s, org), system) for org in sorted(organisations)]
    publish = [inbound_subject(system, ">"), QUERY_SUBJECTS]
    for stream, consumer in consume:
        publish += [f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",
                    f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",
                    f"$JS.ACK.{stream}.{consumer}.>"]
    for org in sorted(organisations):  # the whole feed stream is theirs: replay by sequence
        stream = feed_stream(s, org)
        publish += [f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.DIRECT.GET.{stream}",
                    f"$JS.API.DIRECT.GET.{stream}.{feed_subjects(org)}"]
    return {
        "publish": {"allow": publish},
        "subscribe": {"allow": [receipts_subject(system), f"{partner_inbox(system)}.>"]},
    }


def nats_server_config(
    registry: PartnerRegistry, careloop_password: str, partner_passwords: Mapping[str, str],
    *, careloop_user: str = "careloop", tls: TlsFiles | None = None,
    streams: Settings | None = None, jetstream_key: str | None = None,
) -> dict[str, Any]:
    """``jetstream_key``: nats-server encrypts its JetStream files with it (ChaCha20)."""
    unknown = set(partner_passwords) - set(registry.partners)
    if unknown:
        raise ValueError(f"passwords for unregistered systems: {', '.join(sorted(unknown))}")
    if careloop_user in registry.partners:
        raise ValueError(f"a partner system may not be called {careloop_user!r}")
    users: list[dict[str, Any]] = [{
        "user": careloop_user, "password": careloop_password,
        "permissions": {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}},
    }]
    users += [{"user": system, "password": partner_passwords[system],
               "permissions": partner_permissions(
                   system, registry.partners[system].organisations, streams)}
              for system in sorted(registry.partners) if system in partner_passwords]
    config: dict[str, Any] = {"authorization": {"users": users}}
    if jetstream_key is not None:
        config["jetstream"] = {"cipher": "chachapoly", "key": jetstream_key}
    if tls is not None:
        block: dict[str, Any] = {"cert_file": str(tls.cert), "key_file": str(tls.key)}
        if tls.ca is not None:
            block.update(ca_file=str(tls.ca), verify=True)
        config["tls"] = block
    return config


def write_private(path: Path, text: str) -> Path:
    """Create or replace ``path`` readable by its owner only (0600), folder 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return path


def write_nats_server_config(path: Path, config: Mapping[str, Any]) -> Path:
    """nats-server reads JSON as its configuration format; the file is private to its owner."""
    return write_private(path, json.dumps(config, indent=2))


def include_files(config: Mapping[str, Any]) -> dict[str, str]:
    """The users, and the JetStream cipher and key, as nats-server includes for
    configurations that set the rest (cluster, store) themselves: ``authorization`` at the
    top level, ``jetstream`` inside the ``jetstream { }`` block. JSON values are valid
    nats-server configuration syntax."""
    files = {"authorization": f"authorization: {json.dumps(config['authorization'], indent=2)}\n"}
    if "jetstream" in config:
        js = config["jetstream"]
        files["jetstream"] = f"cipher: {js['cipher']}\nkey: {json.dumps(js['key'])}\n"
    return files


def new_credentials(
    registry: PartnerRegistry, tls: TlsFiles | None = None, streams: Settings | None = None,
    jetstream_key: str | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A configuration with fresh random passwords for careloop and every partner, and the
    passwords by user (to hand out; careloop's goes into ``CARELOOP_NATS_PASSWORD``)."""
    passwords = {system: secrets.token_urlsafe(24) for system in registry.partners}
    careloop = secrets.token_urlsafe(24)
    config = nats_server_config(registry, careloop, passwords, tls=tls, streams=streams,
                                jetstream_key=jetstream_key or secrets.token_urlsafe(32))
    return config, {"careloop": careloop, **passwords}
