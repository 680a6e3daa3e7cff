"""Each partner system is confined: its NATS user may publish only under its own
``careloop.in.<system>.>`` and read only its own receipts, careloop's own user can do its
whole job, the actor a message claims must belong to the sending system, and NATS can be
required to speak TLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import secrets
import ssl
from pathlib import Path
from typing import Any

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nats.aio.client import Client as NATS

from services.bus.embedded_nats import EmbeddedNats
from services.bus.permissions import (
    TlsFiles,
    nats_server_config,
    partner_inbox,
    write_nats_server_config,
)
from services.bus.streams import inbound_subject
from services.partners.client import PartnerClient
from services.partners.registry import PartnerRegistry
from services.projector.consumer import CARE_PLAN
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import EXAMPLES, message
from tests.reliability.conftest import Figures

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = PartnerRegistry.load(ROOT / "deploy" / "partners.json")


# --- the actor must belong to the sending system -------------------------------------------

def test_a_system_speaks_only_for_its_own_organisations() -> None:
    assert REGISTRY.authorise("riverside-ehr", "riverside-cmhc") is None
    forged = REGISTRY.authorise("riverside-ehr", "harbor-housing")
    assert forged is not None
    assert (forged.code, forged.field) == ("actor_not_of_system", "actor.organisation")
    assert "riverside-cmhc" in forged.message
    stranger = REGISTRY.authorise("unknown-system", "riverside-cmhc")
    assert stranger is not None
    assert (stranger.code, stranger.field) == ("unknown_source_system", "source_system")


def test_every_committed_example_is_sent_by_a_system_its_actor_belongs_to() -> None:
    pairs = {(doc["source_system"], doc["actor"]["organisation"])
             for doc in (json.loads(p.read_text()) for p in EXAMPLES.glob("*.json"))}
    pairs |= {("county-cases", "county-benefits"), ("psych-ehr", "riverside-psych")}  # the story
    assert {pair: REGISTRY.authorise(*pair) for pair in pairs} == dict.fromkeys(pairs)


# --- NATS users and subject permissions ----------------------------------------------------

class Watched:
    """A partner's own NATS connection, with the errors the server sends it."""

    def __init__(self) -> None:
        self.errors: asyncio.Queue[str] = asyncio.Queue()
        self.nc: NATS | None = None

    async def connect(self, url: str, system: str, password: str, **extra: Any) -> NATS:
        async def on_error(e: Exception) -> None:
            await self.errors.put(str(e).lower())

        self.nc = await nats.connect(url, user=system, password=password,
                                     inbox_prefix=partner_inbox(system).encode(),
                                     error_cb=on_error, allow_reconnect=False, **extra)
        return self.nc

    async def next_error(self) -> str:
        return await asyncio.wait_for(self.errors.get(), timeout=30)


@pytest.fixture
def secured(tmp_path: Path) -> Any:
    passwords = {system: secrets.token_urlsafe(16) for system in ("riverside-ehr", "harbor-cases")}
    careloop_password = secrets.token_urlsafe(16)
    config = write_nats_server_config(
        tmp_path / "nats.json", nats_server_config(REGISTRY, careloop_password, passwords))
    server = EmbeddedNats(tmp_path / "nats", config=config).start()
    yield server, careloop_password, passwords
    server.stop()


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_partners_are_confined_to_their_own_subjects_and_careloop_does_its_job(
    secured: Any, base_settings: Settings, figures: Figures,
) -> None:
    server, careloop_password, passwords = secured
    settings = base_settings.model_copy(update={
        "nats_url": server.url, "nats_user": "careloop", "nats_password": careloop_password})
    runtime = await Runtime(settings).start()
    ehr, spy = Watched(), Watched()
    try:
        # The partner posts under its own subject and reads its own receipt: careloop's user
        # consumed, stored, answered and relayed.
        await ehr.connect(server.url, "riverside-ehr", passwords["riverside-ehr"])
        assert ehr.nc is not None
        partner = PartnerClient(ehr.nc, "riverside-ehr", settings.stream_inbound)
        await partner.start()
        receipt = await partner.post(message("client.registered"))
        assert receipt.status == "accepted", receipt.summary

        # It cannot publish as another system: the server refuses and nothing is stored.
        await ehr.nc.publish(inbound_subject("harbor-cases", "referral.accepted"), b"{}")
        assert "permissions violation" in await ehr.next_error()

        # It cannot read another system's receipts.
        await spy.connect(server.url, "riverside-ehr", passwords["riverside-ehr"])
        assert spy.nc is not None
        await spy.nc.subscribe("careloop.receipts.harbor-cases")
        assert "permissions violation" in await spy.next_error()
        await spy.nc.subscribe("careloop.events.>")  # nor the clinical events stream
        assert "permissions violation" in await spy.next_error()

        # A wrong password gets no connection at all.
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await Watched().connect(server.url, "harbor-cases", "not-the-password")

        assert runtime.app is not None and runtime.views is not None
        assert await asyncio.to_thread(runtime.app.head_position) == 2
        views = runtime.views
        for _ in range(600):  # the relay published and the projector applied, as careloop
            if (await asyncio.to_thread(views.position, CARE_PLAN.name)).stream_seq == 1:
                break
            await asyncio.sleep(0.05)
        assert (await asyncio.to_thread(views.position, CARE_PLAN.name)).stream_seq == 1
        # Its own user may report each component's health (key-value bucket) too.
        for _ in range(600):
            health = await runtime.health()
            if {"ingest", "relay", "projector", "hash_chain"} <= set(health.components):
                break
            await asyncio.sleep(0.05)
        assert health.status == "ok", health.problems
        assert {"ingest", "relay", "projector", "hash_chain"} <= set(health.components)
    finally:
        for watched in (ehr, spy):
            if watched.nc is not None and watched.nc.is_connected:
                await watched.nc.close()
        await runtime.stop()
    figures("nats_permissions", {"partners": len(passwords), "forbidden_publishes_refused": 1,
                                 "forbidden_subscriptions_refused": 2, "leaked": 0})


# --- TLS on loopback -----------------------------------------------------------------------

def self_signed_ca_and_server_cert(directory: Path) -> tuple[Path, TlsFiles]:
    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: Any, issuer: x509.Name | None, signer: Any,
             ca: bool) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("careloop test CA", ca_key, None, ca_key, ca=True)
    server = cert("127.0.0.1", server_key, ca.subject, ca_key, ca=False)
    paths = {"ca.pem": ca, "server.pem": server}
    for name, c in paths.items():
        (directory / name).write_bytes(c.public_bytes(serialization.Encoding.PEM))
    (directory / "server-key.pem").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return directory / "ca.pem", TlsFiles(directory / "server.pem", directory / "server-key.pem")


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_nats_over_tls_accepts_careloop_and_refuses_plain_connections(
    tmp_path: Path, base_settings: Settings,
) -> None:
    ca, tls = self_signed_ca_and_server_cert(tmp_path)
    password = secrets.token_urlsafe(16)
    config = write_nats_server_config(tmp_path / "nats.json", nats_server_config(
        REGISTRY, password, {"riverside-ehr": password}, tls=tls))
    server = EmbeddedNats(tmp_path / "nats", config=config, scheme="tls").start()
    try:
        plain = server.url.replace("tls://", "nats://")
        with pytest.raises(Exception, match=r"(?i)tls|ssl|secure"):
            await nats.connect(plain, user="careloop", password=password,
                               max_reconnect_attempts=0, allow_reconnect=False)

        settings = base_settings.model_copy(update={
            "nats_url": server.url, "nats_user": "careloop", "nats_password": password,
            "nats_tls_ca": ca})
        runtime = await Runtime(settings).start()
        try:
            partner = await PartnerClient.connect(
                server.url, "riverside-ehr", settings.stream_inbound, user="riverside-ehr",
                password=password, inbox_prefix=partner_inbox("riverside-ehr").encode(),
                tls=ssl.create_default_context(cafile=str(ca)))
            try:
                receipt = await partner.post(message("client.registered"))
            finally:
                await partner.close()
        finally:
            await runtime.stop()
        assert receipt.status == "accepted", receipt.summary
    finally:
        server.stop()


def test_generated_configuration_gives_each_partner_its_own_password_and_subjects() -> None:
    from services.bus.permissions import new_credentials

    config, passwords = new_credentials(REGISTRY)
    users = {u["user"]: u for u in config["authorization"]["users"]}
    assert set(users) == {"careloop", *REGISTRY.partners}
    assert len(set(passwords.values())) == len(passwords)
    harbor = users["harbor-cases"]["permissions"]
    assert harbor["subscribe"] == {
        "allow": ["careloop.receipts.harbor-cases", "_INBOX_harbor-cases.>"]}
    assert "careloop.in.harbor-cases.>" in harbor["publish"]["allow"]
