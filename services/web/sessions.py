"""Web sessions in signed cookies, and the CSRF tokens bound to them.

A session cookie is a short JWT (HS256, key of the web's own) naming the person, their role
and organisation, the session id, when it started and when it was last used. It is HttpOnly,
SameSite=Lax, Secure outside embedded mode, and expires after ``idle`` without use and after
``lifetime`` whatever happens. Signing out revokes the session id in this process (until the
cookie would have expired anyway) and deletes the cookie. No personal data of clients is ever
put in a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt

from services.api.access_tokens import ROLES, Caller

ALGORITHM = "HS256"


@dataclass(frozen=True)
class Session:
    sid: str
    caller: Caller
    started: int
    expires: int
    via: str
    """'local' (embedded demo sign-in) or 'oidc'."""


class SessionKeeper:
    def __init__(self, secret: str, *, secure: bool, idle_seconds: int = 30 * 60,
                 lifetime_seconds: int = 8 * 3600) -> None:
        # A key of its own, derived so a session cookie is never a valid API token.
        self._key = hmac.new(secret.encode(), b"careloop-web-session", hashlib.sha256).digest()
        self.secure, self.idle, self.lifetime = secure, idle_seconds, lifetime_seconds
        self.cookie = "__Host-careloop-session" if secure else "careloop-session"
        self.flow_cookie = "__Host-careloop-signin" if secure else "careloop-signin"
        self._revoked: dict[str, int] = {}
        self._lock = threading.Lock()

    # --- sessions ---------------------------------------------------------------------
    def start(self, caller: Caller, via: str) -> tuple[Session, str]:
        now = int(time.time())
        session = Session(secrets.token_urlsafe(18), caller, now, now + self.lifetime, via)
        return session, self._encode(session, now)

    def refresh(self, session: Session) -> str:
        """A new cookie value that extends the idle window (never the absolute lifetime)."""
        return self._encode(session, int(time.time()))

    def _encode(self, s: Session, seen: int) -> str:
        claims = {"sid": s.sid, "sub": s.caller.user, "role": s.caller.role,
                  "org": s.caller.organisation, "iat": s.started, "via": s.via,
                  "exp": min(seen + self.idle, s.expires), "end": s.expires}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def read(self, value: str | None) -> Session | None:
        if not value:
            return None
        try:
            # Expiry is checked below against this process's clock, idle and absolute alike.
            c = jwt.decode(value, self._key, algorithms=[ALGORITHM],
                           options={"require": ["exp", "sid", "sub", "end"],
                                    "verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            return None
        now = time.time()
        if not (isinstance(c["exp"], int) and isinstance(c["end"], int)) or (
                now >= c["exp"] or now >= c["end"]):
            return None
        if c.get("role") not in ROLES or not c.get("org") or self.revoked(str(c["sid"])):
            return None
        return Session(str(c["sid"]), Caller(str(c["sub"]), str(c["role"]), str(c["org"])),
                       int(c.get("iat", 0)), int(c["end"]), str(c.get("via", "")))

    def revoke(self, session: Session) -> None:
        now = int(time.time())
        with self._lock:
            self._revoked = {sid: end for sid, end in self._revoked.items() if end > now}
            self._revoked[session.sid] = session.expires

    def revoked(self, sid: str) -> bool:
        with self._lock:
            return sid in self._revoked

    def cookie_options(self, max_age: int | None) -> dict[str, Any]:
        return {"httponly": True, "samesite": "lax", "secure": self.secure, "path": "/",
                "max_age": max_age}

    # --- CSRF ---------------------------------------------------------------------------
    def csrf_token(self, bound_to: str) -> str:
        """A form token bound to a session id (or a sign-in flow's nonce)."""
        return hmac.new(self._key, f"csrf:{bound_to}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, bound_to: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(bound_to), token or "")

    # --- the short-lived cookie of a sign-in in progress (CSRF nonce, OIDC state) --------
    def flow(self, values: dict[str, str], seconds: int = 600) -> str:
        claims = {**values, "exp": int(time.time()) + seconds, "kind": "signin"}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def read_flow(self, value: str | None) -> dict[str, str] | None:
        if not value:
            return None
        try:
            claims = jwt.decode(value, self._key, algorithms=[ALGORITHM],
                                options={"require": ["exp"]})
        except jwt.PyJWTError:
            return None
        if claims.get("kind") != "signin":
            return None
        return {k: str(v) for k, v in claims.items()}
