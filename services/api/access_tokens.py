"""Signed access tokens (JWT) that map a caller to a person, a role and an organisation.

Two ways to trust a token, both checking issuer, expiry and (when configured) audience:
- HS256 with careloop's own secret (``careloop token`` issues them; embedded mode creates the
  secret in its data folder, or CARELOOP_TOKEN_SECRET sets it);
- RS256 or ES256 signed by an identity provider, whose public keys careloop reads from the
  provider's JWKS address (CARELOOP_TOKEN_JWKS_URL; PyJWT's PyJWKClient fetches and caches
  them for five minutes, and refetches for an unknown key id at most every 30 seconds). The provider puts the person in ``sub``, the role in ``role`` and the organisation
  in ``org``.
Unknown, tampered, foreign and expired tokens are refused alike, without saying which.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

ROLES = ("clinical-social-worker", "psychiatrist", "housing-advocate", "benefits-advocate",
         "coordinator", "auditor")
ALGORITHM = "HS256"
PROVIDER_ALGORITHMS = ("RS256", "ES256")
DEFAULT_TTL = timedelta(minutes=60)
LEEWAY_SECONDS = 30  # clock skew between the provider and us


class InvalidToken(Exception):
    """The token is missing, malformed, tampered with, for someone else, or expired."""


@dataclass(frozen=True)
class Caller:
    user: str
    role: str
    organisation: str


@dataclass
class TokenKeys:
    """What careloop trusts: its own HS256 secret, an identity provider's JWKS, or both."""

    secret: str | None = None
    jwks_url: str | None = None
    issuer: str = "careloop"
    audience: str | None = None
    _jwks: jwt.PyJWKClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.secret and not self.jwks_url:
            raise ValueError("no token secret and no JWKS address: no token could be trusted")
        if self.jwks_url:
            self._jwks = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def key_for(self, token: str) -> tuple[Any, str]:
        algorithm = jwt.get_unverified_header(token).get("alg")
        if algorithm == ALGORITHM and self.secret:
            return self.secret, algorithm
        if algorithm in PROVIDER_ALGORITHMS and self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key, str(algorithm)
        raise InvalidToken("algorithm")


def issue(secret: str, caller: Caller, ttl: timedelta = DEFAULT_TTL, issuer: str = "careloop",
          now: datetime | None = None, audience: str | None = None) -> str:
    if caller.role not in ROLES:
        raise ValueError(f"unknown role {caller.role!r}; one of {', '.join(ROLES)}")
    now = now or datetime.now(UTC)
    claims = {"sub": caller.user, "role": caller.role, "org": caller.organisation,
              "iss": issuer, "iat": now, "exp": now + ttl}
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(keys: str | TokenKeys, token: str, issuer: str = "careloop") -> Caller:
    """``keys``: a TokenKeys, or (embedded and tests) just the HS256 secret."""
    if isinstance(keys, str):
        keys = TokenKeys(secret=keys, issuer=issuer)
    try:
        key, algorithm = keys.key_for(token)
        claims = jwt.decode(
            token, key, algorithms=[algorithm], issuer=keys.issuer, audience=keys.audience,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "iss", *(["aud"] if keys.audience else [])]})
    except jwt.PyJWTError as e:  # PyJWKClientError (keys unreachable, unknown kid) too
        raise InvalidToken(type(e).__name__) from e
    role, org = claims.get("role"), claims.get("org")
    if role not in ROLES or not isinstance(org, str) or not org:
        raise InvalidToken("claims")
    return Caller(user=str(claims["sub"]), role=role, organisation=org)


def secret_for(configured: str | None, data_dir: Path, create: bool) -> str:
    """The configured secret, else embedded mode's own (made once, readable by us only)."""
    if configured:
        return configured
    path = data_dir / "token-secret"
    if path.exists():
        return path.read_text().strip()
    if not create:
        raise RuntimeError("no CARELOOP_TOKEN_SECRET set and no embedded secret found")
    data_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()
