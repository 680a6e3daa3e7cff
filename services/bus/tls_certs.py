"""A private certificate authority for a NATS cluster, and one certificate per node.

Clients (careloop's processes, the partner systems) check the node's certificate against
the CA (``CARELOOP_NATS_TLS_CA``); the nodes check each other on the cluster routes with the
same CA (mutual TLS), so every node certificate serves both as server and as client. Made
with ``cryptography`` (already careloop's at-rest cipher), so no openssl script is needed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
NODE_DAYS = 825


@dataclass(frozen=True)
class NodeFiles:
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "careloop"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, mode: int) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(mode)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


def ensure_ca(directory: Path) -> tuple[Path, Path]:
    """``ca.pem`` and ``ca-key.pem`` in ``directory``: kept when they exist (so nodes can be
    added later under the same CA), made otherwise. The CA key stays 0600: keep it offline."""
    cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("careloop NATS CA"))
            .issuer_name(_name("careloop NATS CA")).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_key(key_path, key, 0o600)
    _write_cert(cert_path, cert)
    return cert_path, key_path


def ensure_node_cert(directory: Path, node: str, names: list[str], key_mode: int = 0o600,
                     ) -> NodeFiles:
    """``<node>.pem`` and ``<node>-key.pem``, signed by the CA in ``directory``, valid for
    ``node`` and each of ``names`` (host names, wildcards like ``*.nats``, or IP addresses).
    Kept when they exist."""
    files = NodeFiles(directory / f"{node}.pem", directory / f"{node}-key.pem")
    if files.cert.exists() and files.key.exists():
        return files
    ca_cert_path, ca_key_path = ensure_ca(directory)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    alt_names = list(dict.fromkeys([node, *names]))
    cert = (x509.CertificateBuilder().subject_name(_name(node))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=NODE_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(
                [_general_name(n) for n in alt_names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage(  # routes are mutual TLS: both roles
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_key(files.key, key, key_mode)
    _write_cert(files.cert, cert)
    return files
