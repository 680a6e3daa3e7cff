"""Secrets as files: ``CARELOOP_<NAME>_FILE`` for every secret setting, refused when
ambiguous or unreadable; ``careloop deploy-secrets`` makes them once and keeps them."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from services.cli.deploy_secrets import write_deploy_secrets
from services.partners.registry import PartnerRegistry
from services.settings import SECRET_FIELDS, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.mark.parametrize("field", SECRET_FIELDS)
def test_each_secret_setting_reads_its_file(field: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    variable = f"CARELOOP_{field.upper()}"
    monkeypatch.delenv(variable, raising=False)
    (tmp_path / "s").write_text("s3cr3t-value\n")
    monkeypatch.setenv(f"{variable}_FILE", str(tmp_path / "s"))
    assert getattr(Settings(_env_file=None), field) == "s3cr3t-value"  # type: ignore[call-arg]


def test_a_variable_and_its_file_together_are_refused(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s").write_text("from-file")
    monkeypatch.setenv("CARELOOP_TOKEN_SECRET", "from-env")
    monkeypatch.setenv("CARELOOP_TOKEN_SECRET_FILE", str(tmp_path / "s"))
    with pytest.raises(ValueError, match="both CARELOOP_TOKEN_SECRET and"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_an_unreadable_secret_file_stops_the_start_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CARELOOP_CIPHER_KEY", raising=False)
    monkeypatch.setenv("CARELOOP_CIPHER_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="CARELOOP_CIPHER_KEY_FILE: cannot read"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_deploy_secrets_are_made_once_and_kept(tmp_path: Path) -> None:
    registry = PartnerRegistry.load(DEPLOY / "partners.json")
    target = tmp_path / "secrets"
    write_deploy_secrets(target, registry, ["nats-1", "nats-2"], ["127.0.0.1"])
    first = {p.name: p.read_bytes() for p in target.iterdir()}
    assert oct(target.stat().st_mode & 0o777) == "0o700"
    assert (target / "ca-key.pem").stat().st_mode & 0o077 == 0
    assert (target / "nats-1-key.pem").stat().st_mode & 0o077 == 0
    passwords = json.loads(first["nats_passwords.json"])
    assert set(passwords) == {"careloop", *registry.partners}
    assert first["nats_password"].decode().strip() == passwords["careloop"]
    assert passwords["careloop"] in first["nats_authorization.conf"].decode()

    write_deploy_secrets(target, registry, ["nats-1", "nats-2", "nats-3"], ["127.0.0.1"])
    again = {p.name: p.read_bytes() for p in target.iterdir()}
    assert {k: again[k] for k in first} == first  # nothing replaced
    assert {"nats-3.pem", "nats-3-key.pem"} == set(again) - set(first)


def test_node_certificates_are_signed_by_the_ca_for_their_names(tmp_path: Path) -> None:
    write_deploy_secrets(tmp_path, PartnerRegistry.load(DEPLOY / "partners.json"),
                         ["nats-1"], ["*.nats"])
    cert = x509.load_pem_x509_certificate((tmp_path / "nats-1.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["nats-1", "*.nats"]
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    context.load_cert_chain(tmp_path / "nats-1.pem", tmp_path / "nats-1-key.pem")
