"""One chat turn for any channel: check the input, forward to Rasa, relay the action's turn block.

Every channel (the chat API, the widget's socket.io, WeChat) calls `ChatService.turn`; the input
rules, the per-conversation lock across processes and the transcript live here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from connectors.gateway.conversations import ConversationStore, Entry, Role, new_entry
from connectors.gateway.errors import ApiError, UpstreamError
from connectors.gateway.rasa_client import RasaClient
from connectors.gateway.recorder import NO_EVENTS, EventRecorder
from contract.turn import TURN_KEY, BotMessage, Button, ChatReply, Turn
from records import events as ev

log = logging.getLogger("xiaoshen.turn")

# Control characters other than tab and newline are dropped from user text (they are never typed,
# and some break logs or terminals); what is left must be non-empty and within the length limit.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
LOCK_POLL_S: Final = 0.01


def clean_message(text: Any, limit: int) -> str:
    """The user's text as a turn takes it, or a 422 ApiError saying what is wrong with it."""
    if not isinstance(text, str):
        raise ApiError(422, "invalid_request", "消息必须是文本 / The message must be text.")
    cleaned = _CONTROL.sub("", text).strip()
    if not cleaned:
        raise ApiError(422, "empty_message", "消息不能为空 / The message is empty.")
    if len(cleaned) > limit:
        raise ApiError(422, "message_too_long",
                       f"消息过长，最多 {limit} 个字符 / The message is longer than {limit} characters.")
    return cleaned


def shape_messages(raw: list[dict[str, Any]]) -> tuple[list[BotMessage], dict[str, Any]]:
    """Rasa's REST messages as contract messages, and the action's turn block (if any).

    Actions send the turn as a custom message {"turn": {...}, ...}; it is taken out, and any other
    custom data is attached to the text message before it so a widget can render one card.
    """
    messages: list[BotMessage] = []
    turn: dict[str, Any] = {}
    for item in raw:
        custom = dict(item.get("custom") or {})
        if TURN_KEY in custom:
            turn = dict(custom.pop(TURN_KEY) or {})
        text = item.get("text")
        buttons = [Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
                   for b in item.get("buttons") or []]
        if text is None and not buttons:
            if custom and messages:
                messages[-1].custom.update(custom)
            elif custom:
                messages.append(BotMessage(custom=custom))
            continue
        messages.append(BotMessage(text=text, buttons=buttons, custom=custom))
    return messages, turn


@dataclass
class TurnContext:
    """One user message on its way through a turn (what hooks see)."""

    sender_id: str
    text: str
    channel: str
    entry: Entry  # the user's message as stored, with its seq
    prefetched: list[Any] = field(default_factory=list)  # results of the hook's prefetch()
    client: str = ""  # the client's address, for per-address limits ("" when the channel has none)


class TurnHook(Protocol):
    """Something that may take over a turn (handoff: an agent holds the conversation) or act on
    the bot's reply (handoff: the user asked for a person and is queued)."""

    def prefetch(self, pipe: Pipeline, sender_id: str) -> int:
        """Queue the reads this hook needs on the turn's first round trip; how many commands."""

    async def before_turn(self, ctx: TurnContext) -> ChatReply | None:
        """A reply that replaces the bot's, or None to let the bot answer."""

    async def after_turn(self, ctx: TurnContext, reply: ChatReply) -> ChatReply:
        """The reply to send, possibly changed."""


@dataclass
class Turned:
    """A finished turn: the reply, and the transcript entries it stored (user's first)."""

    reply: ChatReply
    user: Entry
    bot: list[Entry]


Pusher = Callable[[str, Entry], Awaitable[None]]


class Outbox:
    """Messages that reach a user outside a request/response turn (an agent's reply, a queue
    update): stored in the transcript, then pushed through the user's channel if it can push.
    Channels register their pusher (socket.io, WeChat's customer-service API); the plain API
    channel polls GET /api/chat/{sender_id}/messages instead."""

    def __init__(self, store: ConversationStore) -> None:
        self.store = store
        self._pushers: dict[str, Pusher] = {}

    def register(self, channel: str, pusher: Pusher) -> None:
        self._pushers[channel] = pusher

    async def send(self, sender_id: str, role: Role, text: str | None, *,
                   buttons: list[dict[str, str]] | None = None,
                   custom: dict[str, Any] | None = None, author: str | None = None) -> Entry:
        entry = await self.store.append(sender_id, role, text, buttons=buttons, custom=custom,
                                        author=author)
        await self._push(sender_id, entry)
        return entry

    async def signal(self, sender_id: str, custom: dict[str, Any]) -> None:
        """Push something transient (typing, a queue-position update) without storing it."""
        entry: Entry = {"seq": 0, "ts": time.time(), "role": "system", "text": None,
                        "buttons": [], "custom": custom}
        await self._push(sender_id, entry)

    async def _push(self, sender_id: str, entry: Entry) -> None:
        channel = (await self.store.meta(sender_id)).get("channel", "")
        pusher = self._pushers.get(channel)
        if pusher is None:
            return
        try:
            await pusher(sender_id, entry)
        except Exception:  # the message is stored; the channel catches up on reconnect
            log.exception("push failed", extra={"fields": {"sender_id": sender_id, "channel": channel}})


class TurnLock:
    """One turn at a time per conversation, across every gateway process: SET NX PX, taken by the
    turn's first script together with the user's entry (conversations.BEGIN) and released by a
    checked delete riding the turn's last pipeline. Ours rather than redis-py's Lock so that both
    share the turn's round trips; it expires after `ttl_s`, so a crashed process cannot block a
    conversation."""

    RELEASE: Final = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
                      "return 0")

    def __init__(self, sender_id: str, ttl_s: float) -> None:
        self.key = f"xs:conv:{sender_id}:turn"
        self.ttl_ms = int(ttl_s * 1000)
        self.token = secrets.token_hex(8)
        self.held = False

    @property
    def spec(self) -> tuple[str, str, int]:
        return self.key, self.token, self.ttl_ms

    def busy(self) -> ApiError:
        return ApiError(503, "conversation_busy",
                        "上一条消息还在处理中，请稍后再发 / The previous message is still being "
                        "processed; please retry shortly.")

    def queue_release(self, pipe: Pipeline) -> None:
        pipe.eval(self.RELEASE, 1, self.key, self.token)
        self.held = False

    async def release(self, redis: Any) -> None:
        if self.held:
            self.held = False
            if not await redis.eval(self.RELEASE, 1, self.key, self.token):
                log.warning("turn lock expired", extra={"fields": {"key": self.key}})


OVERLOADED_RETRY_S: Final = 5


class ChatService:
    """Runs turns through Rasa, one at a time per conversation across every gateway process."""

    def __init__(self, rasa: RasaClient, store: ConversationStore, *, max_message_chars: int,
                 turn_timeout_s: float, hooks: list[TurnHook] | None = None,
                 max_in_flight: int = 64, events: EventRecorder = NO_EVENTS) -> None:
        self.rasa = rasa
        self.events = events  # each finished turn is recorded for the service figures
        self.store = store
        self.max_message_chars = max_message_chars
        self.turn_timeout_s = turn_timeout_s
        self.hooks: list[TurnHook] = list(hooks or [])
        # Beyond this many turns under way in this process, a new one is refused at once (503,
        # Retry-After) instead of queueing behind them for tens of seconds (docs/benchmarks.md, "Load").
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def turn(self, sender_id: str, message: Any, channel: str, *, client: str = "") -> Turned:
        """One user message in, the reply out (from the bot, or from a hook such as handoff).

        Raises ApiError 422 for a message the rules refuse (nothing is stored then) and
        UpstreamError on outages (component "redis" or "rasa").
        """
        text = clean_message(message, self.max_message_chars)
        if self.in_flight >= self.max_in_flight:
            log.warning("turn refused: %d turns under way", self.in_flight)
            raise ApiError(503, "overloaded", "现在咨询的人太多，小申忙不过来，请过几秒再发一次；"
                           "急事可拨打 12345 / Too many questions right now; please send it again "
                           "in a few seconds.",
                           headers={"Retry-After": str(OVERLOADED_RETRY_S)})
        self.in_flight += 1
        started = time.perf_counter()
        lock = TurnLock(sender_id, self.turn_timeout_s + 5)
        try:
            try:
                turned = await self._locked_turn(sender_id, text, channel, lock, client)
                self._record(sender_id, channel, turned.reply.turn, time.perf_counter() - started)
                return turned
            finally:
                await lock.release(self.store.redis)  # a no-op once the final write released it
        except RedisError as exc:
            raise UpstreamError("redis", f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.in_flight -= 1

    async def _locked_turn(self, sender_id: str, text: str, channel: str, lock: TurnLock,
                           client: str) -> Turned:
        entry = new_entry("user", text)
        # The lock, the user's entry and the hooks' reads share the turn's first round trip; while
        # another turn of the conversation holds the lock, nothing is written and it is tried again.
        deadline = time.monotonic() + lock.ttl_ms / 1000
        while True:
            async with self.store.redis.pipeline(transaction=False) as pipe:
                self.store.queue_begin(pipe, sender_id, channel, entry, lock.spec)
                counts = [hook.prefetch(pipe, sender_id) for hook in self.hooks]
                results = await pipe.execute()
            user = self.store.begun(entry, results)
            if user is not None:
                lock.held = True
                break
            if time.monotonic() > deadline:
                raise lock.busy()
            await asyncio.sleep(LOCK_POLL_S)
        ctx = TurnContext(sender_id, text, channel, user, client=client)
        offset = self.store.BEGIN_RESULTS
        reply = None
        for hook, count in zip(self.hooks, counts, strict=True):
            ctx.prefetched = results[offset:offset + count]
            offset += count
            reply = await hook.before_turn(ctx)
            if reply is not None:
                break
        if reply is None:
            reply = await self._bot_turn(ctx)
            for hook in self.hooks:
                reply = await hook.after_turn(ctx, reply)
        entries = [new_entry("bot", m.text, buttons=[b.model_dump() for b in m.buttons], custom=m.custom)
                   for m in reply.messages]
        # The replies and the lock's release share the turn's last round trip.
        async with self.store.redis.pipeline(transaction=False) as pipe:
            self.store.queue_append(pipe, sender_id, entries)
            lock.queue_release(pipe)
            results = await pipe.execute()
        bot = self.store.appended(entries, results[0]) if entries else []
        return Turned(reply, ctx.entry, bot)

    def _record(self, sender_id: str, channel: str, turn: Turn, seconds: float) -> None:
        """The turn (and the declaration step it was) as events of record; no text."""
        self.events.emit(ev.Event(ev.TURN, sender_id, channel, turn.service_id, turn.section, turn.outcome,
                                  value=round(seconds * 1000, 1)))
        step = turn.declaration
        if step and step.get("id"):
            self.events.emit(ev.Event(ev.DECLARATION_STEP, sender_id, channel, turn.service_id,
                                      step.get("field"), str(step.get("status") or ""), ref=str(step["id"])))

    async def _bot_turn(self, ctx: TurnContext) -> ChatReply:
        started = time.perf_counter()
        raw = await self.rasa.send(ctx.sender_id, ctx.text)
        if not raw:
            # Every turn of ours says something. Rasa's REST channel answers 200 with no messages
            # when the turn failed inside it (e.g. the Redis lock store is unreachable).
            raise UpstreamError("rasa", "the turn produced no reply")
        messages, block = shape_messages(raw)
        if not block:
            log.warning("turn without a turn block", extra={"fields": {"sender_id": ctx.sender_id}})
        turn = Turn.from_action(block)
        log.info(
            "turn",
            extra={"fields": {
                "sender_id": ctx.sender_id,
                "channel": ctx.channel,
                "text": ctx.text,
                "intent": turn.intent,
                "confidence": round(turn.confidence, 3),
                "outcome": turn.outcome,
                "service_id": turn.service_id,
                "section": turn.section,
                "handoff": turn.handoff,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }},
        )
        return ChatReply(sender_id=ctx.sender_id, messages=messages, turn=turn)
