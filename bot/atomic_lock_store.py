"""Rasa's Redis lock store with every change of a lock made atomically (runs inside Rasa).

Rasa 3.6's `RedisLockStore` changes a conversation's ticket lock by reading it, changing it in
Python and writing it back (issue a ticket, finish one, drop expired ones, delete the lock when
nobody waits). Two Rasa replicas doing that for one conversation at the same moment overwrite each
other: a ticket is lost, or the lock is deleted under a waiting turn, and both turns run at once
(tests/integration/test_replicas.py saw one turn's message land between another's answers). Here
each change is one Redis transaction (WATCH the lock, read, change, MULTI/EXEC, retry when another
process changed it meanwhile). Configured in the endpoints as
`lock_store: type: bot.atomic_lock_store.AtomicRedisLockStore` (tools/stack.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from redis.exceptions import WatchError

T = TypeVar("T")


class AtomicRedisLockStore(RedisLockStore):
    """A `RedisLockStore` whose ticket issue, finish, expiry and deletion are atomic."""

    def __init__(self, endpoint_config: Any) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _change(self, conversation_id: str,
                change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Apply `change` (the lock or None → the lock to keep, or None to delete; a result) as one
        transaction, retried until no other process changed the lock in between."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    kept, result = change(lock)
                    pipe.multi()
                    if kept is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, kept.dumps())
                    pipe.execute()
                    return result
                except WatchError:
                    continue

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, change)
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def change(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish the ticket and delete the lock if nobody waits, in one step (not two: a ticket
        issued in between would be deleted with the lock)."""

        def change(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, change)
