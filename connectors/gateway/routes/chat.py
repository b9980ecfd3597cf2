"""POST /api/chat — the channel-neutral chat API of ../shared/CONTRACT.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, StrictStr, StringConstraints

from connectors.gateway.deps import ClientAddress, ConversationToken, StateDep
from connectors.gateway.owners import WECHAT, wrong_channel
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
async def chat(body: ChatIn, state: StateDep, client: ClientAddress,
               token: ConversationToken = None) -> Response:
    """Send one message to 小申 and get its reply plus the structured turn block.

    The first turn of a new `sender_id` answers its `conversation_token`; every later turn sends it
    in `X-Conversation-Token` (403 otherwise, and nothing is stored). The message rules (empty, too
    long, control characters) are the chat service's, for every channel. Too many turns from one
    conversation or address answer 429 with Retry-After.
    """
    if body.channel == WECHAT:  # WeChat's users write through /wechat/miniprogram only
        raise wrong_channel(WECHAT)
    await state.limits.check("turn_ip", client)
    admission = await state.owners.admit(body.sender_id, body.channel, token)
    try:
        if admission.started:
            await state.limits.check("session_ip", client)
        await state.limits.check("turn_sender", body.sender_id)
        reply = (await state.chat.turn(body.sender_id, body.message, body.channel, client=client)).reply
    except BaseException:
        await state.owners.release(admission)  # a failed first turn leaves the id free again
        raise
    if admission.started:
        reply = reply.model_copy(update={"conversation_token": admission.token})
    # Serialised here: FastAPI would validate the reply against `response_model` once more first.
    return Response(reply.model_dump_json(), media_type="application/json")


class HistoryOut(BaseModel):
    sender_id: str
    messages: list[dict[str, Any]]


@router.get("/chat/{sender_id}/messages", response_model=HistoryOut)
async def history(sender_id: SenderId, state: StateDep, token: ConversationToken = None,
                  after: Annotated[int, Query(ge=0)] = 0) -> HistoryOut:
    """The conversation's messages after sequence number `after`, oldest first.

    How a client without a push channel (the plain API) receives an agent's replies, and how the
    widget restores a conversation after a reload or reconnect without duplicates. Needs the
    conversation's token (403 otherwise).
    """
    await state.owners.check(sender_id, token)
    entries = await state.store.history(sender_id, after)
    return HistoryOut(sender_id=sender_id, messages=[dict(e) for e in entries])
