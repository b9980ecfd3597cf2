"""Every conversation's transcript and metadata, in Redis, in order.

Each entry (user, bot, agent or system message) gets a per-conversation sequence number, so a
channel can resume after a reconnect with "everything after seq N" and never duplicate or lose
a message. Keys: `xs:conv:{sender}:log` (list of JSON entries), `xs:conv:{sender}:seq`
(counter), `xs:conv:{sender}:meta` (hash: channel, created, last_seen).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal, TypedDict

import redis.asyncio as aioredis

Role = Literal["user", "bot", "agent", "system"]
TRANSCRIPT_TTL_S = 30 * 24 * 3600
MAX_ENTRIES = 2000


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


class ConversationStore:
    """Append-only transcripts with sequence numbers, plus per-conversation metadata."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def append(self, sender_id: str, role: Role, text: str | None = None, *,
                     buttons: list[dict[str, str]] | None = None,
                     custom: dict[str, Any] | None = None, author: str | None = None) -> Entry:
        """Store one message and return it with its sequence number."""
        seq = int(await self.redis.incr(_key(sender_id, "seq")))
        entry: Entry = {"seq": seq, "ts": time.time(), "role": role, "text": text,
                        "buttons": buttons or [], "custom": custom or {}}
        if author:
            entry["author"] = author
        log_key = _key(sender_id, "log")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(log_key, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(log_key, -MAX_ENTRIES, -1)
            for part in ("log", "seq"):
                pipe.expire(_key(sender_id, part), TRANSCRIPT_TTL_S)
            await pipe.execute()
        return entry

    async def history(self, sender_id: str, after: int = 0, limit: int = 500) -> list[Entry]:
        """Entries with seq > after, oldest first."""
        raw = await self.redis.lrange(_key(sender_id, "log"), -MAX_ENTRIES, -1)
        entries = [json.loads(item) for item in raw]
        return [e for e in entries if int(e["seq"]) > after][:limit]

    async def touch(self, sender_id: str, channel: str) -> None:
        """Record the channel the user last wrote from (replies from agents go back there)."""
        meta = _key(sender_id, "meta")
        now = str(time.time())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(meta, "created", now)
            pipe.hset(meta, mapping={"channel": channel, "last_seen": now})
            pipe.expire(meta, TRANSCRIPT_TTL_S)
            await pipe.execute()

    async def last_seq(self, sender_id: str) -> int:
        """The sequence number of the conversation's latest entry (0 when it has none)."""
        return int(await self.redis.get(_key(sender_id, "seq")) or 0)

    async def meta(self, sender_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(_key(sender_id, "meta"))
        return {str(k): str(v) for k, v in raw.items()}
