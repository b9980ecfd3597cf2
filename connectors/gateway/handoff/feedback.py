"""留言 tickets (taken outside service hours) and 好差评 ratings with 差评 follow-up items."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from connectors.gateway.handoff import keys, scripts
from connectors.gateway.handoff.events import EventHub
from connectors.gateway.recorder import NO_EVENTS, EventRecorder
from connectors.gateway.redis_types import hash_mapping, text_list, text_map
from knowledge_base.markup import plain_text
from records import events as ev

log = logging.getLogger("xiaoshen.handoff.feedback")


def _load(data: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(data)
    for name in ("created", "resolved_at", "rectified_at", "score"):
        if out.get(name):
            out[name] = float(out[name]) if name != "score" else int(out[name])
    return out


def _since(created: str | None) -> float | None:
    return round(time.time() - float(created), 3) if created else None


class Feedback:
    """Tickets, ratings and follow-ups, in Redis."""

    def __init__(self, redis: aioredis.Redis, events: EventHub, recorder: EventRecorder = NO_EVENTS) -> None:
        self.redis = redis
        self.events = events
        self.recorder = recorder  # 留言, ratings and rectifications as events of record

    async def _new_id(self, kind: str, prefix: str) -> str:
        n = int(await self.redis.hincrby(keys.IDS, kind, 1))
        return f"{prefix}{time.strftime('%Y%m%d')}-{n:05d}"

    # --- 留言 tickets ---------------------------------------------------------------------------
    async def create_ticket(self, sender_id: str, text: str, contact: str, channel: str) -> dict[str, Any]:
        """A message left outside service hours; agents see open tickets first. Markup in it is
        reduced to its text (knowledge_base/markup.py)."""
        text = plain_text(text)
        ticket_id = await self._new_id("ticket", "T")
        now = time.time()
        data = {"id": ticket_id, "sender_id": sender_id, "text": text, "contact": contact,
                "channel": channel, "created": repr(now), "status": "open"}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.ticket(ticket_id), mapping=hash_mapping(data))
            pipe.expire(keys.ticket(ticket_id), scripts.TTL_S * 3)
            pipe.zadd(keys.TICKETS_OPEN, {ticket_id: now})
            await pipe.execute()
        log.info("ticket created", extra={"fields": {"ticket": ticket_id, "sender_id": sender_id}})
        ticket = _load(data)
        self.recorder.emit(ev.Event(ev.MESSAGE_LEFT, sender_id, channel, ref=ticket_id))
        await self.events.publish({"type": "ticket", "ticket": ticket})
        return ticket

    async def tickets(self) -> list[dict[str, Any]]:
        """Open tickets, oldest first."""
        ids = text_list(await self.redis.zrange(keys.TICKETS_OPEN, 0, -1))
        found = [text_map(await self.redis.hgetall(keys.ticket(i))) for i in ids]
        return [_load(t) for t in found if t]

    async def resolve_ticket(self, ticket_id: str, agent: str, note: str) -> dict[str, Any] | None:
        note = plain_text(note)
        if not await self.redis.zrem(keys.TICKETS_OPEN, ticket_id):
            return None
        await self.redis.hset(keys.ticket(ticket_id), mapping={
            "status": "resolved", "resolved_by": agent, "resolution": note, "resolved_at": repr(time.time())})
        await self.events.publish({"type": "ticket_resolved", "id": ticket_id, "agent": agent})
        ticket = text_map(await self.redis.hgetall(keys.ticket(ticket_id)))
        self.recorder.emit(ev.Event(ev.MESSAGE_ANSWERED, ticket.get("sender_id", ""),
                                    ticket.get("channel", ""), agent=agent,
                                    value=_since(ticket.get("created")), ref=ticket_id))
        return _load(ticket)

    # --- 好差评 ---------------------------------------------------------------------------------
    async def rate(self, sender_id: str, score: int, agent: str, comment: str = "",
                   channel: str = "") -> dict[str, Any]:
        """Store a rating; a 差评 also opens a follow-up item for admins."""
        now = time.time()
        rating: dict[str, Any] = {"ts": now, "score": score, "label": keys.RATING_LABELS[score],
                                  "agent": agent, "comment": comment, "followup": None}
        if score <= keys.BAD_MAX:
            item_id = await self._new_id("followup", "F")
            item = {"id": item_id, "sender_id": sender_id, "score": str(score),
                    "label": keys.RATING_LABELS[score], "agent": agent, "comment": comment,
                    "created": repr(now), "status": "open"}
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(keys.followup(item_id), mapping=hash_mapping(item))
                pipe.zadd(keys.FOLLOWUPS_OPEN, {item_id: now})
                pipe.zadd(keys.FOLLOWUPS_ALL, {item_id: now})
                await pipe.execute()
            rating["followup"] = item_id
            await self.events.publish({"type": "followup", "followup": _load(item)})
        self.recorder.emit(ev.Event(ev.RATING, sender_id, channel, agent=agent or None, value=score,
                                    ref=rating["followup"]))
        await self.redis.rpush(keys.rating(sender_id), json.dumps(rating, ensure_ascii=False))
        await self.redis.expire(keys.rating(sender_id), scripts.TTL_S * 3)
        log.info("rated", extra={"fields": {"sender_id": sender_id, "score": score, "agent": agent}})
        return rating

    async def add_comment(self, sender_id: str, comment: str) -> None:
        """Attach the optional comment to the conversation's latest rating (and its follow-up)."""
        comment = plain_text(comment)
        raw = await self.redis.lindex(keys.rating(sender_id), -1)
        if raw is None:
            return
        rating = json.loads(raw)
        rating["comment"] = comment
        await self.redis.lset(keys.rating(sender_id), -1, json.dumps(rating, ensure_ascii=False))
        if rating.get("followup"):
            await self.redis.hset(keys.followup(rating["followup"]), "comment", comment)

    async def ratings(self, sender_id: str) -> list[dict[str, Any]]:
        return [json.loads(r) for r in await self.redis.lrange(keys.rating(sender_id), 0, -1)]

    async def followups(self, open_only: bool = True) -> list[dict[str, Any]]:
        ids = text_list(await self.redis.zrange(keys.FOLLOWUPS_OPEN if open_only else keys.FOLLOWUPS_ALL,
                                                0, -1))
        found = [text_map(await self.redis.hgetall(keys.followup(i))) for i in ids]
        return [_load(f) for f in found if f]

    async def rectify(self, item_id: str, admin: str, rectification: str) -> dict[str, Any] | None:
        """Record how a 差评 was rectified; the item leaves the open list."""
        rectification = plain_text(rectification)
        if not await self.redis.zrem(keys.FOLLOWUPS_OPEN, item_id):
            return None
        await self.redis.hset(keys.followup(item_id), mapping={
            "status": "rectified", "rectification": rectification, "rectified_by": admin,
            "rectified_at": repr(time.time())})
        await self.events.publish({"type": "followup_rectified", "id": item_id})
        item = text_map(await self.redis.hgetall(keys.followup(item_id)))
        self.recorder.emit(ev.Event(ev.RECTIFIED, item.get("sender_id", ""), agent=admin,
                                    value=_since(item.get("created")), ref=item_id))
        return _load(item)
