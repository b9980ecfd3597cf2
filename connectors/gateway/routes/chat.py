"""POST /api/chat — the channel-neutral chat API of ../shared/CONTRACT.md."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, StrictStr, StringConstraints
from redis.exceptions import RedisError

from connectors.gateway.chat import ChatReply
from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.health import outage_error
from connectors.gateway.rasa_client import UpstreamError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["chat"])

SenderId = Annotated[StrictStr, StringConstraints(min_length=1, max_length=128)]


class ChatIn(BaseModel):
    """One user message. Types are strict: a number is not silently taken as text."""

    model_config = ConfigDict(extra="ignore")

    sender_id: SenderId
    message: StrictStr
    channel: Literal["web", "widget", "wechat", "api"] = "web"


@router.post("/chat", response_model=ChatReply)
async def chat(body: ChatIn, state: StateDep) -> ChatReply:
    """Send one message to 小申 and get its reply plus the structured turn block."""
    text = body.message.replace("\x00", "").strip()
    if not text:
        raise ApiError(422, "empty_message", "消息不能为空 / The message is empty.")
    limit = state.settings.max_message_chars
    if len(text) > limit:
        raise ApiError(
            422, "message_too_long",
            f"消息过长，最多 {limit} 个字符 / The message is longer than {limit} characters.",
        )
    if not body.sender_id.strip():
        raise ApiError(422, "invalid_request", "sender_id 不能为空 / sender_id is empty.")
    try:
        return await state.chat.turn(body.sender_id, text, body.channel)
    except UpstreamError as exc:
        log.warning("turn failed: %s", exc)
        raise await outage_error(state, exc) from exc


class HistoryOut(BaseModel):
    sender_id: str
    messages: list[dict[str, Any]]


@router.get("/chat/{sender_id}/messages", response_model=HistoryOut)
async def history(sender_id: SenderId, state: StateDep,
                  after: Annotated[int, Query(ge=0)] = 0) -> HistoryOut:
    """The conversation's messages after sequence number `after`, oldest first.

    How a client without a push channel (the plain API) receives an agent's replies, and how the
    widget restores a conversation after a reload or reconnect without duplicates.
    """
    try:
        entries = await state.store.history(sender_id, after)
    except RedisError as exc:
        raise await outage_error(state, UpstreamError("redis", str(exc))) from exc
    return HistoryOut(sender_id=sender_id, messages=[dict(e) for e in entries])
