"""Each bearer token's signature is checked once in its lifetime, not on every request.

A verified token is remembered (by its exact text) with its caller and expiry; a later
request with the same token is answered from memory until the token expires, then the
entry is dropped and the token refused like any expired one. Tokens that fail are never
remembered, so a forged or tampered token is checked (and refused) every time. Memory is
bounded: past ``max_tokens`` the cache starts again empty.
"""

from __future__ import annotations

import time

from services.api.access_tokens import (
    LEEWAY_SECONDS,
    Caller,
    InvalidToken,
    TokenKeys,
    verify_claims,
)


class VerifiedTokens:
    def __init__(self, keys: str | TokenKeys, issuer: str = "careloop",
                 max_tokens: int = 10_000) -> None:
        self.keys, self.issuer, self.max_tokens = keys, issuer, max_tokens
        self._known: dict[str, tuple[Caller, float]] = {}

    def verify(self, token: str) -> Caller:
        known = self._known.get(token)
        if known is not None:
            caller, expires = known
            if time.time() < expires + LEEWAY_SECONDS:  # the leeway verify allows
                return caller
            del self._known[token]
            raise InvalidToken("expired")
        caller, expires = verify_claims(self.keys, token, self.issuer)
        if len(self._known) >= self.max_tokens:
            self._known.clear()
        self._known[token] = (caller, expires)
        return caller
