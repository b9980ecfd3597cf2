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
from connectors.gateway.inbox_hook import InboxHook
from connectors.gateway.owners import Owners
from connectors.gateway.rasa_client import RasaClient
from connectors.gateway.ratelimit import RateLimits
from connectors.gateway.recorder import EventRecorder
from connectors.gateway.settings import Settings
from connectors.gateway.wechat.service import WeChatService
from declarations.catalog import Catalog, load_catalog
from knowledge_base.normalize import tokenize
from knowledge_base.overlay import AsyncOverlay, seed_guides
from knowledge_base.rules import rules_json
from records.db import Database
from records.declarations import DeclarationStore, SqlDeclarationStore
from records.events import SqlEvents
from records.guides import SqlGuideRepository
from records.inbox import SqlInbox
from records.stats import Stats
from records.synonyms import SqlSynonyms

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
    guides: SqlGuideRepository  # the guides of record (records/guides.py); Redis is their live channel
    inbox: SqlInbox  # questions 小申 could not answer well (records/inbox.py)
    synonyms: SqlSynonyms  # editors' synonym groups (records/synonyms.py), applied at once
    recorder: EventRecorder  # events of record for the service figures (recorder.py)
    stats: Stats  # the service figures (records/stats.py)
    database: Database | None = None  # the database of record, if we built it (we dispose of it)
    wechat: WeChatService = field(init=False)
    _sync_task: asyncio.Task[None] | None = field(default=None, init=False)
    _warm_task: asyncio.Task[None] | None = field(default=None, init=False)
    _release_taken: bool = field(default=False, init=False)  # this process's guide files are in

    @classmethod
    def create(cls, settings: Settings, *, redis: aioredis.Redis | None = None,
               rasa: RasaClient | None = None, http: httpx.AsyncClient | None = None,
               declarations: DeclarationStore | None = None,
               guides: SqlGuideRepository | None = None) -> AppState:
        """Wire every part from settings; any client given is used instead of a new one."""
        rasa = rasa or RasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_s)
        redis = redis or redis_client(settings)
        http = http or httpx.AsyncClient(timeout=settings.health_timeout_s)
        store = ConversationStore(redis)
        outbox = Outbox(store)
        limits = RateLimits.from_settings(settings)
        database = None
        if declarations is None or guides is None:  # connects lazily: opened by the first query
            database = Database(settings.xs_database_url)
            declarations = declarations or SqlDeclarationStore(database)
            guides = guides or SqlGuideRepository(database)
        recorder = EventRecorder(SqlEvents(guides.db))
        inbox = SqlInbox(guides.db, tokenize)
        inbox_hook = InboxHook(inbox, settings.inbox_low_confidence, store)
        handoff = Handoff.build(settings, redis, store, outbox, limits, recorder,
                                on_bad_rating=inbox_hook.bad_rating)
        # The handoff hook first: a conversation a person holds never reaches Rasa or the inbox.
        chat = ChatService(rasa, store, max_message_chars=settings.max_message_chars,
                           turn_timeout_s=settings.rasa_timeout_s, hooks=[handoff.hook, inbox_hook],
                           max_in_flight=settings.max_turns_in_flight, events=recorder)
        state = cls(settings, rasa, redis, http, store, chat, outbox, handoff, Owners(redis), limits,
                    declarations, load_catalog(), guides, inbox, SqlSynonyms(guides.db), recorder,
                    Stats(guides.db), database)
        state.wechat = WeChatService(state)
        outbox.register("wechat", state.wechat.push)
        return state

    async def start(self) -> None:
        """Bring the database of record to the newest schema, seed the guides of record from the
        shipped files when it has none, and keep the live channel in step (chat works meanwhile)."""
        try:
            if self.database is not None:
                await asyncio.to_thread(self.database.migrate)
        except Exception:  # a database outage must not keep the chat from starting
            log.exception("the database of record could not be migrated")
        await self.sync_guides()  # seeds an empty database first
        # The inbox groups questions by their tokens: load the segmentation dictionary now (~1 s of
        # CPU), not on the first unanswered turn, where it slowed the turns and writes beside it.
        await asyncio.to_thread(tokenize, "预热")
        self.wechat.start()  # answers the pushes in the inbox stream, those left by a dead gateway too
        if self.settings.kb_sync_interval_s > 0:
            self._sync_task = asyncio.create_task(self._sync_loop())
        self._warm_task = asyncio.create_task(self._warm_stats())

    async def seed_guides(self) -> int:
        """An empty database of record starts from what the chat answers with today: the shipped
        files, with any edits an earlier version kept in the Redis overlay. A database that has
        guides takes in this release of the files once (`SqlGuideRepository.release`)."""
        if await asyncio.to_thread(self.guides.count):
            await self._take_release()
            return 0
        files = await asyncio.to_thread(seed_guides)  # parsed once per process
        guides = [g for _, g in sorted(files.items())]
        try:
            view = (await AsyncOverlay(self.redis).snapshot()).merged(files)
            guides = [e.guide for _, e in sorted(view.items())]
        except Exception as exc:  # Redis down: the files alone
            log.warning("seeding from the guide files only (overlay unreadable: %s)", exc)

        def progress(done: int, total: int) -> None:
            if done == total or done % 20 == 0:
                log.info("seeding the guides of record: %d/%d", done, total)

        seeded = await asyncio.to_thread(self.guides.seed, guides, progress=progress)
        log.info("seeded %d guides of record from knowledge_base/guides", seeded)
        self._release_taken = True
        return seeded

    async def _take_release(self) -> None:
        if self._release_taken:
            return
        files = await asyncio.to_thread(seed_guides)
        report = await asyncio.to_thread(self.guides.release, [g for _, g in sorted(files.items())])
        self._release_taken = True
        log.info("guide files of this release: %d updated, %d added, %d offered for review (edited here)%s",
                 len(report.updated), len(report.added), len(report.offered),
                 f"; no longer shipped, kept: {', '.join(report.missing)}" if report.missing else "")

    async def sync_guides(self, *, by: str = "system") -> tuple[int, bool]:
        """Publish scheduled versions that are due, then mirror the published guides and the editors'
        rules (synonyms, out-of-scope marks) to the live channel. Errors are logged (the next round
        retries); (overlay version, changed) or (0, False)."""
        try:
            await self.seed_guides()  # a database that was down at start is seeded when it is back
            await asyncio.to_thread(self.guides.publish_due)
            desired = await asyncio.to_thread(self.guides.published)
            overlay = AsyncOverlay(self.redis)
            rules = rules_json(await asyncio.to_thread(self.synonyms.terms),
                               await asyncio.to_thread(self.inbox.out_of_scope_questions))
            rules_version, rules_changed = await overlay.mirror_rules(rules)
            if not desired:  # never empty the chat's guides because the record reads empty
                log.warning("no published guide of record: the live channel is left as it is")
                return rules_version, rules_changed
            version, changed = await overlay.mirror(desired, by=by)
            return max(version, rules_version), changed or rules_changed
        except Exception as exc:
            log.warning("guides not mirrored to the live channel now: %s", exc)
            return 0, False

    async def _warm_stats(self) -> None:
        """Compute the service figures of the last weeks' ended days once, in the background."""
        try:
            days = await asyncio.to_thread(self.stats.warm)
            log.info("service figures ready for the last %d days", days)
        except Exception as exc:  # the database may be down: the first look computes them instead
            log.warning("service figures not prepared now: %s", exc)

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.kb_sync_interval_s)
            await self.sync_guides(by="scheduler")

    async def close(self) -> None:
        for task in (self._sync_task, self._warm_task):
            if task is not None:
                task.cancel()
        await self.wechat.close()
        await self.handoff.close()
        await self.recorder.close()  # before the database goes
        if self.database is not None:
            self.database.dispose()
        await self.rasa.close()
        await self.http.aclose()
        await self.redis.aclose()
