"""Conversations belong to their user (../shared/CONTRACT.md, "Conversations belong to their user").

The first turn of a new `sender_id` creates the conversation and its token; every later request
about it must present the token (the chat API: header `X-Conversation-Token`; our widget: in its
`session_request`; rasa-webchat: the browser's `xs_browser` cookie, see channels/widget.py). A
missing or wrong one is 403 and nothing is stored. The conversation's channel is fixed when it
starts, and `wx-…` ids belong to WeChat alone, so nobody can reach a WeChat user's conversation or
redirect an agent's replies by naming another channel.

Only SHA-256 hashes of tokens are kept, in the conversation's metadata hash (`xs:conv:{id}:meta`,
fields `token`, `browser`, `channel`); checking and claiming is one Lua script, so two first turns
racing for one id give the conversation to exactly one of them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis

from connectors.gateway.conversations import TRANSCRIPT_TTL_S
from connectors.gateway.errors import ApiError

TOKEN_HEADER: Final = "X-Conversation-Token"
WECHAT: Final = "wechat"
# Sender ids a channel owns: nobody may start or join them from another channel.
RESERVED_PREFIXES: Final = {"wx-": WECHAT}

# KEYS: meta; ARGV: token hash, channel, browser hash ('' for none), now, ttl.
# Returns {state, token hash, channel, browser hash}: state 1 = claimed now, 0 = owned already,
# -1 = held by a channel that never gives tokens (WeChat).
CLAIM: Final = """
local tok = redis.call('HGET', KEYS[1], 'token')
local ch = redis.call('HGET', KEYS[1], 'channel') or ''
if tok then return {0, tok, ch, redis.call('HGET', KEYS[1], 'browser') or ''} end
if ch == 'wechat' then return {-1, '', ch, ''} end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'channel', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'browser', ARGV[3]) end
redis.call('HSETNX', KEYS[1], 'created', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, ARGV[1], ARGV[2], ARGV[3]}
"""

# KEYS: meta; ARGV: token hash. Undo a claim whose first turn failed (the client never saw the
# token, so it must be able to start the same id again).
UNCLAIM: Final = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'token', 'browser')
  return 1
end
return 0
"""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def forbidden() -> ApiError:
    return ApiError(403, "conversation_forbidden",
                    "无权访问此会话：缺少或错误的会话令牌 / This conversation needs its own "
                    f"conversation token ({TOKEN_HEADER}).")


def wrong_channel(channel: str) -> ApiError:
    return ApiError(403, "wrong_channel",
                    f"此会话属于 {channel} 渠道，不能从这里访问 / This conversation belongs to the "
                    f"{channel} channel and cannot be used from here.")


def reserved_channel(sender_id: str) -> str | None:
    """The channel that owns this sender id by its prefix, if any."""
    for prefix, channel in RESERVED_PREFIXES.items():
        if sender_id.startswith(prefix):
            return channel
    return None


@dataclass(frozen=True)
class Admission:
    """A request let into a conversation; `token` is set only when this request started it."""

    sender_id: str
    channel: str
    token: str | None = None

    @property
    def started(self) -> bool:
        return self.token is not None


class Owners:
    """Starts conversations with a token and lets in only requests that present it."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(CLAIM)
        self._unclaim = redis.register_script(UNCLAIM)

    @staticmethod
    def _key(sender_id: str) -> str:
        return f"xs:conv:{sender_id}:meta"

    async def admit(self, sender_id: str, channel: str, token: str | None, *,
                    browser: str | None = None) -> Admission:
        """Let a request into the conversation, or start it with a new token.

        `token` is what the request presented, `browser` the widget's browser cookie (either one
        that matches lets it in). Raises 403 `conversation_forbidden` or `wrong_channel`.
        """
        owner = reserved_channel(sender_id)
        if owner is not None and owner != channel:
            raise wrong_channel(owner)
        fresh = secrets.token_urlsafe(24)
        raw: list[Any] = await self._claim(
            keys=[self._key(sender_id)],
            args=[digest(fresh), channel, digest(browser) if browser else "", repr(time.time()),
                  TRANSCRIPT_TTL_S])
        state = int(raw[0])
        stored_token, stored_channel, stored_browser = (str(v or "") for v in raw[1:])
        if state == 1:
            return Admission(sender_id, channel, fresh)
        if state == -1:
            raise wrong_channel(stored_channel)
        if stored_channel and stored_channel != channel:
            raise wrong_channel(stored_channel)
        if not self.matches(stored_token, token) and not self.matches(stored_browser, browser):
            raise forbidden()
        return Admission(sender_id, channel)

    async def check(self, sender_id: str, token: str | None) -> None:
        """Let a request about an existing conversation (history, status, typing) through, or 403.

        Any channel's client that holds the token may read; a conversation without one (unknown,
        or WeChat's) is never readable here.
        """
        stored = await self.redis.hget(self._key(sender_id), "token")
        if not stored or not self.matches(str(stored), token):
            raise forbidden()

    async def release(self, admission: Admission) -> None:
        """Forget a claim whose first turn failed, so the client can start again."""
        if admission.token is not None:
            await self._unclaim(keys=[self._key(admission.sender_id)], args=[digest(admission.token)])

    @staticmethod
    def matches(stored_hash: str, presented: str | None) -> bool:
        if not stored_hash or not presented:
            return False
        return hmac.compare_digest(stored_hash.encode(), digest(presented).encode())
