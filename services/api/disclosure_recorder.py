"""Records every read before its data leaves, and every refused attempt. A read waits until
it is committed to the read log, and reads waiting together share one commit (group
commit).

The commit loop takes every read that is waiting, appends them as one row of the read log
(``services.store.read_log``: encrypted, hash-chained, in the event store's database),
answers them, and starts again with those that arrived meanwhile: under load a commit
carries hundreds of reads, and an idle service commits a lone read at once (``batch_ms``
can add a wait to gather more). The accounting of disclosures lists the read log beside
the ``Disclosure`` events that audit tools store for their own reads. Refused attempts
(rare next to reads) are ``AccessRefusal`` events in the event store, saved one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog

from domain.access_refusal import ANONYMOUS, AccessRefusal
from domain.disclosure import BreakGlassReasonRequired
from domain.provenance import Actor, Provenance
from services.api.access_tokens import Caller
from services.observability import metrics
from services.store.care_app import CareLoop
from services.store.read_log import ReadFact, ReadLog

log = structlog.get_logger("careloop.disclosures")


@dataclass(frozen=True)
class Read:
    client_id: UUID
    caller: Caller
    view: str
    purpose: str
    channel: str
    break_glass_reason: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class Refusal:
    """An attempt that was answered 401, 403, or as out of scope."""

    client_id: UUID | None
    caller: Caller | None
    """None when the token did not verify: nobody is named."""
    what: str
    status: int
    reason: str
    channel: str


class DisclosureRecorder:
    def __init__(self, app: CareLoop, batch_ms: float = 0.0, max_batch: int = 2000) -> None:
        self.app, self.batch_seconds, self.max_batch = app, batch_ms / 1000, max_batch
        self._waiting: deque[tuple[ReadFact, asyncio.Future[None]]] = deque()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.recorded = 0
        self.commits = 0
        self._log: ReadLog | None = None

    def start(self) -> None:
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def record(self, read: Read) -> None:
        """Returns once the read is durably recorded; raises if it could not be."""
        if read.purpose == "emergency" and not (read.break_glass_reason or "").strip():
            raise BreakGlassReasonRequired("break-glass access needs a stated reason",
                                           field="break_glass_reason")
        if self._task is None or self._task.done():
            self.start()  # lazily, in the loop that serves the reads
        assert self._arrived is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((ReadFact(
            uuid.uuid4(), read.client_id, read.caller.user, read.caller.role,
            read.caller.organisation, read.view, read.purpose, read.break_glass_reason,
            read.channel, datetime.now(UTC), read.correlation_id), done))
        self._arrived.set()
        await done

    async def refused(self, refusal: Refusal) -> None:
        """Records a refused attempt; the refusal is answered whether or not this succeeds
        (a failure is logged, and the caller still gets nothing)."""
        refusal_id = uuid.uuid4()
        who = refusal.caller
        actor = Actor(who.user, who.role, who.organisation) if who else Actor(
            ANONYMOUS, ANONYMOUS, ANONYMOUS)
        provenance = Provenance(actor=actor, occurred_at=datetime.now(UTC),
                                source_system=f"careloop-{refusal.channel}",
                                message_id=f"refused-{refusal_id}",
                                correlation_id=f"refused-{refusal_id}")
        try:
            attempt = AccessRefusal.record(
                refusal_id, refusal.client_id, refusal.what, refusal.status, refusal.reason,
                refusal.channel, provenance)
            await asyncio.to_thread(self.app.save, attempt)
            metrics.refusal_recorded(refusal.channel, refusal.status)
        except Exception as e:
            with contextlib.suppress(Exception):
                log.warning("refusal_not_recorded", error=type(e).__name__)

    async def _run(self) -> None:
        assert self._arrived is not None
        while True:
            await self._arrived.wait()
            if self.batch_seconds:
                await asyncio.sleep(self.batch_seconds)
            self._arrived.clear()
            batch = [self._waiting.popleft()
                     for _ in range(min(len(self._waiting), self.max_batch))]
            if self._waiting:
                self._arrived.set()  # more than one commit's worth: go again at once
            if not batch:
                continue
            try:
                await asyncio.to_thread(self._write, [fact for fact, _ in batch])
            except Exception as e:  # the reads fail closed: no record, no data
                for _, done in batch:
                    if not done.done():
                        done.set_exception(e)
                with contextlib.suppress(Exception):  # a broken log sink must not stop reads
                    log.warning("disclosures_not_recorded", error=type(e).__name__,
                                count=len(batch))
                continue
            self.recorded += len(batch)
            metrics.disclosures_recorded([fact.channel for fact, _ in batch])
            self.commits += 1
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _write(self, facts: list[ReadFact]) -> None:
        if self._log is None:
            self._log = ReadLog(self.app)
        self._log.append(facts)
