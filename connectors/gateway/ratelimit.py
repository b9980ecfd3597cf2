"""Rate limits on Redis, shared by every gateway process (the `limits` library).

Each rule is a list of limits in `limits`' notation ("30/minute;300/hour"), set by an environment
variable (settings.py, `XS_RATE_*`), and applied per key (a sender id, a client address, a user
name). `XS_RATE_LIMITS=off` turns every rule off (load tests, evaluation runs). Over a limit a
request is answered 429 with the error shape and `Retry-After` (`RateLimited`); parts of a turn
that are limited on their own (joining the queue, leaving a 留言) answer the user in words instead.

Sliding-window counters: two Redis counters per key and limit, so a burst at a window's edge cannot
pass twice the limit, at the cost of one round trip per limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Final

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import ConnectionError as RedisConnectionError

from connectors.gateway.errors import ApiError
from connectors.gateway.settings import Settings

# Rule name → settings attribute holding its limits.
RULES: Final = {
    "turn_sender": "xs_rate_turn_sender",  # chat turns of one conversation (API and widget)
    "turn_ip": "xs_rate_turn_ip",  # chat turns from one client address, all its conversations
    "session_ip": "xs_rate_session_ip",  # new conversations (and widget sessions) from one address
    "queue_sender": "xs_rate_queue_sender",  # requests for a person from one conversation
    "queue_ip": "xs_rate_queue_ip",  # requests for a person from one address
    "ticket_ip": "xs_rate_ticket_ip",  # 留言 left from one address
    "rating_ip": "xs_rate_rating_ip",  # ratings of an agent from one address
    "login_ip": "xs_rate_login_ip",  # login attempts from one address
}


class RateLimited(ApiError):
    """429 with the error shape and Retry-After."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(429, "rate_limited",
                         f"操作太频繁了，请 {retry_after_s} 秒后再试 / Too many requests; "
                         f"please retry in {retry_after_s} s.",
                         headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


def storage_uri(redis_url: str) -> str:
    """`limits`' name for the same Redis (redis://… → async+redis://…)."""
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"


@dataclass
class RateLimits:
    enabled: bool
    rules: dict[str, list[RateLimitItem]] = field(default_factory=dict)
    limiter: SlidingWindowCounterRateLimiter | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        enabled = settings.xs_rate_limits.strip().lower() not in ("off", "0", "false", "no")
        if not enabled:
            return cls(False)
        rules = {name: parse_many(getattr(settings, attr)) for name, attr in RULES.items()
                 if getattr(settings, attr).strip()}
        storage = RedisStorage(storage_uri(settings.redis_url), implementation="redispy",
                               key_prefix="xs:rl", socket_connect_timeout=2, socket_timeout=5)
        return cls(True, rules, SlidingWindowCounterRateLimiter(storage))

    async def over(self, rule: str, key: str) -> int | None:
        """Count one more for `key` under `rule`; None when allowed, else seconds until it is."""
        if not self.enabled or self.limiter is None or not key:
            return None
        for item in self.rules.get(rule, []):
            try:
                allowed = await self.limiter.hit(item, rule, key)
            except RedisConnectionError:  # a dropped pooled connection: once more on a fresh one
                allowed = await self.limiter.hit(item, rule, key)
            if not allowed:
                stats = await self.limiter.get_window_stats(item, rule, key)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def check(self, rule: str, key: str) -> None:
        """Count one more, or raise RateLimited."""
        wait = await self.over(rule, key)
        if wait is not None:
            raise RateLimited(wait)
