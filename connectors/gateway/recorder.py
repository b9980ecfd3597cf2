"""Recording events of record (records/events.py) from the gateway without slowing anyone down.

Each gateway records what it did itself — the turns it relayed, the handoff steps, agent replies,
ratings and rectifications it carried out — so every event is recorded once however many gateways
run. Events are buffered and appended in batches from a worker thread every FLUSH_S; a database
outage keeps them buffered (up to MAX_BUFFER, then the oldest are dropped with a warning) and is
never felt by a user or an agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from records.events import Event, SqlEvents

log = logging.getLogger("xiaoshen.events")
FLUSH_S: Final = 0.5
MAX_BUFFER: Final = 50_000


class EventRecorder:
    """`emit()` an event now; it reaches the database within about FLUSH_S."""

    def __init__(self, sink: SqlEvents | None, flush_s: float = FLUSH_S,
                 max_buffer: int = MAX_BUFFER) -> None:
        self.sink = sink
        self.flush_s = flush_s
        self.max_buffer = max_buffer
        self._buffer: list[Event] = []
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self.dropped = 0

    def emit(self, event: Event) -> None:
        if self.sink is None:
            return
        self._buffer.append(event)
        if len(self._buffer) > self.max_buffer:
            over = len(self._buffer) - self.max_buffer
            del self._buffer[:over]
            self.dropped += over
            log.warning("events dropped: the database of record has been unreachable for too long",
                        extra={"fields": {"dropped": self.dropped}})
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="event-recorder")

    async def _loop(self) -> None:
        while self._buffer:
            await asyncio.sleep(self.flush_s)
            if not await self.flush():
                await asyncio.sleep(min(10.0, self.flush_s * 10))  # the database is down: back off

    async def flush(self) -> bool:
        """Append what is buffered now; False when the database refused (kept for the next try)."""
        if self.sink is None:
            return True
        async with self._flushing:
            batch, self._buffer = self._buffer, []
            if not batch:
                return True
            try:
                await asyncio.to_thread(self.sink.record, batch)
                return True
            except Exception as exc:
                log.warning("events not recorded now (kept for the next try): %s", exc)
                self._buffer[:0] = batch
                return False

    async def close(self) -> None:
        """Record what is left (shutdown), then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.flush()


NO_EVENTS: Final = EventRecorder(None)  # for parts built without a database (unit tests)
