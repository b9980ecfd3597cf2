"""The agents' (店小二) API and console: queue, claim, reply, typing, transfer, notes, close.

REST for actions, one WebSocket per console for live events (fanned out through Redis pub/sub, so
any gateway process serves any agent). The console page itself is static (static/agents/).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from redis.exceptions import RedisError

from connectors.gateway.auth import Principal
from connectors.gateway.channels.widget import allowed_origins, page_origin_allowed
from connectors.gateway.csp import own_sockets
from connectors.gateway.deps import AdminUser, AgentUser, ConversationToken, StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.handoff import keys
from connectors.gateway.handoff.hook import RECENT
from connectors.gateway.handoff.service import HandoffError
from connectors.gateway.redis_types import scored
from connectors.gateway.state import AppState
from declarations import interview as iv
from declarations.interview import Progress

log = logging.getLogger("xiaoshen.agents")
router = APIRouter(prefix="/api/agents", tags=["agents"])
user_router = APIRouter(prefix="/api/chat", tags=["chat"])
console_router = APIRouter(tags=["agents"], include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static" / "agents"
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' {sockets}; "
       "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
WS_AUTH_TIMEOUT_S = 10.0
MAX_TEXT = 2000
SenderId = Annotated[str, PathParam(min_length=1, max_length=128)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextIn(_In):
    text: StrictStr = Field(min_length=1, max_length=MAX_TEXT)


class TypingIn(_In):
    on: StrictBool


class TransferIn(_In):
    to: StrictStr = Field(min_length=1, max_length=64)


class ResolveIn(_In):
    note: StrictStr = Field(default="", max_length=MAX_TEXT)


class RectifyIn(_In):
    rectification: StrictStr = Field(min_length=1, max_length=MAX_TEXT)


class OverrideIn(_In):
    mode: Literal["open", "closed", "auto"]


def _text(value: str) -> str:
    text = value.replace("\x00", "").strip()
    if not text:
        raise ApiError(422, "empty_message", "消息不能为空 / The message is empty.")
    return text


async def _do(awaitable: Any) -> Any:
    """Run a handoff operation, mapping its errors to the API's error shape."""
    try:
        return await awaitable
    except HandoffError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    except RedisError as exc:
        raise ApiError(503, "redis_unavailable",
                       "会话存储暂时不可用 / Conversation storage (Redis) is unavailable.") from exc


async def snapshot(state: AppState, agent: Principal) -> dict[str, Any]:
    """Everything a console shows on (re)connect: tickets first, then the queue, then mine."""
    ho = state.handoff
    mine = []
    for sender_id in await ho.service.held_by(agent.username):
        conv = await ho.service.status(sender_id)
        mine.append({"sender_id": sender_id, "claimed_at": float(conv.get("claimed_at") or 0),
                     "channel": conv.get("channel", "")})
    return {
        "tickets": await ho.feedback.tickets(),
        "queue": await ho.service.queue(),
        "mine": mine,
        "online": await ho.service.online_agents(),
        "limit": await ho.service.limit_for(agent),
        "open": await ho.service.is_open(),
        "me": {"username": agent.username, "display_name": agent.label,
               "admin": agent.has("admin")},
    }


@router.get("/queue")
async def get_queue(state: StateDep, agent: AgentUser) -> dict[str, Any]:
    """Open 留言 tickets (oldest first), the waiting queue in order, and the conversations I hold."""
    return await _do(snapshot(state, agent))  # type: ignore[no-any-return]


@router.get("/recent")
async def recent(state: StateDep, _: AgentUser, limit: Annotated[int, Query(ge=1, le=200)] = 50
                 ) -> list[dict[str, Any]]:
    """Conversations the bot is handling right now, newest first; an agent may take one over."""
    redis = state.redis
    items = scored(await redis.zrevrange(RECENT, 0, limit - 1, withscores=True))
    result = []
    for sender_id, ts in items:
        if (await state.handoff.service.status(sender_id)).get("status") in (keys.QUEUED, keys.AGENT):
            continue
        result.append({"sender_id": sender_id, "last_seen": ts,
                       "last": await redis.lindex(f"xs:conv:{sender_id}:log", -1)})
    return result


@router.get("/agents")
async def agents(state: StateDep, _: AgentUser) -> list[dict[str, Any]]:
    """Every agent, online or not, with how many conversations each holds (for transfers)."""
    online = set(await state.handoff.service.online_agents())
    users = [u for u in await state.handoff.accounts.list_users() if u.has("agent")]
    return [{"username": u.username, "display_name": u.label, "online": u.username in online,
             "held": len(await state.handoff.service.held_by(u.username))} for u in users]


@router.get("/conversations/{sender_id}")
async def conversation(sender_id: SenderId, state: StateDep, _: AgentUser) -> dict[str, Any]:
    """The whole transcript (user, bot, agent, system) with the handoff status and private notes."""
    ho = state.handoff
    conv = await ho.service.status(sender_id)
    return {
        "sender_id": sender_id, "status": conv.get("status") or "none", "agent": conv.get("agent"),
        "reason": conv.get("reason"), "channel": conv.get("channel") or
        (await state.store.meta(sender_id)).get("channel"),
        "messages": [dict(e) for e in await state.store.history(sender_id, 0, limit=5000)],
        "notes": await ho.service.notes(sender_id),
        "ratings": await ho.feedback.ratings(sender_id),
        "declaration": await open_declaration(state, sender_id),
    }


async def open_declaration(state: AppState, sender_id: str) -> dict[str, Any] | None:
    """The conversation's unfinished smart declaration as the 店小二 sees it: answers so far (with
    where each came from) and the checklist they give, or None."""
    try:
        draft = await asyncio.to_thread(state.declarations.latest_open, sender_id)
    except Exception:  # the console still shows the conversation when the database is down
        log.exception("could not read the conversation's declaration")
        return None
    decl = state.declaration_catalog.get(draft.declaration_id) if draft else None
    progress = Progress.from_dict(draft.progress) if draft else None
    if draft is None or decl is None or progress is None:
        return None
    return {"id": decl.id, "title": decl.title, "status": draft.status, "resume_code": draft.resume_code,
            "answers": iv.summary(decl, draft.answers, progress),
            "checklist": iv.checklist(decl, draft.answers, progress)}


@router.post("/conversations/{sender_id}/claim")
async def claim(sender_id: SenderId, state: StateDep, agent: AgentUser,
                takeover: bool = False) -> dict[str, Any]:
    """Take a waiting conversation (or, with takeover, one the bot is handling). 409 if taken."""
    await _do(state.handoff.service.claim(sender_id, agent, takeover=takeover))
    return {"sender_id": sender_id, "status": keys.AGENT, "agent": agent.username}


@router.post("/conversations/{sender_id}/messages")
async def reply(sender_id: SenderId, body: TextIn, state: StateDep, agent: AgentUser) -> dict[str, Any]:
    """Send the user a message (stored in the transcript, pushed through the user's channel)."""
    entry = await _do(state.handoff.service.agent_message(sender_id, agent, _text(body.text)))
    return dict(entry)


@router.post("/conversations/{sender_id}/typing", status_code=204)
async def typing(sender_id: SenderId, body: TypingIn, state: StateDep, agent: AgentUser) -> None:
    await _do(state.handoff.service.agent_typing(sender_id, agent, body.on))


@router.post("/conversations/{sender_id}/transfer")
async def transfer(sender_id: SenderId, body: TransferIn, state: StateDep,
                   agent: AgentUser) -> dict[str, Any]:
    await _do(state.handoff.service.transfer(sender_id, agent, body.to.strip().lower()))
    return {"sender_id": sender_id, "agent": body.to}


@router.post("/conversations/{sender_id}/notes")
async def note(sender_id: SenderId, body: TextIn, state: StateDep, agent: AgentUser) -> dict[str, Any]:
    """A private note: other agents see it, the user never does."""
    return await _do(state.handoff.service.add_note(sender_id, agent, _text(body.text)))  # type: ignore[no-any-return]


@router.post("/conversations/{sender_id}/close")
async def close(sender_id: SenderId, state: StateDep, agent: AgentUser) -> dict[str, Any]:
    """Hand the conversation back to the bot and ask the user for 好差评; an unfinished declaration
    is offered to be continued where it stopped."""
    await _do(state.handoff.service.close(sender_id, agent))
    pending = await open_declaration(state, sender_id)
    if pending is not None:
        await state.outbox.send(sender_id, "system",
                                f"您的“{pending['title']}”申报还没填完，可以接着刚才的地方继续。",
                                buttons=[{"title": "继续申报", "payload": "继续申报"}])
    return {"sender_id": sender_id, "status": "closed"}


@router.get("/canned")
async def canned(state: StateDep, _: AgentUser) -> list[str]:
    return state.handoff.canned


@router.get("/tickets")
async def tickets(state: StateDep, _: AgentUser) -> list[dict[str, Any]]:
    """Open 留言 tickets, oldest first."""
    return await _do(state.handoff.feedback.tickets())  # type: ignore[no-any-return]


@router.post("/tickets/{ticket_id}/resolve")
async def resolve_ticket(ticket_id: str, body: ResolveIn, state: StateDep,
                         agent: AgentUser) -> dict[str, Any]:
    done = await _do(state.handoff.feedback.resolve_ticket(ticket_id, agent.username, body.note))
    if done is None:
        raise ApiError(404, "not_found", f"没有待处理的留言 {ticket_id} / No open ticket {ticket_id}.")
    return done  # type: ignore[no-any-return]


@router.get("/followups")
async def followups(state: StateDep, _: AdminUser, all: bool = False) -> list[dict[str, Any]]:
    """差评 follow-up items (admins): open ones until someone records the rectification."""
    return await _do(state.handoff.feedback.followups(open_only=not all))  # type: ignore[no-any-return]


@router.post("/followups/{item_id}/rectify")
async def rectify(item_id: str, body: RectifyIn, state: StateDep, admin: AdminUser) -> dict[str, Any]:
    done = await _do(state.handoff.feedback.rectify(item_id, admin.username, _text(body.rectification)))
    if done is None:
        raise ApiError(404, "not_found", f"没有待整改的差评 {item_id} / No open follow-up {item_id}.")
    return done  # type: ignore[no-any-return]


@router.get("/service-hours")
async def service_hours(state: StateDep, _: AgentUser) -> dict[str, Any]:
    override = await state.redis.get(keys.HOURS_OVERRIDE)
    return {"open": await state.handoff.service.is_open(), "override": override or "auto",
            "hours": state.handoff.service.hours.describe()}


@router.put("/service-hours/override")
async def set_override(body: OverrideIn, state: StateDep, _: AdminUser) -> dict[str, Any]:
    """Open or close the human service regardless of the timetable (auto: follow it again)."""
    if body.mode == "auto":
        await state.redis.delete(keys.HOURS_OVERRIDE)
    else:
        await state.redis.set(keys.HOURS_OVERRIDE, body.mode)
    return {"open": await state.handoff.service.is_open(), "override": body.mode}


# --- the user's side, for channels without push ---------------------------------------------------
@user_router.get("/{sender_id}/handoff")
async def handoff_status(sender_id: SenderId, state: StateDep,
                         token: ConversationToken = None) -> dict[str, Any]:
    """The conversation's handoff status: none, queued (with position and wait) or agent.

    Needs the conversation's token (403 otherwise)."""
    await _do(state.owners.check(sender_id, token))
    service = state.handoff.service
    conv = await _do(service.status(sender_id))
    status = conv.get("status") or "none"
    if status == keys.QUEUED:
        place = await service.place(sender_id)
        if place is not None:
            return place.custom()
    if status == keys.AGENT:
        holder = await state.handoff.accounts.get_user(conv.get("agent", ""))
        return {"status": keys.AGENT, "agent": holder.label if holder else conv.get("agent")}
    return {"status": "none"}


@user_router.post("/{sender_id}/typing", status_code=204)
async def user_typing(sender_id: SenderId, body: TypingIn, state: StateDep,
                      token: ConversationToken = None) -> None:
    """The user is typing: shown in the console of the agent holding the conversation.

    Needs the conversation's token (403 otherwise)."""
    await _do(state.owners.check(sender_id, token))
    status = (await _do(state.handoff.service.status(sender_id))).get("status")
    if status in (keys.QUEUED, keys.AGENT):
        await state.handoff.service.user_typing(sender_id, body.on)


# --- the console -----------------------------------------------------------------------------------
def _static(name: str, media_type: str, request: Request) -> Response:
    csp = CSP.format(sockets=own_sockets(request))
    return FileResponse(STATIC / name, media_type=media_type,
                        headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-cache"})


@console_router.get("/agents")
async def console_page(request: Request) -> Response:
    """The agents' console (店小二工作台)."""
    response = _static("index.html", "text/html; charset=utf-8", request)
    response.headers["X-Frame-Options"] = "DENY"
    return response


@console_router.get("/agents/static/{name}")
async def console_static(name: str, request: Request) -> Response:
    if name not in STATIC_FILES:
        raise ApiError(404, "not_found", "文件不存在 / Not found.")
    return _static(name, STATIC_FILES[name], request)


@router.websocket("/ws")
async def console_ws(ws: WebSocket) -> None:
    """Live events for one console. The first frame must be {"type": "auth", "token": …}.

    A browser page from a foreign origin is refused before the socket opens (no cross-site
    WebSocket hijacking with an agent's token); clients that send no Origin are not browsers."""
    state: AppState = ws.app.state.xs
    origin = ws.headers.get("origin")
    if origin and not page_origin_allowed(origin, ws.headers.get("host", ""), ws.url.scheme,
                                          allowed_origins(state.settings)):
        log.warning("console socket from a foreign origin refused",
                    extra={"fields": {"origin": origin[:200]}})
        await ws.close(code=4403)
        return
    await ws.accept()
    try:
        first = json.loads(await asyncio.wait_for(ws.receive_text(), WS_AUTH_TIMEOUT_S))
        token = str(first.get("token", "")) if isinstance(first, dict) else ""
        agent = await state.handoff.accounts.principal(token)
    except (asyncio.TimeoutError, ValueError, WebSocketDisconnect, RedisError):
        agent, token = None, ""
    if agent is None or not agent.has("agent"):
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "error": {"code": "unauthorized",
                                                            "message": "请先登录 / Please log in."}})
            await ws.close(code=4401)
        return
    service = state.handoff.service
    queue = await service.events.subscribe()
    await service.heartbeat(agent.username)
    try:
        await ws.send_json({"type": "snapshot", **await snapshot(state, agent)})
        tasks = {asyncio.ensure_future(_pump(ws, queue)),
                 asyncio.ensure_future(_listen(ws, state, agent, token))}
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() and not isinstance(task.exception(), (WebSocketDisconnect, RuntimeError)):
                log.warning("console socket ended: %r", task.exception())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        service.events.unsubscribe(queue)
        with contextlib.suppress(Exception):
            await service.offline(agent.username)


async def _pump(ws: WebSocket, queue: asyncio.Queue[dict[str, Any]]) -> None:
    while True:
        event = await queue.get()
        await ws.send_json(event)


async def _listen(ws: WebSocket, state: AppState, agent: Principal, token: str) -> None:
    service = state.handoff.service
    last_check = time.monotonic()
    while True:
        try:
            msg = json.loads(await ws.receive_text())
        except ValueError:
            continue
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "ping":
            await service.heartbeat(agent.username)
            if time.monotonic() - last_check > 30:  # a revoked token ends the session
                last_check = time.monotonic()
                if await state.handoff.accounts.principal(token) is None:
                    await ws.close(code=4401)
                    raise WebSocketDisconnect(4401)
            await ws.send_json({"type": "pong"})
        elif kind == "typing" and isinstance(msg.get("sender_id"), str):
            with contextlib.suppress(HandoffError):
                await service.agent_typing(msg["sender_id"], agent, bool(msg.get("on")))
