"""Which view documents changed, in commit order, so a reader's cache can drop exactly those.

Every view-store transaction that writes documents takes the next number from a one-row
counter (its row lock orders writers, so numbers follow commit order) and stamps each
document it wrote with it. A reader that has seen everything up to number N asks for the
documents stamped above N; one row per document, however often it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

DDL = (
    "CREATE TABLE IF NOT EXISTS view_changes ("
    " view TEXT NOT NULL, key TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (view, key))",
    "CREATE INDEX IF NOT EXISTS view_changes_by_seq ON view_changes (seq)",
    "CREATE TABLE IF NOT EXISTS view_change_counter (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL)",
    "INSERT INTO view_change_counter (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
)
CHANGED_SINCE = ("SELECT view, key, seq FROM view_changes WHERE seq > {m} "
                 "UNION ALL SELECT alias, target, -1 FROM view_aliases")
"""One round trip: the documents changed since, and (seq -1) every alias."""


@dataclass(frozen=True)
class ViewChanges:
    seq: int
    """The newest change number seen (the ``after`` asked for when nothing changed)."""
    changed: list[tuple[str, str]] = field(default_factory=list)
    """(stored view namespace, key) of each document changed since ``after``."""
    aliases: dict[str, str] = field(default_factory=dict)
    """View name as readers ask for it → the namespace that holds it now."""


def note_changes(execute: Callable[..., Any], executemany: Callable[..., Any], mark: str,
                 written: Sequence[tuple[str, str]]) -> None:
    """Stamp the documents this transaction wrote (call inside the transaction)."""
    if not written:
        return
    row = execute("UPDATE view_change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq"
                  ).fetchone()
    seq = int(row[0])
    executemany(f"INSERT INTO view_changes (view, key, seq) VALUES ({mark},{mark},{mark}) "
                "ON CONFLICT (view, key) DO UPDATE SET seq = excluded.seq",
                [(view, key, seq) for view, key in dict.fromkeys(written)])


def read_changes(rows: Sequence[Any], after: int) -> ViewChanges:
    changed = [(str(v), str(k)) for v, k, s in rows if int(s) >= 0]
    seq = max((int(s) for _, _, s in rows), default=after)
    return ViewChanges(max(seq, after), changed,
                       {str(a): str(t) for a, t, s in rows if int(s) < 0})
