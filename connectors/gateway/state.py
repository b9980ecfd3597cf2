"""Long-lived clients owned by the app (created at start-up, closed at shutdown)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis

from connectors.gateway.chat import ChatService, Outbox
from connectors.gateway.conversations import ConversationStore
from connectors.gateway.handoff.wiring import Handoff
from connectors.gateway.rasa_client import RasaClient
from connectors.gateway.settings import Settings


@dataclass
class AppState:
    settings: Settings
    rasa: RasaClient
    redis: aioredis.Redis
    http: httpx.AsyncClient
    store: ConversationStore
    chat: ChatService
    outbox: Outbox
    handoff: Handoff  # accounts, the handoff queue and its turn hook (connectors/gateway/handoff/)

    @classmethod
    def create(cls, settings: Settings) -> AppState:
        rasa = RasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_s)
        # Short timeouts: an outage must become a 503 quickly, never a hung request.
        redis = aioredis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5, decode_responses=True
        )
        http = httpx.AsyncClient(timeout=settings.health_timeout_s)
        store = ConversationStore(redis)
        chat, outbox = ChatService(rasa, store), Outbox(store)
        handoff = Handoff.build(settings, redis, store, outbox, chat)
        return cls(settings, rasa, redis, http, store, chat, outbox, handoff)

    async def close(self) -> None:
        await self.handoff.close()
        await self.rasa.close()
        await self.http.aclose()
        await self.redis.aclose()
