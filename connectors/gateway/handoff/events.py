"""Fan-out of handoff events to every agents' console, across gateway processes.

Every change is published on one Redis pub/sub channel; each gateway process runs one listener
(started with the first console connection) that hands events to its local WebSockets' queues.
Pub/sub is fire-and-forget, so consoles reload the queue and transcript from Redis whenever they
(re)connect: events only make the view live, Redis stays the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis

from connectors.gateway.handoff import keys

log = logging.getLogger("xiaoshen.handoff.events")
QUEUE_SIZE = 1000


class EventHub:
    """Publish handoff events; subscribe local consoles to everyone's events."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, event: dict[str, Any]) -> None:
        await self.redis.publish(keys.EVENTS, json.dumps(event, ensure_ascii=False))

    async def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving every event from now on (after the listener is subscribed)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._listen(), name="handoff-events")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 5)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    async def _listen(self) -> None:
        delay = 0.5
        while self._subscribers:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.EVENTS)
                self._ready.set()
                delay = 0.5
                while self._subscribers:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None:
                        continue
                    self._dispatch(json.loads(msg["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: tell consoles to resync, then retry
                log.warning("handoff event listener: %s", exc)
                self._dispatch({"type": "resync"})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a stuck console: drop its backlog, ask it to reload
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait({"type": "resync"})

    async def close(self) -> None:
        self._subscribers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
