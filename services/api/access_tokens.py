"""Signed access tokens (JWT, HS256) that map a caller to a person, a role and an organisation.

Issued with ``careloop token`` by whoever holds the secret (CARELOOP_TOKEN_SECRET); embedded
mode creates a secret in its data folder. Unknown, tampered and expired tokens are refused
alike, without saying which.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

ROLES = ("clinical-social-worker", "psychiatrist", "housing-advocate", "benefits-advocate",
         "coordinator", "auditor")
ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, malformed, tampered with, for someone else, or expired."""


@dataclass(frozen=True)
class Caller:
    user: str
    role: str
    organisation: str


def issue(secret: str, caller: Caller, ttl: timedelta, issuer: str = "careloop",
          now: datetime | None = None) -> str:
    if caller.role not in ROLES:
        raise ValueError(f"unknown role {caller.role!r}; one of {', '.join(ROLES)}")
    now = now or datetime.now(UTC)
    claims = {"sub": caller.user, "role": caller.role, "org": caller.organisation,
              "iss": issuer, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str, issuer: str = "careloop") -> Caller:
    return verify_claims(secret, token, issuer)[0]


def verify_claims(secret: str, token: str, issuer: str = "careloop") -> tuple[Caller, float]:
    """The caller and the token's expiry (seconds since the epoch), or InvalidToken."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=issuer,
                            options={"require": ["exp", "sub", "iss"]})
    except jwt.PyJWTError as e:
        raise InvalidToken(type(e).__name__) from e
    role, org = claims.get("role"), claims.get("org")
    if role not in ROLES or not isinstance(org, str) or not org:
        raise InvalidToken("claims")
    return Caller(user=str(claims["sub"]), role=role, organisation=org), float(claims["exp"])


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
