"""The API's in-memory views never serve a document the projector has since changed (beyond
one poll), and its token cache never lets a bad or expired token through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from projections.view_store import Derived, ViewStore
from services.api.access_tokens import LEEWAY_SECONDS, Caller, InvalidToken, issue
from services.api.token_cache import VerifiedTokens
from services.api.view_cache import CachedViews
from services.settings import Settings
from services.store.view_stores import open_view_store

Doc = dict[str, Any]


def _set(doc: Doc | None, event: Doc, key: str) -> Doc:
    return {"key": key, "value": event["value"]}


def _derive(key: str, doc: Doc) -> Derived:
    return Derived(docs=[("plain_view", key, {"value": doc["value"]})])


def write(store: ViewStore, seq: int, key: str, value: str) -> None:
    store.apply_batch("p", "full_view", [(seq, {"key": key, "value": value})], _set,
                      lambda e: [e["key"]], _derive)


async def until(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(0.01)


async def written(cache: CachedViews, seq: int, key: str, value: str) -> None:
    """Written, and the cache's watcher has seen it."""
    before = cache.seq
    write(cache.store, seq, key, value)
    await until(lambda: cache.seq > before)


@pytest.fixture
async def cache(base_settings: Settings) -> AsyncIterator[CachedViews]:
    store = open_view_store(base_settings)
    cached = CachedViews(store, poll_seconds=0.01)
    cached.start()
    await until(lambda: cached.seq >= 0)
    yield cached
    await cached.stop()
    store.close()


async def test_a_changed_document_is_dropped_and_read_again(cache: CachedViews) -> None:
    await written(cache, 1, "c1", "first")
    assert await cache.fetch("plain_view", "c1") == {"value": "first"}
    assert cache.cached("plain_view", "c1") == {"value": "first"}  # kept in memory
    hits = cache.hits
    await cache.fetch("plain_view", "c1")
    assert cache.hits == hits + 1

    write(cache.store, 2, "c1", "second")  # the derived view changes with its source
    await until(lambda: cache.cached("plain_view", "c1") is None)
    assert await cache.fetch("plain_view", "c1") == {"value": "second"}


async def test_an_absent_document_is_not_cached(cache: CachedViews) -> None:
    assert await cache.fetch("plain_view", "nobody") is None
    await written(cache, 1, "nobody", "now here")
    assert await cache.fetch("plain_view", "nobody") == {"value": "now here"}


async def test_the_rendered_bytes_follow_the_document(cache: CachedViews) -> None:
    await written(cache, 1, "c2", "a")
    doc = await cache.fetch("plain_view", "c2")
    assert doc is not None
    assert cache.rendered("plain_view", "c2", doc, lambda d: d["value"].encode()) == b"a"
    assert cache.rendered("plain_view", "c2", doc, lambda d: b"other") == b"a"  # remembered
    write(cache.store, 2, "c2", "b")
    await until(lambda: cache.cached("plain_view", "c2") is None)
    fresh = await cache.fetch("plain_view", "c2")
    assert fresh is not None
    assert cache.rendered("plain_view", "c2", fresh, lambda d: d["value"].encode()) == b"b"


async def test_a_document_read_while_it_changes_is_not_kept(cache: CachedViews) -> None:
    await written(cache, 1, "c3", "old")
    real_get = cache.store.get

    def get_then_change(view: str, key: str) -> Doc | None:
        doc = real_get(view, key)
        write(cache.store, 2, "c3", "new")  # committed after this read
        time.sleep(0.2)  # the watcher sees the change before the read returns
        return doc

    cache.store.get = get_then_change  # type: ignore[method-assign]
    assert await cache.fetch("plain_view", "c3") == {"value": "old"}
    cache.store.get = real_get  # type: ignore[method-assign]
    assert cache.cached("plain_view", "c3") is None
    assert await cache.fetch("plain_view", "c3") == {"value": "new"}


def test_a_cached_token_still_expires_and_a_forged_one_is_never_cached() -> None:
    secret = "s" * 40
    tokens = VerifiedTokens(secret)
    who = Caller("co-1", "coordinator", "riverside-cmhc")
    good = issue(secret, who, timedelta(hours=1))
    assert tokens.verify(good) == who
    assert tokens.verify(good) == who  # from memory

    forged = issue("another-secret-of-forty-characters-long!", who, timedelta(hours=1))
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.verify(forged)

    past = datetime.now(UTC) - timedelta(hours=2)
    expiring = jwt.encode({"sub": "co-1", "role": "coordinator", "org": "riverside-cmhc",
                           "iss": "careloop", "iat": past,
                           "exp": time.time() - LEEWAY_SECONDS + 1},  # within the leeway
                          secret, algorithm="HS256")
    assert tokens.verify(expiring) == who
    time.sleep(1.1)
    with pytest.raises(InvalidToken):
        tokens.verify(expiring)  # the cached entry has expired too
