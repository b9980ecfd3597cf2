"""Everything the gateway holds, built by one factory; each client can be passed in (tests)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import httpx
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from connectors.gateway.chat import ChatService, Outbox
from connectors.gateway.conversations import ConversationStore
from connectors.gateway.handoff.wiring import Handoff
from connectors.gateway.owners import Owners
from connectors.gateway.rasa_client import RasaClient
from connectors.gateway.ratelimit import RateLimits
from connectors.gateway.settings import Settings
from connectors.gateway.wechat.service import WeChatService
from declarations.catalog import Catalog, load_catalog
from records.db import Database
from records.declarations import DeclarationStore, SqlDeclarationStore

log = logging.getLogger(__name__)


def redis_client(settings: Settings) -> aioredis.Redis:
    """Short timeouts: an outage must become a 503 quickly, never a hung request. A connection
    that dropped (a pooled socket the server closed, a restart) is retried twice on a fresh one
    before the request fails."""
    return aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=2, socket_timeout=5, decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


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
    owners: Owners  # conversation tokens (owners.py)
    limits: RateLimits  # rate limits (ratelimit.py)
    declarations: DeclarationStore  # smart declarations' records (records/declarations.py)
    declaration_catalog: Catalog
    database: Database | None = None  # the database of record behind `declarations`, if we built it
    wechat: WeChatService = field(init=False)

    @classmethod
    def create(cls, settings: Settings, *, redis: aioredis.Redis | None = None,
               rasa: RasaClient | None = None, http: httpx.AsyncClient | None = None,
               declarations: DeclarationStore | None = None) -> AppState:
        """Wire every part from settings; any client given is used instead of a new one."""
        rasa = rasa or RasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_s)
        redis = redis or redis_client(settings)
        http = http or httpx.AsyncClient(timeout=settings.health_timeout_s)
        store = ConversationStore(redis)
        outbox = Outbox(store)
        limits = RateLimits.from_settings(settings)
        handoff = Handoff.build(settings, redis, store, outbox, limits)
        chat = ChatService(rasa, store, max_message_chars=settings.max_message_chars,
                           turn_timeout_s=settings.rasa_timeout_s, hooks=[handoff.hook])
        database = None
        if declarations is None:  # connects lazily: the database is opened by the first query
            database = Database(settings.xs_database_url)
            declarations = SqlDeclarationStore(database)
        state = cls(settings, rasa, redis, http, store, chat, outbox, handoff, Owners(redis), limits,
                    declarations, load_catalog(), database)
        state.wechat = WeChatService(state)
        outbox.register("wechat", state.wechat.push)
        return state

    async def start(self) -> None:
        """Bring the database of record to the newest schema (chat works without it meanwhile)."""
        if self.database is not None:
            try:
                await asyncio.to_thread(self.database.migrate)
            except Exception:  # a database outage must not keep the chat from starting
                log.exception("the database of record could not be migrated")

    async def close(self) -> None:
        if self.database is not None:
            self.database.dispose()
        await self.wechat.close()
        await self.handoff.close()
        await self.rasa.close()
        await self.http.aclose()
        await self.redis.aclose()
