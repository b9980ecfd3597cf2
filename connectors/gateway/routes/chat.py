"""POST /api/chat — the channel-neutral chat API of ../shared/CONTRACT.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, StrictStr, StringConstraints

from connectors.gateway.deps import StateDep
from contract.turn import ChatReply

router = APIRouter(prefix="/api", tags=["chat"])

SenderId = Annotated[StrictStr, StringConstraints(min_length=1, max_length=128, pattern=r"\S")]


class ChatIn(BaseModel):
    """One user message. Types are strict: a number is not silently taken as text."""

    model_config = ConfigDict(extra="ignore")

    sender_id: SenderId
    message: StrictStr
    channel: Literal["web", "widget", "wechat", "api"] = "web"


@router.post("/chat", response_model=ChatReply)
async def chat(body: ChatIn, state: StateDep) -> ChatReply:
    """Send one message to 小申 and get its reply plus the structured turn block.

    The message rules (empty, too long, control characters) are the chat service's, for every channel.
    """
    return (await state.chat.turn(body.sender_id, body.message, body.channel)).reply


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
    entries = await state.store.history(sender_id, after)
    return HistoryOut(sender_id=sender_id, messages=[dict(e) for e in entries])
