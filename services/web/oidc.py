"""Sign-in through the identity provider: OpenID Connect authorization code flow with PKCE.

The provider is the issuer the API trusts. We read its discovery document, send the browser to
its authorization endpoint with a fresh ``state``, ``nonce`` and S256 code challenge, and on
the way back exchange the code (with the verifier) for an ID token, which we verify against
the provider's published keys (JWKS): signature, issuer, audience, expiry and nonce. The
person's role and organisation come from the token's claims (``role``, ``org`` by default,
the same claims the API reads from its bearer tokens).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from services.api.access_tokens import ROLES, Caller

ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]


class SignInFailed(Exception):
    """The provider's answer could not be trusted or did not name a careloop role."""


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class OidcClient:
    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str = ""
    role_claim: str = "role"
    organisation_claim: str = "org"
    timeout: float = 10.0
    _metadata: dict[str, Any] | None = field(default=None, repr=False)
    _keys: dict[str, Any] = field(default_factory=dict, repr=False)
    _keys_at: float = 0.0

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = await self._get(url)
            if doc.get("issuer") != self.issuer:
                raise SignInFailed("the discovery document names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(key), str):
                    raise SignInFailed(f"the discovery document has no {key}")
            self._metadata = doc
        return self._metadata

    async def authorization_url(self, state: str, nonce: str, challenge: str) -> str:
        meta = await self.metadata()
        query = {"response_type": "code", "client_id": self.client_id,
                 "redirect_uri": self.redirect_uri, "scope": "openid profile",
                 "state": state, "nonce": nonce, "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        return f"{meta['authorization_endpoint']}?{urlencode(query)}"

    async def sign_in(self, code: str, verifier: str, nonce: str) -> Caller:
        """Exchange the code, verify the ID token, and say who signed in."""
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri, "client_id": self.client_id,
                "code_verifier": verifier}
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            if self.client_secret:  # a confidential client authenticates (client_secret_basic)
                response = await http.post(meta["token_endpoint"], data=form,
                                           auth=(self.client_id, self.client_secret))
            else:
                response = await http.post(meta["token_endpoint"], data=form)
        if response.status_code != 200:
            raise SignInFailed(f"the provider refused the code ({response.status_code})")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the provider sent no ID token")
        claims = await self._verify(id_token)
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInFailed("the ID token answers another sign-in (nonce)")
        role, org = claims.get(self.role_claim), claims.get(self.organisation_claim)
        if role not in ROLES or not isinstance(org, str) or not org:
            raise SignInFailed("your account has no careloop role or organisation")
        return Caller(user=str(claims["sub"]), role=str(role), organisation=org)

    async def _verify(self, id_token: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
        except jwt.PyJWTError as e:
            raise SignInFailed("the ID token is malformed") from e
        key = await self._key(kid)
        try:
            return jwt.decode(id_token, key, algorithms=ALGORITHMS, audience=self.client_id,
                              issuer=self.issuer, leeway=30,
                              options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.PyJWTError as e:
            raise SignInFailed(f"the ID token is not valid ({type(e).__name__})") from e

    async def _key(self, kid: str | None) -> Any:
        # Keys are cached; an unknown kid refreshes them (the provider rotated), at most
        # once a minute.
        if kid not in self._keys and time.monotonic() - self._keys_at > 60:
            meta = await self.metadata()
            jwks = jwt.PyJWKSet.from_dict(await self._get(meta["jwks_uri"]))
            self._keys = {str(k.key_id): k.key for k in jwks.keys}
            self._keys_at = time.monotonic()
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise SignInFailed("the ID token is signed with a key the provider does not publish")

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.get(url)
            response.raise_for_status()
            doc = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise SignInFailed(f"the identity provider did not answer ({type(e).__name__})") from e
        if not isinstance(doc, dict):
            raise SignInFailed("the identity provider sent something unexpected")
        return doc
