"""Rasa SDK actions: thin adapters from the tracker to the guide and handoff services.

Every action ends its turn with the turn block (contract.turn): it says what the turn was, and
carries the NLU intent and confidence, so the gateway needs no second call to Rasa.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import constants as c
from actions.complaint import is_complaint, without_complaint
from actions.declaration_service import declare_payload, is_request
from actions.declarations import start as start_declaration
from actions.guide_service import Context, Reply, is_switch
from actions.services import services
from actions.talk import asks_for_person, chitchat, remark
from actions.turns import intent_of, report
from contract.turn import (
    AFFIRM,
    ANSWER,
    CLARIFY,
    DENY,
    HANDOFF,
    OUT_OF_SCOPE,
    SMALLTALK,
    Outcome,
)
from knowledge_base.scope import commercial
from knowledge_base.search import SearchError
from knowledge_base.sections import cue_sections, fold

log = logging.getLogger(__name__)

OFFER_BUTTONS = [{"title": "好的，转人工", "payload": AFFIRM}, {"title": "不用了", "payload": DENY}]
OFFER_AFTER_MISSES = "看来我暂时没能帮上您。需要为您转接人工客服（店小二）吗？"
DECLARE_BUTTON = "帮我申报（智能申报）"
CHITCHAT = ("我是小申，上海“一网通办”的智能客服机器人，关于我自己的事就不多说啦。您有办事方面的问题，"
            "比如“居住证怎么办”“公积金怎么提取”，尽管问我。")
REMARK = "嗯嗯，小申在呢。有办事方面的问题随时问我；需要人工帮忙，也可以说“转人工”。"
OFFER_AFTER_COMPLAINT = "非常抱歉给您带来了不好的体验。需要为您转接人工客服（店小二）吗？"


def _said(tracker: Tracker) -> str:
    """The text of the latest user message ("" for none)."""
    return tracker.latest_message.get("text") or ""


def _entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value else None


def _report(dispatcher: CollectingDispatcher, tracker: Tracker, outcome: Outcome,
            reply: Reply | None = None, custom: dict[str, Any] | None = None) -> None:
    """End the turn with its turn block, with what the guide service decided when it did."""
    if reply is None:
        report(dispatcher, tracker, outcome, custom=custom)
    else:
        report(dispatcher, tracker, outcome, confidence=reply.confidence, service_id=reply.service_id,
               section=reply.section, candidates=[cand.service_id for cand in reply.candidates[:5]],
               custom=custom)


def _context(tracker: Tracker) -> Context:
    return Context(
        service_id=tracker.get_slot(c.SLOT_SERVICE),
        section=tracker.get_slot(c.SLOT_SECTION),
        pending_section=tracker.get_slot(c.SLOT_PENDING_SECTION),
        candidates=tracker.get_slot(c.SLOT_CANDIDATES) or [],
    )


def _decide(tracker: Tracker, *, strict: bool) -> Reply:
    """The guide service's reply to the latest message (a search outage degrades here)."""
    guides = services().guides
    try:
        return guides.decide(
            without_complaint(_said(tracker)),
            _context(tracker),
            service_hint=_entity(tracker, c.ENTITY_SERVICE),
            section_hint=_entity(tracker, c.ENTITY_SECTION),
            strict=strict,
        )
    except SearchError:
        # The one place where a search outage is turned into a reply: say so, offer a person.
        log.exception("knowledge base search failed")
        return guides.unavailable()


def _answered(reply: Reply) -> list[EventType]:
    """Slots that keep an answered service in context for follow-ups."""
    return [
        SlotSet(c.SLOT_SERVICE, reply.service_id),
        SlotSet(c.SLOT_SECTION, reply.section),
        SlotSet(c.SLOT_PENDING_SECTION, None),
        SlotSet(c.SLOT_MISSES, 0.0),
    ]


class ActionAnswerGuide(Action):
    """Answer a question from the service guides, ask which service, or say we cannot.

    A complaint is met with an apology and an offer of a person first; it still gets its answer when
    it asks something clear (and, unless NLU read it as `complain`, a clarifying question when it is
    unsure), but no "nothing found" on top of the apology.
    """

    def name(self) -> str:
        return c.ACTION_ANSWER_GUIDE

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent, _ = intent_of(tracker)
        text = _said(tracker)
        if asks_for_person(text):
            # Asking for a person (a complaint that does, too) queues at once: no offer to accept.
            return _handed_off(dispatcher, tracker)
        if chitchat(text) or remark(text):
            _chat(dispatcher, tracker, text)
            return []
        if is_request(text):
            started = await start_declaration(dispatcher, tracker)
            if dispatcher.messages:  # it was a declaration request (else: answer the question)
                return started
        complaint = is_complaint(text, intent)
        reply = _decide(tracker, strict=intent in (c.INTENT_OUT_OF_SCOPE, c.INTENT_COMPLAIN))
        declaration = (services().catalog.for_service(reply.service_id)
                       if reply.outcome == ANSWER and reply.service_id else None)
        if declaration is not None:  # the guide's own way in to its smart declaration
            declare = {"title": DECLARE_BUTTON, "payload": declare_payload(declaration.id)}
            reply.buttons = [*reply.buttons, declare]
        if complaint:
            dispatcher.utter_message(text=OFFER_AFTER_COMPLAINT, buttons=OFFER_BUTTONS)
        if not complaint or reply.outcome != OUT_OF_SCOPE:
            dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        _report(dispatcher, tracker, reply.outcome, reply,
                {"card": reply.card} if reply.card else None)

        events: list[EventType] = [SlotSet(c.SLOT_HANDOFF_OFFERED, complaint)]
        if reply.outcome == ANSWER:
            events += _answered(reply)
        elif reply.outcome == CLARIFY:
            events += [
                SlotSet(c.SLOT_CANDIDATES, [cand.service_id for cand in reply.candidates]),
                SlotSet(c.SLOT_PENDING_SECTION, reply.section),
            ]
        elif reply.search_down:
            # The reply offers a person itself: no second offer on top after two outages.
            events += [SlotSet(c.SLOT_HANDOFF_OFFERED, True), SlotSet(c.SLOT_MISSES, 0.0)]
        elif not complaint:
            misses = float(tracker.get_slot(c.SLOT_MISSES) or 0) + 1
            if misses >= c.MISSES_BEFORE_OFFER:
                # Twice in a row the bot could not help: offer a person first (yes queues, no resumes).
                dispatcher.utter_message(text=OFFER_AFTER_MISSES, buttons=OFFER_BUTTONS)
                events += [SlotSet(c.SLOT_HANDOFF_OFFERED, True), SlotSet(c.SLOT_MISSES, 0.0)]
            else:
                events.append(SlotSet(c.SLOT_MISSES, misses))
        return events


def _section_follow_up(tracker: Tracker, text: str) -> bool:
    """A question about a section of the service under discussion ("要几钿", "在哪查") or the same
    asked of another service ("what about buying a house?"), not chit-chat or a remark."""
    return (bool(tracker.get_slot(c.SLOT_SERVICE)) and not chitchat(text) and not remark(text)
            and (bool(cue_sections(fold(text))) or is_switch(text)))  # cue words, not a guess


def _chat(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> None:
    """Chit-chat addressed to 小申 itself, or a remark that asks nothing (actions.talk): a friendly
    word and back to business."""
    dispatcher.utter_message(text=REMARK if remark(text) else CHITCHAT)
    _report(dispatcher, tracker, SMALLTALK)


def _hand_off(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Tell the user a person is coming; the gateway queues on the handoff outcome."""
    dispatcher.utter_message(response="utter_handoff")
    _report(dispatcher, tracker, HANDOFF)


def _handed_off(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Hand off, and clear the offer of a person and the miss count: the request has been met."""
    _hand_off(dispatcher, tracker)
    return [SlotSet(c.SLOT_HANDOFF_OFFERED, False), SlotSet(c.SLOT_MISSES, 0.0)]


class ActionHandoff(Action):
    """The user asked for a person."""

    def name(self) -> str:
        return c.ACTION_HANDOFF

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = _said(tracker)
        if not asks_for_person(text) and (chitchat(text) or remark(text)):
            # NLU heard a person request in chit-chat (侬吃过了伐): answer it as chit-chat.
            _chat(dispatcher, tracker, text)
            return []
        if not asks_for_person(text) and (_section_follow_up(tracker, text) or commercial(text)):
            # "那有没有咨询电话" asks the service's phone number, not for a person; "想找个人帮我代理记账，
            # 有推荐吗" asks for a provider to recommend, which the answer declines.
            return await ActionAnswerGuide().run(dispatcher, tracker, domain)
        _hand_off(dispatcher, tracker)
        return []


class ActionSmalltalk(Action):
    """Greetings, thanks, goodbyes and questions about the bot: the intent's response."""

    def name(self) -> str:
        return c.ACTION_SMALLTALK

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent, _ = intent_of(tracker)
        text = _said(tracker)
        if asks_for_person(text):
            # "Are you a robot? I want a real person": the person request wins.
            return _handed_off(dispatcher, tracker)
        if _section_follow_up(tracker, text):
            # "在哪查", "要几钿", "what documents?" after an aside: NLU heard small talk in a few
            # words that ask about the service under discussion.
            return await ActionAnswerGuide().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response=c.SMALLTALK_RESPONSES.get(intent or "", "utter_greet"))
        _report(dispatcher, tracker, SMALLTALK)
        return []


class ActionAffirm(Action):
    """"Yes": to an offer of a person, it is a handoff; otherwise a short acknowledgement."""

    def name(self) -> str:
        return c.ACTION_AFFIRM

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = _said(tracker)
        if asks_for_person(text):
            return _handed_off(dispatcher, tracker)
        if _section_follow_up(tracker, text):  # "算了，先问下要交钱吗？": a question, not a yes
            return await ActionAnswerGuide().run(dispatcher, tracker, domain)
        if tracker.get_slot(c.SLOT_HANDOFF_OFFERED):
            return _handed_off(dispatcher, tracker)
        dispatcher.utter_message(text="好的。还有什么可以帮您？")
        _report(dispatcher, tracker, SMALLTALK)
        return []


class ActionDeny(Action):
    """"No": to an offer of a person, the bot carries on; otherwise a short acknowledgement."""

    def name(self) -> str:
        return c.ACTION_DENY

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = _said(tracker)
        if asks_for_person(text):  # "不要机器人，转人工"
            return _handed_off(dispatcher, tracker)
        if _section_follow_up(tracker, text):  # "不收钱吧": a question about the service, not a no
            return await ActionAnswerGuide().run(dispatcher, tracker, domain)
        if tracker.get_slot(c.SLOT_HANDOFF_OFFERED):
            dispatcher.utter_message(text="好的，那您可以换个说法继续问我，需要时随时说“转人工”。")
        else:
            dispatcher.utter_message(text="好的。还有什么可以帮您？")
        _report(dispatcher, tracker, SMALLTALK)
        return [SlotSet(c.SLOT_HANDOFF_OFFERED, False)]
