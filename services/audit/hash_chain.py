"""Tamper evidence: a hash chain over the stored events, in store order.

Each link covers one stored event (notification id, originator id and version, topic and
the stored state bytes) and the previous link's hash, so changing, removing or reordering
any stored row changes every later link. The chain is a projection of the store, kept in
its own table beside the events (same SQLite file, same PostgreSQL schema) and advanced by
the runtime's ``hash_chain`` component. ``verify`` re-walks the store from the start and
reports the first event whose content, order or presence no longer matches.

The chain table lives in the same database, so someone who can rewrite events can also
rewrite the chain: the head hash must also be anchored outside the database (see the
docs/audit.md, "Anchoring the chain head"); ``verify(expect_head=...)`` checks an anchor.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import structlog
from eventsourcing.persistence import Notification

from services.audit.hash_chain_tables import ChainTable, Link
from services.store.care_app import CareLoop
from services.store.event_records import notifications
from services.store.event_seal import CheckedMapper, seal_holds

log = structlog.get_logger("careloop.hash_chain")

GENESIS = "0" * 64
PAGE = 2000


def content_hash(note: Notification) -> str:
    """The digest of one stored event's content (originator id and version, topic, state),
    independent of where it sits; the link adds the position and the predecessor."""
    head = "\x1f".join(
        (str(note.originator_id), str(note.originator_version), note.topic)
    ).encode()
    h = hashlib.sha256()
    h.update(struct.pack(">Q", len(head)))
    h.update(head)
    h.update(struct.pack(">Q", len(note.state)))
    h.update(note.state)
    return h.hexdigest()


def link_hash(previous: str, position: int, content: str) -> str:
    """One link: the predecessor's hash, the event's store position and its content."""
    return hashlib.sha256(f"{previous}:{position}:{content}".encode()).hexdigest()


@dataclass(frozen=True)
class Finding:
    """The first place where the store and the chain disagree."""

    position: int
    kind: str
    """``altered``, ``deleted``, ``inserted``, ``reordered``, ``chain-altered``, ``forged``
    (its seal does not hold: written without careloop's key) or ``anchor``."""
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    head_position: int
    head_hash: str
    finding: Finding | None = None


class TamperFound(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.detail)
        self.finding = finding


def _forged(note: Notification) -> Finding:
    return Finding(note.id, "forged",
                   f"event {note.id} ({note.topic} v{note.originator_version} of "
                   f"{note.originator_id}) does not carry careloop's seal: written by someone "
                   "without the key, or altered")


class HashChain:
    def __init__(self, app: CareLoop, table: ChainTable) -> None:
        self.app, self.table = app, table
        mapper = app.mapper
        self.seal_key = mapper.seal_key if isinstance(mapper, CheckedMapper) else None
        self._older = mapper.older_keys if isinstance(mapper, CheckedMapper) else ()
        self._legacy = isinstance(mapper, CheckedMapper) and mapper.legacy_unsealed

    def _sealed(self, note: Notification) -> bool:
        return seal_holds(self.seal_key, note.originator_id, note.originator_version, note.topic,
                          note.state, self._older, self._legacy)

    def head(self) -> Link | None:
        return self.table.head()

    def advance(self, max_pages: int | None = None) -> int:
        """Chain the events stored since the head; returns how many were added.

        A row whose seal does not hold is never chained: the rows before it are, and
        ``TamperFound`` names it."""
        added = 0
        pages = 0
        while max_pages is None or pages < max_pages:
            head = self.table.head()
            after, previous = (head.position, head.chain) if head else (0, GENESIS)
            notes = self.app.recorder.select_notifications(
                after, PAGE, inclusive_of_start=False)
            if not notes:
                break
            links = []
            forged = next((n for n in notes if not self._sealed(n)), None)
            for note in notes:
                if note is forged:
                    break
                content = content_hash(note)
                previous = link_hash(previous, note.id, content)
                links.append(Link(note.id, content, previous))
            if links and self.table.append(links, after):
                added += len(links)
            if forged is not None:
                finding = _forged(forged)
                log.error("hash_chain_tamper_detected", alert=True, position=finding.position,
                          kind=finding.kind)
                raise TamperFound(finding)
            pages += 1
            if len(notes) < PAGE:
                break
        if added:
            log.debug("hash_chain_advanced", added=added)
        return added

    def verify(self, expect_head: str | None = None) -> VerifyReport:
        """Re-walk the whole store against the chain; stop at the first disagreement.

        ``expect_head`` is an anchor kept outside the database, ``POSITION:HASH`` (or just
        ``HASH``): the recomputed chain must pass through it.
        """
        want_pos, want_hash = _parse_anchor(expect_head)
        anchor_seen = False
        previous, checked, last = GENESIS, 0, 0
        chained = _links(self.table)
        link = next(chained, None)
        for notes in notifications(self.app, 0, page=PAGE):
            for note in notes:
                if link is None:  # past the chain's head: not chained yet, but sealed?
                    if not self._sealed(note):
                        return self._report(checked, last, previous, _forged(note))
                    continue
                content = content_hash(note)
                if link.position < note.id:
                    return self._report(checked, last, previous, Finding(
                        link.position, "deleted",
                        f"event {link.position} is chained but no longer in the store"))
                if note.id < link.position:
                    return self._report(checked, last, previous, Finding(
                        note.id, "inserted",
                        f"event {note.id} is in the store but was never chained"))
                expected = link_hash(previous, note.id, content)
                if expected != link.chain:
                    return self._report(checked, last, previous,
                                        self._explain(note, content, link, previous))
                if not self._sealed(note):
                    return self._report(checked, last, previous, _forged(note))
                previous, last, checked = expected, note.id, checked + 1
                if want_hash is not None and expected == want_hash and want_pos in (None, last):
                    anchor_seen = True
                link = next(chained, None)
        if link is not None:
            return self._report(checked, last, previous, Finding(
                link.position, "deleted",
                f"event {link.position} is chained but no longer in the store"))
        if want_hash is not None and not anchor_seen:
            where = f" at position {want_pos}" if want_pos is not None else ""
            return self._report(checked, last, previous, Finding(
                want_pos or last, "anchor",
                f"the anchored head {want_hash}{where} is not on the recomputed chain: history "
                "before the anchor was rewritten (chain table included)"))
        return VerifyReport(True, checked, last, previous)

    def _explain(self, note: Notification, content: str, link: Link, previous: str) -> Finding:
        if content == link.content:
            return Finding(note.id, "chain-altered",
                           f"event {note.id} is intact but its chain record was changed")
        moved_from = self.table.position_of_content(content)
        if moved_from is not None and moved_from != note.id:
            return Finding(note.id, "reordered",
                           f"event at {note.id} is the one chained at position {moved_from}")
        return Finding(note.id, "altered",
                       f"event {note.id} ({note.topic} v{note.originator_version} of "
                       f"{note.originator_id}) no longer matches its chained content")

    def _report(self, checked: int, last: int, previous: str, finding: Finding) -> VerifyReport:
        log.error("hash_chain_mismatch", alert=True, position=finding.position, kind=finding.kind)
        return VerifyReport(False, checked, last, previous, finding)


def _links(table: ChainTable) -> Iterator[Link]:
    after = 0
    while True:
        page = table.links(after, PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].position


def _parse_anchor(anchor: str | None) -> tuple[int | None, str | None]:
    if not anchor:
        return None, None
    pos, sep, digest = anchor.strip().rpartition(":")
    if sep and pos.isdigit():
        return int(pos), digest.lower()
    return None, anchor.strip().lower()
