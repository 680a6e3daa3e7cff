"""Records every read before its data leaves, and every refused attempt: reads wait for
their Disclosure event to be committed, and concurrent reads (and refusals) share one
transaction (group commit)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate

from domain.access_refusal import ANONYMOUS, AccessRefusal
from domain.disclosure import Disclosure
from domain.provenance import Actor, Provenance
from services.api.access_tokens import Caller
from services.store.care_app import CareLoop

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
    def __init__(self, app: CareLoop, batch_ms: float = 5.0, max_batch: int = 500) -> None:
        self.app, self.batch_seconds, self.max_batch = app, batch_ms / 1000, max_batch
        self._queue: asyncio.Queue[tuple[Aggregate, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.recorded = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def record(self, read: Read) -> None:
        """Returns once the read is durably recorded; raises if it could not be."""
        if self._task is None or self._task.done():
            self.start()  # lazily, in the loop that serves the reads
        disclosure_id = uuid.uuid4()
        reader = Actor(read.caller.user, read.caller.role, read.caller.organisation)
        provenance = Provenance(actor=reader, occurred_at=datetime.now(UTC),
                                source_system=f"careloop-{read.channel}",
                                message_id=f"read-{disclosure_id}",
                                correlation_id=read.correlation_id or f"read-{disclosure_id}")
        disclosure = Disclosure.record(disclosure_id, read.client_id, read.view, read.purpose,
                                       read.break_glass_reason, read.channel, provenance)
        await self._save(disclosure)

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
            await self._save(AccessRefusal.record(
                refusal_id, refusal.client_id, refusal.what, refusal.status, refusal.reason,
                refusal.channel, provenance))
        except Exception as e:
            log.warning("refusal_not_recorded", error=type(e).__name__)

    async def _save(self, aggregate: Aggregate) -> None:
        if self._task is None or self._task.done():
            self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((aggregate, done))
        await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self.batch_seconds
            while len(batch) < self.max_batch:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            try:
                await asyncio.to_thread(self.app.save, *(d for d, _ in batch))
            except Exception as e:  # the reads fail closed: no record, no data
                log.warning("disclosures_not_recorded", error=type(e).__name__, count=len(batch))
                for _, done in batch:
                    if not done.done():
                        done.set_exception(e)
                continue
            self.recorded += len(batch)
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
