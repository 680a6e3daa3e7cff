"""Web session cookies: signed, expiring (idle and absolute), revocable; CSRF tokens bound
to one session."""

from __future__ import annotations

import time

import pytest

from services.api.access_tokens import Caller
from services.web.sessions import SessionKeeper

COORD = Caller("co-5001", "coordinator", "riverside-cmhc")


def test_a_session_cookie_names_the_person_and_nothing_else_reads_it() -> None:
    keeper = SessionKeeper("secret", secure=True)
    session, cookie = keeper.start(COORD, "oidc")
    assert keeper.read(cookie) == session
    assert SessionKeeper("another secret", secure=True).read(cookie) is None
    assert keeper.read(cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")) is None
    assert keeper.read("") is None and keeper.read("not-a-jwt") is None


def test_an_unused_session_expires_and_no_session_outlives_its_lifetime(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    keeper = SessionKeeper("secret", secure=False, idle_seconds=60, lifetime_seconds=150)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    session, cookie = keeper.start(COORD, "local")
    monkeypatch.setattr(time, "time", lambda: now + 50)
    refreshed = keeper.refresh(session)  # used within the idle window: extended
    monkeypatch.setattr(time, "time", lambda: now + 100)
    assert keeper.read(cookie) is None and keeper.read(refreshed) == session
    monkeypatch.setattr(time, "time", lambda: now + 140)
    late = keeper.refresh(session)
    monkeypatch.setattr(time, "time", lambda: now + 160)  # past the absolute lifetime
    assert keeper.read(late) is None


def test_signing_out_revokes_the_session() -> None:
    keeper = SessionKeeper("secret", secure=True)
    session, cookie = keeper.start(COORD, "local")
    keeper.revoke(session)
    assert keeper.read(cookie) is None
    assert keeper.read(keeper.start(COORD, "local")[1]) is not None  # others are unaffected


def test_csrf_tokens_belong_to_one_session_and_cookies_are_locked_down() -> None:
    keeper = SessionKeeper("secret", secure=True)
    a, _ = keeper.start(COORD, "local")
    b, _ = keeper.start(COORD, "local")
    assert keeper.csrf_ok(a.sid, keeper.csrf_token(a.sid))
    assert not keeper.csrf_ok(b.sid, keeper.csrf_token(a.sid))
    assert not keeper.csrf_ok(a.sid, None) and not keeper.csrf_ok(a.sid, "")
    assert keeper.cookie.startswith("__Host-")
    assert keeper.cookie_options(None) == {"httponly": True, "samesite": "lax",
                                           "secure": True, "path": "/", "max_age": None}
    assert SessionKeeper("secret", secure=False).cookie_options(60)["secure"] is False
