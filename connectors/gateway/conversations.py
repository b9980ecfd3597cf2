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

# Lua: append entries (JSON objects without their seq, '{' + fields + '}') to a transcript. The seq is
# spliced in as each object's first member; returns the first new seq.
_APPEND_FN: Final = """
local function append(log, seq_key, ttl, max_entries, first_arg)
  local first = nil
  for i = first_arg, #ARGV do
    local seq = redis.call('INCR', seq_key)
    first = first or seq
    redis.call('RPUSH', log, '{"seq": ' .. seq .. ', ' .. string.sub(ARGV[i], 2))
  end
  redis.call('LTRIM', log, -tonumber(max_entries), -1)
  redis.call('EXPIRE', log, ttl)
  redis.call('EXPIRE', seq_key, ttl)
  return first
end
"""
# KEYS: log, seq; ARGV: ttl, max entries, then the entries.
APPEND: Final = _APPEND_FN + "return append(KEYS[1], KEYS[2], ARGV[1], ARGV[2], 3)"
# Lua: record that the user wrote (and the channel, fixed when the conversation starts: owners.py).
_TOUCH_FN: Final = """
local function touch(meta, now, channel, ttl)
  redis.call('HSETNX', meta, 'created', now)
  redis.call('HSETNX', meta, 'channel', channel)
  redis.call('HSET', meta, 'last_seen', now)
  redis.call('EXPIRE', meta, ttl)
end
"""
# KEYS: meta; ARGV: now, channel, ttl.
TOUCH: Final = _TOUCH_FN + "touch(KEYS[1], ARGV[1], ARGV[2], ARGV[3])"
# A turn's first step. KEYS: turn lock, meta, log, seq; ARGV: lock token, lock lifetime (ms), now,
# channel, ttl, max entries, the user's entry. Takes the conversation's turn lock and, only if it was
# free, touches the conversation and appends the entry: returns its seq, or -1 (nothing written)
# while another turn holds the lock.
BEGIN: Final = _APPEND_FN + _TOUCH_FN + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
touch(KEYS[2], ARGV[3], ARGV[4], ARGV[5])
return append(KEYS[3], KEYS[4], ARGV[5], ARGV[6], 7)
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

    def queue_append(self, pipe: Pipeline, sender_id: str, entries: list[Entry]) -> None:
        """Queue append_many on a pipeline; its result is the first seq (see appended).

        Queued as EVAL, not as a registered script: redis-py checks a pipeline's registered scripts
        with an extra SCRIPT EXISTS round trip on every execute."""
        if entries:
            keys, args = self._append_args(sender_id, entries)
            pipe.eval(APPEND, len(keys), *keys, *args)

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

    def queue_begin(self, pipe: Pipeline, sender_id: str, channel: str, entry: Entry,
                    lock: tuple[str, str, int]) -> None:
        """Queue a turn's first step on `pipe`: take the turn lock (key, token, lifetime in ms) and,
        if it was free, touch the metadata and append the user's entry (one result, see `begun`)."""
        keys, args = self._append_args(sender_id, [entry])
        lock_key, token, ttl_ms = lock
        pipe.eval(BEGIN, 4, lock_key, _key(sender_id, "meta"), *keys,
                  token, ttl_ms, str(time.time()), channel, *args)

    BEGIN_RESULTS: Final = 1

    def begun(self, entry: Entry, results: list[Any]) -> Entry | None:
        """The user's entry, numbered, from queue_begin's result; None if another turn held the lock."""
        seq = int(results[0])
        return None if seq < 0 else self._numbered([entry], seq)[0]

    async def history(self, sender_id: str, after: int = 0, limit: int = 500) -> list[Entry]:
        """Entries with seq > after, oldest first."""
        raw = await self.redis.lrange(_key(sender_id, "log"), -MAX_ENTRIES, -1)
        entries = [json.loads(item) for item in raw]
        return [e for e in entries if int(e["seq"]) > after][:limit]

    async def touch(self, sender_id: str, channel: str) -> None:
        """Record that the user wrote (and the channel, if the conversation has none yet)."""
        await self.redis.eval(TOUCH, 1, _key(sender_id, "meta"), str(time.time()), channel,
                              TRANSCRIPT_TTL_S)

    async def last_seq(self, sender_id: str) -> int:
        """The sequence number of the conversation's latest entry (0 when it has none)."""
        return int(await self.redis.get(_key(sender_id, "seq")) or 0)

    async def meta(self, sender_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(_key(sender_id, "meta"))
        return {str(k): str(v) for k, v in raw.items()}
