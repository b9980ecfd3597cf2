"""The handoff's TurnHook: what the user sees while queued, with an agent, leaving a 留言, rating.

before_turn takes the turn whenever the conversation is not the bot's (queued, with an agent,
leaving a message, rating): the bot never answers then. after_turn queues the conversation when
the bot's turn decided on a handoff (ask_human, or yes to an offer), or takes a 留言 outside
service hours.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio.client import Pipeline

from connectors.gateway.chat import TurnContext
from connectors.gateway.handoff import keys
from connectors.gateway.handoff.feedback import Feedback
from connectors.gateway.handoff.service import HandoffService, Place
from connectors.gateway.ratelimit import RateLimits
from connectors.gateway.redis_types import text_map
from contract.turn import (
    HANDOFF,
    HANDOFF_NONE,
    INTENT_ASK_HUMAN,
    SMALLTALK,
    BotMessage,
    Button,
    ChatReply,
    HandoffState,
    Outcome,
    Turn,
)

RECENT = "xs:ho:recent"  # zset sender_id -> last message, for agents picking a live conversation
RECENT_MAX = 200
COMMENT_PROMPT_MAX = 3  # after 基本满意 or a 差评 the next message is taken as the optional comment
_CONTACT = re.compile(
    r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"  # mobile
    r"|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"  # landline
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail
)
ALREADY_RATED = "这次服务已经评价过了，感谢！有问题可以继续问小申。"
_LEAVE_BUTTON = Button(title="离开排队，继续问小申", payload=keys.LEAVE)
_LABEL_SCORES = {label: score for score, label in keys.RATING_LABELS.items()}


def find_contact(text: str) -> str | None:
    """A phone number or e-mail address in the text, if any."""
    match = _CONTACT.search(text)
    return match.group(0) if match else None


def _minutes(eta_s: int) -> int:
    return max(1, round(eta_s / 60))


def _reply(sender_id: str, texts: list[str], *, outcome: Outcome, handoff: HandoffState = HANDOFF_NONE,
           buttons: list[Button] | None = None, custom: dict[str, Any] | None = None,
           intent: str | None = None) -> ChatReply:
    messages = [BotMessage(text=t) for t in texts]
    if messages:
        messages[-1].buttons = buttons or []
        messages[-1].custom = custom or {}
    return ChatReply(sender_id=sender_id, messages=messages,
                     turn=Turn(outcome=outcome, intent=intent, confidence=1.0, handoff=handoff))


def queued_text(place: Place) -> str:
    ahead = place.position - 1
    where = f"您前面还有 {ahead} 位" if ahead else "您是下一位"
    return f"{where}，预计等待约 {_minutes(place.eta_s)} 分钟。排队期间您可以继续留言，店小二接入后会看到。"


class HandoffHook:
    """Registered on ChatService.hooks."""

    def __init__(self, service: HandoffService, feedback: Feedback, limits: RateLimits,
                 on_bad_rating: Callable[[str, str], Awaitable[None]] | None = None) -> None:
        self.service = service
        self.feedback = feedback
        self.limits = limits
        # Told of every 差评 (sender_id, channel): the editors' inbox files the question it judged.
        self.on_bad_rating = on_bad_rating

    def prefetch(self, pipe: Pipeline, sender_id: str) -> int:
        """Note the conversation as recent and read its handoff status, on the turn's first trip."""
        pipe.zadd(RECENT, {sender_id: time.time()})
        pipe.zremrangebyrank(RECENT, 0, -RECENT_MAX - 1)
        self.service.queue_status(pipe, sender_id)
        return 3

    async def before_turn(self, ctx: TurnContext) -> ChatReply | None:
        sender_id, text = ctx.sender_id, ctx.text
        conv = text_map(ctx.prefetched[2] or {})
        status = conv.get("status", "")
        if text.strip() == keys.LEAVE:
            return await self._leave(sender_id, status)
        if status == keys.QUEUED:
            await self.service.user_message(sender_id, ctx.entry)
            place = await self.service.place(sender_id) or Place(1, 0)
            return _reply(sender_id, [f"已收到。{queued_text(place)}"], outcome=HANDOFF,
                          handoff=keys.QUEUED, buttons=[_LEAVE_BUTTON],
                          custom={"handoff": place.custom()})
        if status == keys.AGENT:
            # The agent answers; the bot stays silent.
            await self.service.user_message(sender_id, ctx.entry)
            return _reply(sender_id, [], outcome=HANDOFF, handoff=keys.AGENT)
        if status == keys.MESSAGE:
            return await self._take_message(ctx, conv)
        if status == keys.RATING:
            return await self._rating(ctx, conv)
        if status == keys.COMMENT:
            return await self._comment(sender_id, text)
        if text.startswith((keys.RATE + "{", keys.SKIP_COMMENT)):
            # A rating button pressed again later: not something for Rasa's NLU.
            return _reply(sender_id, [ALREADY_RATED], outcome=SMALLTALK)
        return None

    async def after_turn(self, ctx: TurnContext, reply: ChatReply) -> ChatReply:
        if reply.turn.outcome != HANDOFF or reply.turn.handoff != HANDOFF_NONE:
            return reply
        sender_id, channel = ctx.sender_id, ctx.channel
        turn = reply.turn.model_copy()
        if not await self.service.is_open():
            await self.service.move(sender_id, "", keys.MESSAGE, channel=channel, pending_text="")
            hours = self.service.hours
            now = time.time()
            self.service.requested(sender_id, channel, "offline", now)
            back = hours.describe_next(dt.datetime.fromtimestamp(now, hours.tz))
            text_out = (f"现在不是人工服务时间（{hours.describe()}），店小二{back}起为您服务。"
                        "您可以留言：请写下您的问题和联系方式（手机号或邮箱），我们上班后会尽快联系您。")
            return _reply(sender_id, [text_out], outcome=HANDOFF, intent=turn.intent,
                          buttons=[Button(title="不留言了，继续问小申", payload=keys.LEAVE)],
                          custom={"handoff": {"status": "offline", "back": back}})
        wait = (await self.limits.over("queue_sender", sender_id)
                or await self.limits.over("queue_ip", ctx.client))
        if wait is not None:  # many requests for a person in a short time: not queued again
            self.service.requested(sender_id, channel, "limited", time.time())
            return _reply(sender_id, [f"您转人工的请求太频繁了，请 {_minutes(wait)} 分钟后再试；"
                                      "急事可拨打 12345 市民服务热线。现在小申继续为您服务。"],
                          outcome=HANDOFF, intent=turn.intent, custom={"handoff": {"status": "limited"}})
        reason = "asked" if turn.intent == INTENT_ASK_HUMAN else f"offer:{turn.intent or ''}"
        place = await self.service.enqueue(sender_id, reason, channel)
        return _reply(sender_id, [f"好的，已为您转接人工客服（店小二）。{queued_text(place)}"],
                      outcome=HANDOFF, handoff=keys.QUEUED, intent=turn.intent,
                      buttons=[_LEAVE_BUTTON], custom={"handoff": place.custom()})

    # --- states ---------------------------------------------------------------------------------
    async def _leave(self, sender_id: str, status: str) -> ChatReply:
        if status == keys.AGENT:
            text, buttons, custom = await self.service.close(sender_id, None)
            return _reply(sender_id, [text], outcome=SMALLTALK, custom=custom,
                          buttons=[Button(**b) for b in buttons])
        if status in (keys.QUEUED, keys.MESSAGE) and await self.service.leave(sender_id):
            return _reply(sender_id, ["已为您退出人工排队，小申继续为您服务，有问题可以直接问我。"],
                          outcome=SMALLTALK, custom={"handoff": {"status": "none"}})
        return _reply(sender_id, ["您当前没有在排队，有问题可以直接问我。"], outcome=SMALLTALK,
                      custom={"handoff": {"status": "none"}})

    async def _take_message(self, ctx: TurnContext, conv: dict[str, str]) -> ChatReply:
        sender_id, text = ctx.sender_id, ctx.text
        pending = "\n".join(filter(None, [conv.get("pending_text", ""), text.strip()]))
        contact = find_contact(text)
        if contact is None:
            await self.service.move(sender_id, keys.MESSAGE, keys.MESSAGE, pending_text=pending[-4000:])
            return _reply(sender_id, ["收到。请再留下您的联系方式（手机号或邮箱），方便店小二联系您。"],
                          outcome=HANDOFF, buttons=[Button(title="不留言了", payload=keys.LEAVE)])
        if await self.limits.over("ticket_ip", ctx.client) is not None:
            await self.service.move(sender_id, keys.MESSAGE, "", pending_text="")
            return _reply(sender_id, ["从您的网络留下的留言太多了，这条没有保存；"
                                      "请稍后再试，或拨打 12345 市民服务热线。"],
                          outcome=HANDOFF, custom={"handoff": {"status": "limited"}})
        ticket = await self.feedback.create_ticket(sender_id, pending, contact, conv.get("channel", ""))
        await self.service.move(sender_id, keys.MESSAGE, "", pending_text="")
        return _reply(sender_id, [f"已收到您的留言（编号 {ticket['id']}），店小二上班后会尽快与您联系。"
                                  "现在小申继续为您服务。"],
                      outcome=HANDOFF, custom={"handoff": {"status": "none", "ticket": ticket["id"]}})

    async def _rating(self, ctx: TurnContext, conv: dict[str, str]) -> ChatReply | None:
        sender_id = ctx.sender_id
        score, comment = self._parse_rating(ctx.text)
        if score is None:
            # Not a rating: the prompt lapses and the bot answers as usual.
            await self.service.move(sender_id, keys.RATING, "")
            return None
        if await self.limits.over("rating_ip", ctx.client) is not None:
            await self.service.move(sender_id, keys.RATING, "")
            return _reply(sender_id, ["从您的网络提交的评价太多了，这次评价没有记录，请稍后再试。"],
                          outcome=SMALLTALK)
        await self.feedback.rate(sender_id, score, conv.get("agent", ""), comment, conv.get("channel", ""))
        if score <= keys.BAD_MAX and self.on_bad_rating is not None:
            await self.on_bad_rating(sender_id, conv.get("channel", "") or ctx.channel)
        if comment or score > COMMENT_PROMPT_MAX:
            # Satisfied users are not held up: their next message goes to the bot again. A comment
            # can still come with the rating payload (/rate{"score": 5, "comment": "…"}).
            await self.service.move(sender_id, keys.RATING, "")
            thanks = "感谢您的评价和意见！" if comment else "感谢您的评价！还有问题可以继续问小申。"
            return _reply(sender_id, [thanks],
                          outcome=SMALLTALK)
        await self.service.move(sender_id, keys.RATING, keys.COMMENT)
        first = ("非常抱歉没能让您满意，我们会专门跟进改进。" if score <= keys.BAD_MAX else "感谢您的评价！")
        return _reply(sender_id, [first + "如有意见或建议，可以直接输入（可选）。"], outcome=SMALLTALK,
                      buttons=[Button(title="跳过", payload=keys.SKIP_COMMENT)])

    async def _comment(self, sender_id: str, text: str) -> ChatReply | None:
        await self.service.move(sender_id, keys.COMMENT, "")
        if text.strip() == keys.SKIP_COMMENT:
            return _reply(sender_id, ["好的，感谢您的评价！还有问题可以继续问小申。"], outcome=SMALLTALK)
        if text.startswith(keys.RATE + "{"):
            return _reply(sender_id, [ALREADY_RATED], outcome=SMALLTALK)
        if text.startswith("/"):
            return None  # another button: the bot handles it
        await self.feedback.add_comment(sender_id, text.strip()[:1000])
        return _reply(sender_id, ["感谢您的宝贵意见，我们会认真改进！"], outcome=SMALLTALK)

    @staticmethod
    def _parse_rating(text: str) -> tuple[int | None, str]:
        text = text.strip()
        if text in _LABEL_SCORES:
            return _LABEL_SCORES[text], ""
        if not text.startswith(keys.RATE + "{"):
            return None, ""
        try:
            data = json.loads(text[len(keys.RATE):])
            score = int(data["score"])
        except (ValueError, KeyError, TypeError):
            return None, ""
        if score not in keys.RATING_LABELS:
            return None, ""
        return score, str(data.get("comment") or "").strip()[:1000]
