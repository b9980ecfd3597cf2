"""Every conversation's transcript and metadata, in Redis, in order.

Each entry (user, bot, agent or system message) gets a per-conversation sequence number, so a
channel can resume after a reconnect with "everything after seq N" and never duplicate or lose
a message. Keys: `xs:conv:{sender}:log` (list of JSON entries), `xs:conv:{sender}:seq`
(counter), `xs:conv:{sender}:meta` (hash: channel, created, last_seen).

Numbering and storing an entry is one Lua script, so no reader ever sees entry N+1 without N.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final, Literal, TypedDict

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

Role = Literal["user", "bot", "agent", "system"]
TRANSCRIPT_TTL_S = 30 * 24 * 3600
MAX_ENTRIES = 2000

# KEYS: log, seq; ARGV: ttl, max entries, then each entry's JSON without its seq ('{' + fields + '}').
# Returns the first new seq. The seq is spliced in as the object's first member.
APPEND: Final = """
local first = nil
for i = 3, #ARGV do
  local seq = redis.call('INCR', KEYS[2])
  first = first or seq
  redis.call('RPUSH', KEYS[1], '{"seq": ' .. seq .. ', ' .. string.sub(ARGV[i], 2))
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return first
"""


class Entry(TypedDict, total=False):
    seq: int
    ts: float
    role: Role
    text: str | None
    buttons: list[dict[str, str]]
    custom: dict[str, Any]
    author: str  # agent user name for role "agent"


def _key(sender_id: str, part: str) -> str:
    return f"xs:conv:{sender_id}:{part}"


def new_entry(role: Role, text: str | None = None, *, buttons: list[dict[str, str]] | None = None,
              custom: dict[str, Any] | None = None, author: str | None = None) -> Entry:
    """An entry not yet numbered (append() gives it its seq)."""
    entry: Entry = {"ts": time.time(), "role": role, "text": text, "buttons": buttons or [],
                    "custom": custom or {}}
    if author:
        entry["author"] = author
    return entry


class ConversationStore:
    """Append-only transcripts with sequence numbers, plus per-conversation metadata."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._append = redis.register_script(APPEND)

    def _append_args(self, sender_id: str, entries: list[Entry]) -> tuple[list[str], list[Any]]:
        keys = [_key(sender_id, "log"), _key(sender_id, "seq")]
        body = [json.dumps({k: v for k, v in e.items() if k != "seq"}, ensure_ascii=False)
                for e in entries]
        return keys, [TRANSCRIPT_TTL_S, MAX_ENTRIES, *body]

    @staticmethod
    def _numbered(entries: list[Entry], first: int) -> list[Entry]:
        return [Entry(seq=first + i, **{k: v for k, v in e.items() if k != "seq"})  # type: ignore[typeddict-item]
                for i, e in enumerate(entries)]

    async def queue_append(self, pipe: Pipeline, sender_id: str, entries: list[Entry]) -> None:
        """Queue append_many on a pipeline; its result is the first seq (see appended)."""
        if entries:
            keys, args = self._append_args(sender_id, entries)
            await self._append(keys=keys, args=args, client=pipe)

    def appended(self, entries: list[Entry], first: Any) -> list[Entry]:
        """The entries numbered from the first seq a queued append returned."""
        return self._numbered(entries, int(first))

    async def append_many(self, sender_id: str, entries: list[Entry]) -> list[Entry]:
        """Store entries in order, in one atomic step; they come back with their seqs."""
        if not entries:
            return []
        keys, args = self._append_args(sender_id, entries)
        first = int(await self._append(keys=keys, args=args))
        return self._numbered(entries, first)

    async def append(self, sender_id: str, role: Role, text: str | None = None, *,
                     buttons: list[dict[str, str]] | None = None,
                     custom: dict[str, Any] | None = None, author: str | None = None) -> Entry:
        """Store one message and return it with its sequence number."""
        entry = new_entry(role, text, buttons=buttons, custom=custom, author=author)
        return (await self.append_many(sender_id, [entry]))[0]

    async def queue_begin(self, pipe: Pipeline, sender_id: str, channel: str, entry: Entry) -> None:
        """Queue a turn's first writes on `pipe`: touch the metadata, append the user's entry.

        The pipeline's results hold, in order: 4 results of the touch, then the entry's first seq
        (see `begun`)."""
        self._queue_touch(pipe, sender_id, channel)
        keys, args = self._append_args(sender_id, [entry])
        await self._append(keys=keys, args=args, client=pipe)  # queued, not run yet

    BEGIN_RESULTS: Final = 5

    def begun(self, entry: Entry, results: list[Any]) -> Entry:
        """The user's entry, numbered, from the results of queue_begin's commands."""
        return self._numbered([entry], int(results[4]))[0]

    async def history(self, sender_id: str, after: int = 0, limit: int = 500) -> list[Entry]:
        """Entries with seq > after, oldest first."""
        raw = await self.redis.lrange(_key(sender_id, "log"), -MAX_ENTRIES, -1)
        entries = [json.loads(item) for item in raw]
        return [e for e in entries if int(e["seq"]) > after][:limit]

    @staticmethod
    def _queue_touch(pipe: Pipeline, sender_id: str, channel: str) -> None:
        meta = _key(sender_id, "meta")
        now = str(time.time())
        pipe.hsetnx(meta, "created", now)
        pipe.hsetnx(meta, "channel", channel)  # fixed when the conversation starts (owners.py)
        pipe.hset(meta, "last_seen", now)
        pipe.expire(meta, TRANSCRIPT_TTL_S)

    async def touch(self, sender_id: str, channel: str) -> None:
        """Record that the user wrote (and the channel, if the conversation has none yet)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            self._queue_touch(pipe, sender_id, channel)
            await pipe.execute()

    async def last_seq(self, sender_id: str) -> int:
        """The sequence number of the conversation's latest entry (0 when it has none)."""
        return int(await self.redis.get(_key(sender_id, "seq")) or 0)

    async def meta(self, sender_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(_key(sender_id, "meta"))
        return {str(k): str(v) for k, v in raw.items()}
