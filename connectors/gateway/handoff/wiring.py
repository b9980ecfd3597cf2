"""Building the handoff's parts from settings, and their start/stop with the app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
import yaml
from redis.exceptions import RedisError

from connectors.gateway.auth import Accounts
from connectors.gateway.chat import Outbox
from connectors.gateway.conversations import ConversationStore
from connectors.gateway.handoff.feedback import Feedback
from connectors.gateway.handoff.hook import HandoffHook
from connectors.gateway.handoff.hours import ServiceHours
from connectors.gateway.handoff.service import HandoffService
from connectors.gateway.ratelimit import RateLimits
from connectors.gateway.recorder import NO_EVENTS, EventRecorder
from connectors.gateway.settings import Settings
from knowledge_base.markup import plain_text

log = logging.getLogger("xiaoshen.handoff")
ROOT = Path(__file__).resolve().parents[3]


def _path(name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else ROOT / path


def load_canned(settings: Settings) -> list[str]:
    path = _path(settings.canned_replies_file)
    if not path.exists():
        return []
    return [plain_text(str(x)) for x in yaml.safe_load(path.read_text(encoding="utf-8")) or []]


@dataclass
class Handoff:
    accounts: Accounts
    service: HandoffService
    feedback: Feedback
    hook: HandoffHook
    canned: list[str]

    @classmethod
    def build(cls, settings: Settings, redis: aioredis.Redis, store: ConversationStore,
              outbox: Outbox, limits: RateLimits | None = None,
              recorder: EventRecorder = NO_EVENTS,
              on_bad_rating: Callable[[str, str], Awaitable[None]] | None = None) -> Handoff:
        """Wire accounts, the handoff service and its turn hook (ChatService takes the hook)."""
        accounts = Accounts(redis, settings.token_ttl_s)
        hours_file = _path(settings.service_hours_file)
        hours = ServiceHours.from_yaml(hours_file) if hours_file.exists() else ServiceHours.always()
        service = HandoffService(redis, store, outbox, accounts, hours,
                                 max_concurrent=settings.handoff_max_concurrent,
                                 default_handle_s=settings.handoff_default_handle_s, recorder=recorder)
        feedback = Feedback(redis, service.events, recorder)
        hook = HandoffHook(service, feedback, limits or RateLimits(False), on_bad_rating)
        return cls(accounts, service, feedback, hook, load_canned(settings))

    async def start(self, settings: Settings) -> None:
        """Create the first admin if needed; a Redis outage only postpones it to the first login."""
        try:
            await self.accounts.bootstrap(settings.xs_admin_user,
                                          settings.xs_admin_password.get_secret_value())
        except RedisError as exc:
            log.warning("admin bootstrap postponed: %s", exc)

    async def close(self) -> None:
        await self.service.close_background()
