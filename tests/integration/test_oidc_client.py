"""The web's OpenID Connect client refuses what it cannot trust: another issuer's discovery
document, an ID token for another sign-in (nonce), signed by a key the provider does not
publish, or for another client (audience)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.web.oidc import OidcClient, SignInFailed, pkce_pair
from tests.browser.fake_issuer import FakeIssuer

REDIRECT = "http://127.0.0.1:1/ui/auth/callback"


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    running = FakeIssuer({"sub": "sw-1042", "role": "clinical-social-worker",
                          "org": "riverside-cmhc"}).start()
    yield running
    running.stop()


async def _code(client: OidcClient, nonce: str, challenge: str) -> str:
    url = await client.authorization_url("state-1", nonce, challenge)
    async with httpx.AsyncClient() as http:
        answer = await http.get(url)
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


def test_the_challenge_is_the_s256_of_the_verifier() -> None:
    verifier, challenge = pkce_pair()
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge == digest.rstrip(b"=").decode() and 43 <= len(verifier) <= 128
    assert pkce_pair()[0] != verifier


async def test_a_good_sign_in_names_the_person_role_and_organisation(issuer: FakeIssuer) -> None:
    client = OidcClient(issuer.url, "careloop-web", REDIRECT)
    verifier, challenge = pkce_pair()
    caller = await client.sign_in(await _code(client, "n-1", challenge), verifier, "n-1")
    assert (caller.user, caller.role, caller.organisation) == (
        "sw-1042", "clinical-social-worker", "riverside-cmhc")


async def test_a_wrong_verifier_or_nonce_is_refused(issuer: FakeIssuer) -> None:
    client = OidcClient(issuer.url, "careloop-web", REDIRECT)
    verifier, challenge = pkce_pair()
    with pytest.raises(SignInFailed, match="refused the code"):
        await client.sign_in(await _code(client, "n-1", challenge), pkce_pair()[0], "n-1")
    with pytest.raises(SignInFailed, match="nonce"):
        await client.sign_in(await _code(client, "n-1", challenge), verifier, "n-2")


async def test_a_token_signed_by_an_unpublished_key_is_refused(issuer: FakeIssuer) -> None:
    client = OidcClient(issuer.url, "careloop-web", REDIRECT)
    verifier, challenge = pkce_pair()
    code = await _code(client, "n-1", challenge)
    await client.metadata()
    await client._key(issuer.kid)  # the genuine key is known ...
    issuer.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # ... a forger's signs
    with pytest.raises(SignInFailed, match="not valid"):
        await client.sign_in(code, verifier, "n-1")


async def test_a_token_for_another_client_or_from_another_issuer_is_refused(
    issuer: FakeIssuer
) -> None:
    client = OidcClient(issuer.url, "careloop-web", REDIRECT)
    verifier, challenge = pkce_pair()
    code = await _code(client, "n-1", challenge)
    issuer.audience = "another-application"
    with pytest.raises(SignInFailed, match="not valid"):
        await client.sign_in(code, verifier, "n-1")
    impostor = OidcClient(issuer.url + "/", "careloop-web", REDIRECT)
    with pytest.raises(SignInFailed, match="another issuer"):
        await impostor.metadata()
