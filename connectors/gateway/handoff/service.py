"""The handoff's state machine in Redis: queue, claim, transfer, notes, close; events to consoles.

A conversation's handoff status (keys.conv) is one of queued / agent / message / rating / comment,
or empty when the bot answers. Every change goes through one Lua script (scripts.py), then is
published to the agents' consoles (EventHub) and, when the user should see it, sent through the
Outbox (stored in the transcript, pushed by the user's channel).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from connectors.gateway.auth import Accounts, Principal
from connectors.gateway.chat import Outbox
from connectors.gateway.conversations import ConversationStore, Entry
from connectors.gateway.errors import ApiError
from connectors.gateway.handoff import keys, scripts
from connectors.gateway.handoff.events import EventHub
from connectors.gateway.handoff.hours import ServiceHours
from connectors.gateway.recorder import NO_EVENTS, EventRecorder
from connectors.gateway.redis_types import (
    optional_int,
    scored,
    script_pair,
    script_triple,
    text,
    text_list,
    text_map,
)
from knowledge_base.markup import plain_text
from records import events as ev

log = logging.getLogger("xiaoshen.handoff")
HANDLE_EWMA_ALPHA = 0.2


class HandoffError(ApiError):
    """A handoff operation that cannot be done (answered with its status and code)."""


@dataclass(frozen=True)
class Place:
    """A queued conversation's place: 1-based position and expected wait in seconds."""

    position: int
    eta_s: int

    def custom(self) -> dict[str, Any]:
        return {"status": keys.QUEUED, "position": self.position, "eta_s": self.eta_s}


class HandoffService:
    """Queue, claims and agent actions; shared by the turn hook, the agents' API and the console."""

    def __init__(self, redis: aioredis.Redis, store: ConversationStore, outbox: Outbox,
                 accounts: Accounts, hours: ServiceHours, *, max_concurrent: int,
                 default_handle_s: float, recorder: EventRecorder = NO_EVENTS) -> None:
        self.redis = redis
        self.recorder = recorder  # handoff steps as events of record (the service figures)
        self.store = store
        self.outbox = outbox
        self.accounts = accounts
        self.hours = hours
        self.events = EventHub(redis)
        self.max_concurrent = max_concurrent
        self.default_handle_s = default_handle_s
        self._enqueue = redis.register_script(scripts.ENQUEUE)
        self._claim = redis.register_script(scripts.CLAIM)
        self._transfer = redis.register_script(scripts.TRANSFER)
        self._close = redis.register_script(scripts.CLOSE)
        self._leave = redis.register_script(scripts.LEAVE)
        self._move = redis.register_script(scripts.MOVE)
        self._background: set[asyncio.Task[None]] = set()

    # --- reading -----------------------------------------------------------------------------
    async def status(self, sender_id: str) -> dict[str, str]:
        return text_map(await self.redis.hgetall(keys.conv(sender_id)))

    def queue_status(self, pipe: Pipeline, sender_id: str) -> None:
        """Queue the status read on a pipeline (the turn's first round trip); see status()."""
        pipe.hgetall(keys.conv(sender_id))

    async def move(self, sender_id: str, expected: str, new: str, **fields: str) -> bool:
        """Change the status from `expected` (and set fields) atomically; False if it had changed."""
        args: list[str | int] = [expected, new, scripts.TTL_S]
        for name, value in fields.items():
            args += [name, value]
        ok, found = script_pair(await self._move(keys=[keys.conv(sender_id)], args=args))
        if not ok:
            log.info("status changed meanwhile", extra={"fields": {
                "sender_id": sender_id, "expected": expected, "found": found}})
        return bool(ok)

    async def is_open(self, now: float | None = None) -> bool:
        """Agents are on duty: the timetable, unless an admin forced it open or closed."""
        override = await self.redis.get(keys.HOURS_OVERRIDE)
        if override in ("open", "closed"):
            return override == "open"
        return self.hours.is_open(dt.datetime.fromtimestamp(now or time.time(), self.hours.tz))

    async def online_agents(self) -> list[str]:
        since = time.time() - keys.ONLINE_WINDOW_S
        return text_list(await self.redis.zrangebyscore(keys.ONLINE, since, "+inf"))

    async def place(self, sender_id: str) -> Place | None:
        rank = optional_int(await self.redis.zrank(keys.QUEUE, sender_id))
        if rank is None:
            return None
        return Place(rank + 1, await self._eta(rank + 1))

    async def _eta(self, position: int) -> int:
        """Expected wait: conversations ahead (incl. this one) per agent on duty × average handling."""
        handle = float(await self.redis.hget(keys.STATS, "handle_s") or self.default_handle_s)
        agents = max(1, len(await self.online_agents()))
        return int(math.ceil(position / agents) * handle)

    async def queue(self) -> list[dict[str, Any]]:
        """The waiting conversations, first come first served."""
        now = time.time()
        items = scored(await self.redis.zrange(keys.QUEUE, 0, -1, withscores=True))
        result = []
        for i, (sender_id, queued_at) in enumerate(items):
            conv = await self.status(sender_id)
            last = await self.redis.lindex(f"xs:conv:{sender_id}:log", -1)
            result.append({
                "sender_id": sender_id, "position": i + 1, "queued_at": queued_at,
                "wait_s": round(now - queued_at, 1), "reason": conv.get("reason", ""),
                "channel": conv.get("channel", ""), "last": last,
            })
        return result

    async def held_by(self, agent: str) -> list[str]:
        return sorted(text_list(await self.redis.smembers(keys.held(agent))))

    async def limit_for(self, agent: Principal) -> int:
        return agent.max_concurrent or self.max_concurrent

    # --- the user's side ---------------------------------------------------------------------
    async def enqueue(self, sender_id: str, reason: str, channel: str) -> Place:
        """Put the conversation in the queue (idempotent) and tell the consoles."""
        now = time.time()
        # {1, 'queued'} when added now; {0, status} when already queued or with an agent
        added, _ = script_pair(await self._enqueue(
            keys=[keys.conv(sender_id), keys.QUEUE],
            args=[sender_id, repr(now), reason, channel, scripts.TTL_S]))
        place = await self.place(sender_id) or Place(1, int(self.default_handle_s))
        if added:
            log.info("queued", extra={"fields": {"sender_id": sender_id, "reason": reason,
                                                  "position": place.position}})
            self.requested(sender_id, channel, "queued", now)
            await self.events.publish({"type": "queued", "sender_id": sender_id, "reason": reason,
                                       "channel": channel, "queued_at": now,
                                       "position": place.position})
        return place

    async def leave(self, sender_id: str) -> bool:
        """Leave the queue (or stop leaving a 留言); False when not queued."""
        before = await self.status(sender_id)
        # 'left', or the status that could not be left ('' when none)
        result = text(await self._leave(keys=[keys.conv(sender_id), keys.QUEUE], args=[sender_id]))
        if result != "left":
            return False
        if before.get("status") == keys.QUEUED:
            self._emit(ev.HANDOFF_LEFT, sender_id, before)
        await self.events.publish({"type": "left", "sender_id": sender_id})
        self._later(self.update_positions())
        return True

    async def user_message(self, sender_id: str, entry: Entry | None) -> None:
        """A user's message while queued or with an agent: to the consoles."""
        await self.events.publish({"type": "message", "sender_id": sender_id, "entry": entry})

    async def user_typing(self, sender_id: str, on: bool) -> None:
        await self.events.publish({"type": "typing", "sender_id": sender_id, "who": "user", "on": on})

    async def update_positions(self) -> None:
        """Tell everyone still waiting their new place (transient; polling clients ask /handoff)."""
        for sender_id in text_list(await self.redis.zrange(keys.QUEUE, 0, -1)):
            place = await self.place(sender_id)
            if place is not None:
                await self.outbox.signal(sender_id, {"handoff": place.custom()})

    # --- the agents' side --------------------------------------------------------------------
    async def claim(self, sender_id: str, agent: Principal, *, takeover: bool = False) -> None:
        """Take the conversation; exactly one of several concurrent claims wins."""
        now = time.time()
        # {1, 'ok', agent}, or {0, reason ('taken' / 'not_queued' / 'limit'), holder or ''}
        ok, reason, holder = script_triple(await self._claim(
            keys=[keys.conv(sender_id), keys.QUEUE, keys.held(agent.username)],
            args=[sender_id, agent.username, await self.limit_for(agent), repr(now),
                  "1" if takeover else "0"],
        ))
        if not ok:
            if reason == "taken":
                raise HandoffError(409, "already_claimed",
                                   f"该会话已由 {holder} 接入 / Already claimed by {holder}.")
            if reason == "limit":
                raise HandoffError(409, "limit_reached",
                                   "已达到同时接待上限 / You already hold as many conversations as allowed.")
            raise HandoffError(409, "not_queued", "该会话不在排队中 / The conversation is not waiting.")
        await self.outbox.send(sender_id, "system", f"店小二「{agent.label}」已接入，为您服务。",
                               custom={"handoff": {"status": keys.AGENT, "agent": agent.label}})
        self._emit(ev.HANDOFF_CLAIMED, sender_id, await self.status(sender_id), agent.username, now)
        await self.events.publish({"type": "claimed", "sender_id": sender_id, "agent": agent.username})
        self._later(self.update_positions())

    async def _require_holder(self, sender_id: str, agent: Principal, *,
                              admin_may: bool = False) -> dict[str, str]:
        """The conversation, when `agent` holds it (or, with admin_may, an admin writes into one
        some agent holds); 409 not_holder otherwise."""
        conv = await self.status(sender_id)
        held = conv.get("status") == keys.AGENT
        if admin_may and held and agent.has("admin"):
            return conv
        if not held or conv.get("agent") != agent.username:
            raise HandoffError(409, "not_holder", "您未接入该会话 / You do not hold this conversation.")
        return conv

    async def agent_message(self, sender_id: str, agent: Principal, text: str) -> Entry:
        conv = await self._require_holder(sender_id, agent, admin_may=True)
        entry = await self.outbox.send(sender_id, "agent", text, author=agent.label,
                                       custom={"handoff": {"status": keys.AGENT, "agent": agent.label}})
        self._emit(ev.AGENT_REPLY, sender_id, conv, agent.username)
        await self.events.publish({"type": "message", "sender_id": sender_id, "entry": entry})
        return entry

    async def agent_typing(self, sender_id: str, agent: Principal, on: bool) -> None:
        await self._require_holder(sender_id, agent)
        await self.outbox.signal(sender_id, {"typing": {"who": "agent", "name": agent.label, "on": on}})

    async def transfer(self, sender_id: str, agent: Principal, to: str) -> None:
        target = await self.accounts.get_user(to)
        if target is None or not target.has("agent") or to == agent.username:
            raise HandoffError(422, "invalid_agent", f"无法转给 {to} / {to} is not another agent.")
        # {1, 'ok'}, or {0, reason ('not_holder' / 'limit')}
        ok, reason = script_pair(await self._transfer(
            keys=[keys.conv(sender_id), keys.held(agent.username), keys.held(to)],
            args=[sender_id, agent.username, to, await self.limit_for(target)]))
        if not ok:
            if reason == "limit":
                raise HandoffError(409, "limit_reached", f"{to} 已达到接待上限 / {to} is at their limit.")
            raise HandoffError(409, "not_holder", "您未接入该会话 / You do not hold this conversation.")
        await self.outbox.send(sender_id, "system", f"已为您转接店小二「{target.label}」，请稍候。",
                               custom={"handoff": {"status": keys.AGENT, "agent": target.label}})
        self._emit(ev.HANDOFF_TRANSFERRED, sender_id, await self.status(sender_id), to)
        await self.events.publish({"type": "transferred", "sender_id": sender_id,
                                   "from": agent.username, "agent": to})

    async def add_note(self, sender_id: str, agent: Principal, text: str) -> dict[str, Any]:
        """A private note on the conversation: agents see it, the user never does. Only the agent
        holding it writes one (and admins, into any conversation)."""
        if not agent.has("admin"):
            await self._require_holder(sender_id, agent)
        note = {"ts": time.time(), "author": agent.username, "text": plain_text(text)}
        await self.redis.rpush(keys.notes(sender_id), json.dumps(note, ensure_ascii=False))
        await self.redis.expire(keys.notes(sender_id), scripts.TTL_S)
        await self.events.publish({"type": "note", "sender_id": sender_id, "note": note})
        return note

    async def notes(self, sender_id: str) -> list[dict[str, Any]]:
        return [json.loads(n) for n in await self.redis.lrange(keys.notes(sender_id), 0, -1)]

    async def close(self, sender_id: str, agent: Principal | None) -> tuple[str, list[dict[str, str]],
                                                                           dict[str, Any]]:
        """End the agent's part and ask for 好差评: the prompt (text, buttons, custom).

        Closed by an agent, the prompt is sent to the user; closed by the user (agent None), the
        caller returns it as the turn's reply.
        """
        # {1, claimed_at or '', holder}, or {0, status or '', holder or ''}
        ok, claimed_at, holder = script_triple(await self._close(
            keys=[keys.conv(sender_id)],
            args=[sender_id, agent.username if agent else "", repr(time.time())]))
        if not ok:
            raise HandoffError(409, "not_holder", "您未接入该会话 / You do not hold this conversation.")
        if claimed_at:
            await self._record_handle_time(time.time() - float(claimed_at))
            conv = await self.status(sender_id)
            self.recorder.emit(ev.Event(ev.HANDOFF_CLOSED, sender_id, conv.get("channel", ""), agent=holder,
                                        value=round(time.time() - float(claimed_at), 3),
                                        ref=conv.get("queued_at")))
        options = [{"score": s, "label": label} for s, label in keys.RATING_LABELS.items()]
        buttons = [{"title": label, "payload": f'{keys.RATE}{{"score": {s}}}'}
                   for s, label in keys.RATING_LABELS.items()]
        who = "店小二已结束本次服务" if agent else "您已结束人工服务"
        text = f"{who}，小申继续为您服务。请您对本次服务进行评价（好差评）："
        custom: dict[str, Any] = {"rating": {"options": options}, "handoff": {"status": "none"}}
        if agent is not None:
            await self.outbox.send(sender_id, "system", text, buttons=buttons, custom=custom)
        await self.events.publish({"type": "closed", "sender_id": sender_id, "agent": holder,
                                   "by": agent.username if agent else "user"})
        return text, buttons, custom

    async def _record_handle_time(self, seconds: float) -> None:
        old = float(await self.redis.hget(keys.STATS, "handle_s") or self.default_handle_s)
        new = (1 - HANDLE_EWMA_ALPHA) * old + HANDLE_EWMA_ALPHA * max(30.0, seconds)
        await self.redis.hset(keys.STATS, "handle_s", f"{new:.1f}")

    async def heartbeat(self, agent: str) -> None:
        await self.redis.zadd(keys.ONLINE, {agent: time.time()})

    async def offline(self, agent: str) -> None:
        await self.redis.zrem(keys.ONLINE, agent)

    # --- helpers -----------------------------------------------------------------------------
    def requested(self, sender_id: str, channel: str, outcome: str, at: float) -> None:
        """A request for a person as an event of record: queued, offline (a 留言 instead) or limited;
        its ref is the request's time, which every later step of a queued one carries."""
        self.recorder.emit(ev.Event(ev.HANDOFF_REQUESTED, sender_id, channel, outcome=outcome, ref=repr(at)))

    def _emit(self, kind: str, sender_id: str, conv: dict[str, str], agent: str | None = None,
              now: float | None = None) -> None:
        """A handoff step of record; its value is the seconds since the request (`queued_at`),
        which is also its ref: one request, one ref, however many steps follow."""
        queued_at = conv.get("queued_at")
        waited = (now or time.time()) - float(queued_at) if queued_at else None
        self.recorder.emit(ev.Event(kind, sender_id, conv.get("channel", ""), agent=agent,
                                    value=None if waited is None else round(waited, 3), ref=queued_at))

    def _later(self, coro: Any) -> None:
        """Run something the caller need not wait for (position updates), keeping a reference."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close_background(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.events.close()
