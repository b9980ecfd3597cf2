"""Feeding the editors' inbox from real traffic, after each turn, without slowing the turn down.

A turn goes to the inbox when the bot said it cannot answer (out_of_scope), asked which service
was meant (clarify), answered with low confidence, or the user corrected it (不对 / 我问的是 …).
The question is masked and filed in a worker thread; a database outage is logged, never felt by
the user. 差评 are filed by the rating path (handoff.feedback) with the question they judged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Final

from redis.asyncio.client import Pipeline

from connectors.gateway.chat import TurnContext
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


class InboxHook:
    def __init__(self, inbox: SqlInbox, low_confidence: float) -> None:
        self.inbox = inbox
        self.low_confidence = low_confidence
        self._pending: set[asyncio.Task[None]] = set()

    def prefetch(self, pipe: Pipeline, sender_id: str) -> int:
        return 0

    async def before_turn(self, ctx: TurnContext) -> ChatReply | None:
        return None

    async def after_turn(self, ctx: TurnContext, reply: ChatReply) -> ChatReply:
        reason = reason_of(ctx.text.strip(), reply, self.low_confidence)
        if reason is not None:
            task = asyncio.create_task(self._file(ctx.text, reason, ctx.channel, ctx.sender_id))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return reply

    async def _file(self, text: str, reason: str, channel: str, sender_id: str) -> None:
        try:
            await asyncio.to_thread(self.inbox.record, text, reason, channel=channel, sender_id=sender_id)
        except Exception as exc:
            log.warning("a question was not filed in the editors' inbox: %s", exc)

    async def drain(self) -> None:
        """Wait for questions still being filed (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
