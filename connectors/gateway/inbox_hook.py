"""Feeding the editors' inbox from real traffic, after each turn, without slowing the turn down.

A turn goes to the inbox when the bot said it cannot answer (out_of_scope), asked which service
was meant (clarify), answered with low confidence, or the user corrected it (不对 / 我问的是 …).
The question is masked and filed in a worker thread; a database outage is logged, never felt by
the user. A 差评 files the question it judged (`bad_rating`): the user's last question the bot
answered itself before a person took over (handoff.hook calls `bad_rating`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Final

from redis.asyncio.client import Pipeline

from connectors.gateway.chat import TurnContext
from connectors.gateway.conversations import ConversationStore, Entry
from contract.turn import ANSWER, CLARIFY, OUT_OF_SCOPE, ChatReply
from records.inbox import SqlInbox

log = logging.getLogger(__name__)
CORRECTION: Final = re.compile(r"不是(?:这个|这|我要的|我问的)|不对|答非所问|我问的是|没回答我|说的不是")


def reason_of(text: str, reply: ChatReply, low_confidence: float) -> str | None:
    """Why this turn belongs in the inbox, or None."""
    turn = reply.turn
    if text.startswith("/"):  # a button's payload, not words
        return None
    if CORRECTION.search(text):
        return "correction"
    if turn.outcome == OUT_OF_SCOPE:
        return "out_of_scope"
    if turn.outcome == CLARIFY:
        return "clarify"
    if turn.outcome == ANSWER and turn.confidence < low_confidence:
        return "low_confidence"
    return None


def judged_question(history: list[Entry]) -> str | None:
    """The question a 差评 judges: the last one the bot answered itself (not a handoff request,
    not a button) before the first agent reply, or the last such question at all."""
    end = next((i for i, e in enumerate(history) if e.get("role") == "agent"), len(history))
    for i in range(end - 1, -1, -1):
        entry = history[i]
        text = (entry.get("text") or "").strip()
        if entry.get("role") != "user" or not text or text.startswith("/"):
            continue
        reply = history[i + 1] if i + 1 < len(history) else None
        if reply is not None and reply.get("role") == "bot" and "handoff" not in (reply.get("custom") or {}):
            return text
    return None


class InboxHook:
    def __init__(self, inbox: SqlInbox, low_confidence: float,
                 store: ConversationStore | None = None) -> None:
        self.inbox = inbox
        self.low_confidence = low_confidence
        self.store = store
        self._pending: set[asyncio.Task[None]] = set()

    def prefetch(self, pipe: Pipeline, sender_id: str) -> int:
        return 0

    async def before_turn(self, ctx: TurnContext) -> ChatReply | None:
        return None

    async def after_turn(self, ctx: TurnContext, reply: ChatReply) -> ChatReply:
        reason = reason_of(ctx.text.strip(), reply, self.low_confidence)
        if reason is not None:
            self._later(self._file(ctx.text, reason, ctx.channel, ctx.sender_id))
        return reply

    async def bad_rating(self, sender_id: str, channel: str) -> None:
        """A 差评: file the question it judged (looked up and filed in the background)."""
        self._later(self._file_judged(sender_id, channel))

    def _later(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _file_judged(self, sender_id: str, channel: str) -> None:
        if self.store is None:
            return
        try:
            question = judged_question(await self.store.history(sender_id))
        except Exception as exc:
            log.warning("the question a 差评 judged could not be read: %s", exc)
            return
        if question is not None:
            await self._file(question, "bad_rating", channel, sender_id)

    async def _file(self, text: str, reason: str, channel: str, sender_id: str) -> None:
        try:
            await asyncio.to_thread(self.inbox.record, text, reason, channel=channel, sender_id=sender_id)
        except Exception as exc:
            log.warning("a question was not filed in the editors' inbox: %s", exc)

    async def drain(self) -> None:
        """Wait for questions still being filed (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
