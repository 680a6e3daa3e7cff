"""Hot view documents in the API's memory, dropped the moment the projector changes them.

A read served from here costs a dictionary lookup instead of a database round trip, a JSON
decode and a re-encode: the document is kept with the bytes it was last served as. The
view store stamps every document it writes with a change number in commit order
(``projections.view_changes``); a watcher asks for the numbers above the last one it saw,
every ``poll_seconds``, and drops those documents. A changed alias (a rebuild's switch)
drops everything. Until the watcher has caught up once, and whenever it cannot reach the
store, nothing is served from memory.

How stale a served document can be: the projector's own lag plus at most one poll
interval (and the poll's round trip). Documents absent from the store are not cached, so a
new client appears as soon as the store has it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from projections.view_changes import ViewChanges
from projections.view_store import Apply, Derive, KeysOf, Position, RowQuery, ViewStore

log = structlog.get_logger("careloop.view_cache")

Doc = dict[str, Any]


class _Entry:
    __slots__ = ("doc", "rendered")

    def __init__(self, doc: Doc) -> None:
        self.doc, self.rendered = doc, b""


class CachedViews:
    """A ``ViewStore`` whose ``get`` answers from memory while the document is unchanged.

    Cached documents are shared between reads: callers must not change them.
    """

    def __init__(self, store: ViewStore, poll_seconds: float = 0.01,
                 max_documents: int = 20_000) -> None:
        self.store, self.poll_seconds, self.max_documents = store, poll_seconds, max_documents
        self._docs: dict[str, dict[str, _Entry]] = {}  # key → view → entry
        self._count = 0
        self._seq = -1  # no change seen yet: serve nothing from memory
        self._aliases: dict[str, str] | None = None
        self._task: asyncio.Task[None] | None = None
        self.hits = self.misses = 0

    @property
    def seq(self) -> int:
        """The newest change applied (-1: not caught up, nothing is served from memory)."""
        return self._seq

    # --- the watcher ---------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            try:
                changes = await asyncio.to_thread(self.store.changes, max(self._seq, 0))
                self.apply_changes(changes)
            except Exception as e:  # the store is away: stop serving from memory until back
                if self._seq >= 0:
                    log.warning("view_cache_suspended", error=type(e).__name__)
                self._clear()
                self._seq = -1
            await asyncio.sleep(self.poll_seconds)

    def apply_changes(self, changes: ViewChanges) -> None:
        if self._aliases is not None and changes.aliases != self._aliases:
            self._clear()
        self._aliases = changes.aliases
        for _, key in changes.changed:
            self._drop(key)
        self._seq = changes.seq

    def _drop(self, key: str) -> None:
        views = self._docs.pop(key, None)
        if views:
            self._count -= len(views)

    def _clear(self) -> None:
        self._docs.clear()
        self._count = 0

    # --- reads ---------------------------------------------------------------------------
    def cached(self, view: str, key: str) -> Doc | None:
        entry = self._docs.get(key, {}).get(view)
        return entry.doc if entry is not None else None

    async def fetch(self, view: str, key: str) -> Doc | None:
        """The document, from memory when it is there (no thread hop), else from the store."""
        entry = self._docs.get(key, {}).get(view)
        if entry is not None:
            self.hits += 1
            return entry.doc
        self.misses += 1
        seq = self._seq
        doc = await asyncio.to_thread(self.store.get, view, key)
        # Keep it only if no change was applied while it was read (it may predate one).
        if doc is not None and seq >= 0 and seq == self._seq:
            self._keep(view, key, doc)
        return doc

    def rendered(self, view: str, key: str, doc: Doc, render: Callable[[Doc], bytes]) -> bytes:
        """``render(doc)``, remembered with the cached document it was made from."""
        entry = self._docs.get(key, {}).get(view)
        if entry is None or entry.doc is not doc:
            return render(doc)
        if not entry.rendered:
            entry.rendered = render(doc)
        return entry.rendered

    def _keep(self, view: str, key: str, doc: Doc) -> None:
        if self._count >= self.max_documents:
            self._clear()  # bounded memory; the hot set refills on the next reads
        views = self._docs.setdefault(key, {})
        if view not in views:
            self._count += 1
        views[view] = _Entry(doc)

    # --- the rest of the ViewStore, passed through -----------------------------------------
    def get(self, view: str, key: str) -> Doc | None:
        return self.cached(view, key) or self.store.get(view, key)

    def position(self, projection: str) -> Position:
        return self.store.position(projection)

    def scan(self, view: str) -> list[Doc]:
        return self.store.scan(view)

    def rows(self, query: RowQuery) -> tuple[list[Doc], int]:
        return self.store.rows(query)

    def apply_batch(
        self, projection: str, view: str, events: Iterable[tuple[int, Doc]], apply: Apply,
        keys_of: KeysOf, derive: Derive | None = None,
    ) -> Position:
        return self.store.apply_batch(projection, view, events, apply, keys_of, derive)

    def changes(self, after: int) -> ViewChanges:
        return self.store.changes(after)

    def close(self) -> None:
        self.store.close()
