"""Tokens careloop trusts: its own HS256 ones, and an identity provider's RS256/ES256 ones
checked against the provider's JWKS (served here over real HTTP from a test key pair),
with issuer, audience and expiry; anything else is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.api.access_tokens import (
    DEFAULT_TTL,
    Caller,
    InvalidToken,
    TokenKeys,
    issue,
    verify,
)

ISSUER, AUDIENCE = "https://idp.example.test/realms/care", "careloop-api"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    keys = [{**json.loads(RSAAlgorithm.to_jwk(RSA_KEY.public_key())), "kid": "rsa-1",
             "alg": "RS256", "use": "sig"},
            {**json.loads(ECAlgorithm.to_jwk(EC_KEY.public_key())), "kid": "ec-1",
             "alg": "ES256", "use": "sig"}]
    body = json.dumps({"keys": keys}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/certs"
    server.shutdown()
    server.server_close()


def provider_token(key: Any, algorithm: str, kid: str, **overrides: Any) -> str:
    now = datetime.now(UTC)
    claims = {"sub": "sw-2001", "role": "clinical-social-worker", "org": "riverside-cmhc",
              "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + timedelta(minutes=5),
              **overrides}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def hs256_by_hand(secret: bytes) -> str:
    """The classic confusion attack: HMAC-signed with the provider's public key (PyJWT
    refuses to make one, so it is made by hand)."""
    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    exp = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    signing = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode()) + b"." + \
        b64(json.dumps({"sub": "x", "role": "coordinator", "org": "o", "iss": ISSUER,
                        "aud": AUDIENCE, "exp": exp}).encode())
    return (signing + b"." + b64(hmac.new(secret, signing, hashlib.sha256).digest())).decode()


def keys(jwks_url: str, secret: str | None = None) -> TokenKeys:
    return TokenKeys(secret=secret, jwks_url=jwks_url, issuer=ISSUER, audience=AUDIENCE)


@pytest.mark.parametrize(("key", "algorithm", "kid"),
                         [(RSA_KEY, "RS256", "rsa-1"), (EC_KEY, "ES256", "ec-1")])
def test_a_token_signed_by_the_identity_provider_is_accepted(
    jwks_url: str, key: Any, algorithm: str, kid: str,
) -> None:
    who = verify(keys(jwks_url), provider_token(key, algorithm, kid))
    assert who == Caller("sw-2001", "clinical-social-worker", "riverside-cmhc")


@pytest.mark.parametrize("forged", [
    "wrong audience", "no audience", "wrong issuer", "wrong key", "unknown kid", "expired",
    "unknown role", "hs256 with the public key", "unsigned"])
def test_foreign_forged_and_expired_tokens_are_refused(jwks_url: str, forged: str) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    token = {
        "wrong audience": lambda: provider_token(RSA_KEY, "RS256", "rsa-1", aud="other-app"),
        "no audience": lambda: provider_token(RSA_KEY, "RS256", "rsa-1", aud=None),
        "wrong issuer": lambda: provider_token(RSA_KEY, "RS256", "rsa-1",
                                               iss="https://evil.example.test"),
        "wrong key": lambda: provider_token(OTHER_RSA_KEY, "RS256", "rsa-1"),
        "unknown kid": lambda: provider_token(OTHER_RSA_KEY, "RS256", "rsa-9"),
        "expired": lambda: provider_token(RSA_KEY, "RS256", "rsa-1", iat=past,
                                          exp=past + timedelta(minutes=60)),
        "unknown role": lambda: provider_token(RSA_KEY, "RS256", "rsa-1", role="superuser"),
        "hs256 with the public key": lambda: hs256_by_hand(RSAAlgorithm.to_jwk(
            RSA_KEY.public_key()).encode()),
        "unsigned": lambda: jwt.encode(
            {"sub": "x", "role": "coordinator", "org": "o", "iss": ISSUER, "aud": AUDIENCE,
             "exp": datetime.now(UTC) + timedelta(minutes=5)}, None, algorithm="none"),
    }[forged]()
    with pytest.raises(InvalidToken):
        verify(keys(jwks_url), token)


def test_careloop_hs256_tokens_last_60_minutes_and_check_audience(jwks_url: str) -> None:
    secret = "embedded-secret-" + "x" * 32
    now = datetime.now(UTC)
    token = issue(secret, Caller("co-5001", "coordinator", "riverside-cmhc"), issuer=ISSUER,
                  audience=AUDIENCE, now=now)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == DEFAULT_TTL.total_seconds() == 3600
    both = keys(jwks_url, secret)
    assert verify(both, token).user == "co-5001"
    assert verify(both, provider_token(RSA_KEY, "RS256", "rsa-1")).user == "sw-2001"
    with pytest.raises(InvalidToken):  # a JWKS-only deployment takes no HS256 token
        verify(keys(jwks_url), token)
    with pytest.raises(InvalidToken):  # another secret
        verify(keys(jwks_url, "another-secret-" + "y" * 32), token)
    with pytest.raises(InvalidToken):  # without the audience this deployment requires
        verify(both, issue(secret, Caller("co-5001", "coordinator", "riverside-cmhc"),
                           issuer=ISSUER))


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_the_running_service_takes_identity_provider_tokens_over_http_and_nats(
    jwks_url: str, settings: Any,
) -> None:
    """With only a JWKS configured (no careloop secret), the HTTP API and the NATS query
    API accept the provider's token and refuse careloop-signed and foreign ones."""
    import httpx

    from services.runtime import Runtime

    configured = settings.model_copy(update={
        "token_secret": None, "token_jwks_url": jwks_url, "token_issuer": ISSUER,
        "token_audience": AUDIENCE})
    runtime = await Runtime(configured).start()
    try:
        good = provider_token(EC_KEY, "ES256", "ec-1", sub="co-5001", role="coordinator")
        forged = issue("x" * 40, Caller("co-5001", "coordinator", "riverside-cmhc"),
                       issuer=ISSUER, audience=AUDIENCE)
        async with httpx.AsyncClient(base_url=runtime.http_url or "") as http:
            path = "/clients/5f0c9a8e-2d4b-4c1e-9a3f-7b6d2e1c0a11/care-plan"
            answers = {name: (await http.get(path, headers={
                "Authorization": f"Bearer {token}"})).status_code
                for name, token in (("provider", good), ("careloop-signed", forged))}
        assert answers["provider"] in (403, 404)  # authenticated; no such plan (yet)
        assert answers["careloop-signed"] == 401
        assert runtime._nc is not None
        reply = await runtime._nc.request("careloop.query.care_plan", json.dumps(
            {"token": forged, "client_id": "5f0c9a8e-2d4b-4c1e-9a3f-7b6d2e1c0a11"}).encode(),
            timeout=20)
        assert json.loads(reply.data)["status"] == 401
    finally:
        await runtime.stop()
