"""One chat turn for any channel: forward to Rasa, shape the messages, build the turn block."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from connectors.gateway.conversations import ConversationStore, Entry, Role
from connectors.gateway.rasa_client import RasaClient, UpstreamError

log = logging.getLogger("xiaoshen.turn")

SMALLTALK_INTENTS = frozenset({"greet", "goodbye", "thank", "bot_challenge"})
HANDOFF_INTENTS = frozenset({"ask_human"})


class Button(BaseModel):
    title: str
    payload: str


class BotMessage(BaseModel):
    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)


class Turn(BaseModel):
    outcome: str
    service_id: str | None = None
    section: str | None = None
    candidates: list[str] = Field(default_factory=list)
    intent: str | None = None
    confidence: float = 0.0
    handoff: str = "none"


class ChatReply(BaseModel):
    sender_id: str
    messages: list[BotMessage]
    turn: Turn


def shape_messages(raw: list[dict[str, Any]]) -> tuple[list[BotMessage], dict[str, Any]]:
    """Rasa's REST messages as contract messages, and the action's turn block (if any).

    Actions send the turn as a custom message {"turn": {...}, ...}; it is taken out, and any other
    custom data is attached to the text message before it so a widget can render one card.
    """
    messages: list[BotMessage] = []
    turn: dict[str, Any] = {}
    for item in raw:
        custom = dict(item.get("custom") or {})
        if "turn" in custom:
            turn = dict(custom.pop("turn") or {})
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


def build_turn(action_turn: dict[str, Any], parse: dict[str, Any]) -> Turn:
    """The contract's turn block from the action's report and Rasa's NLU parse."""
    intent = (parse.get("intent") or {}).get("name")
    nlu_conf = float((parse.get("intent") or {}).get("confidence") or 0.0)
    outcome = action_turn.get("outcome")
    if outcome is None:
        if intent in SMALLTALK_INTENTS:
            outcome = "smalltalk"
        elif intent in HANDOFF_INTENTS:
            outcome = "handoff"
        else:
            outcome = "out_of_scope"
    answered = outcome in ("answer", "declaration")
    return Turn(
        outcome=outcome,
        service_id=action_turn.get("service_id") if answered else None,
        section=action_turn.get("section") if answered else None,
        candidates=list(action_turn.get("candidates") or []),
        intent=intent,
        confidence=float(action_turn.get("confidence", nlu_conf)),
        handoff=str(action_turn.get("handoff") or "none"),
    )


class TurnHook(Protocol):
    """Something that may take over a turn (handoff: an agent holds the conversation) or act on
    the bot's reply (handoff: the user asked for a person and is queued)."""

    async def before_turn(self, sender_id: str, text: str, channel: str) -> ChatReply | None:
        """A reply that replaces the bot's, or None to let the bot answer."""

    async def after_turn(self, sender_id: str, text: str, channel: str, reply: ChatReply) -> ChatReply:
        """The reply to send, possibly changed."""


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
        channel = (await self.store.meta(sender_id)).get("channel", "")
        pusher = self._pushers.get(channel)
        if pusher is not None:
            try:
                await pusher(sender_id, entry)
            except Exception:  # the message is stored; the channel catches up on reconnect
                log.exception("push failed", extra={"fields": {"sender_id": sender_id, "channel": channel}})
        return entry

    async def signal(self, sender_id: str, custom: dict[str, Any]) -> None:
        """Push something transient (typing, a queue-position update) without storing it."""
        channel = (await self.store.meta(sender_id)).get("channel", "")
        pusher = self._pushers.get(channel)
        if pusher is not None:
            entry: Entry = {"seq": 0, "ts": time.time(), "role": "system", "text": None,
                            "buttons": [], "custom": custom}
            try:
                await pusher(sender_id, entry)
            except Exception:
                log.exception("signal failed", extra={"fields": {"sender_id": sender_id}})


class ChatService:
    """Runs turns through Rasa; every channel (web, widget, WeChat) calls this."""

    def __init__(self, rasa: RasaClient, store: ConversationStore) -> None:
        self.rasa = rasa
        self.store = store
        self.hooks: list[TurnHook] = []

    async def turn(self, sender_id: str, message: str, channel: str) -> ChatReply:
        """One user message in, the reply out (from the bot, or from a hook such as handoff).

        Every message is stored in the conversation's transcript, in order. Raises UpstreamError
        on outages (component "redis" or "rasa").
        """
        try:
            await self.store.touch(sender_id, channel)
            await self.store.append(sender_id, "user", message)
            reply = None
            for hook in self.hooks:
                reply = await hook.before_turn(sender_id, message, channel)
                if reply is not None:
                    break
            if reply is None:
                reply = await self._bot_turn(sender_id, message, channel)
                for hook in self.hooks:
                    reply = await hook.after_turn(sender_id, message, channel, reply)
            for m in reply.messages:
                await self.store.append(sender_id, "bot", m.text,
                                        buttons=[b.model_dump() for b in m.buttons], custom=m.custom)
        except RedisError as exc:
            raise UpstreamError("redis", f"{type(exc).__name__}: {exc}") from exc
        return reply

    async def _bot_turn(self, sender_id: str, message: str, channel: str) -> ChatReply:
        started = time.perf_counter()
        raw = await self.rasa.send(sender_id, message, {"channel": channel})
        if not raw:
            # Every turn of ours says something. Rasa's REST channel answers 200 with no messages
            # when the turn failed inside it (e.g. the Redis lock store is unreachable).
            raise UpstreamError("rasa", "the turn produced no reply")
        try:
            parse = (await self.rasa.latest_parse(sender_id))["latest_message"]
        except UpstreamError:
            # The reply itself arrived; a missing parse only costs the intent in the turn block.
            log.warning("tracker unavailable after turn", extra={"fields": {"sender_id": sender_id}})
            parse = {}
        messages, action_turn = shape_messages(raw)
        turn = build_turn(action_turn, parse)
        log.info(
            "turn",
            extra={"fields": {
                "sender_id": sender_id,
                "channel": channel,
                "text": message,
                "intent": turn.intent,
                "confidence": round(turn.confidence, 3),
                "outcome": turn.outcome,
                "service_id": turn.service_id,
                "section": turn.section,
                "handoff": turn.handoff,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }},
        )
        return ChatReply(sender_id=sender_id, messages=messages, turn=turn)
