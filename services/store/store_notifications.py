"""Wakes an asyncio.Event whenever events are committed to the PostgreSQL store, by any
process: the library NOTIFYs a channel in every insert transaction, and this LISTENs to it.

The relay then publishes a commit within milliseconds even when ingest runs in another
process (its in-process wake-up cannot reach there); its poll interval stays the fallback.
"""

from __future__ import annotations

import asyncio
import threading

import structlog
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

log = structlog.get_logger("careloop.store_notifications")


class StoreNotifications:
    def __init__(self, recorder: ApplicationRecorder, wake: asyncio.Event) -> None:
        self.recorder, self.wake = recorder, wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Listen in a thread (PostgreSQL only); returns whether it listens."""
        if not isinstance(self.recorder, PostgresApplicationRecorder):
            return False
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._listen, args=(self.recorder, loop),
                                        name="careloop-store-notifications", daemon=True)
        self._thread.start()
        return True

    def _listen(self, recorder: PostgresApplicationRecorder,
                loop: asyncio.AbstractEventLoop) -> None:
        while not self._stop.is_set():
            try:
                with recorder.datastore.get_connection() as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))
                    conn.commit()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            loop.call_soon_threadsafe(self.wake.set)
            except Exception as e:  # database away: the poll interval still works
                if self._stop.is_set():
                    return
                log.warning("store_listen_retrying", error=type(e).__name__)
                self._stop.wait(2.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
