"""Rasa SDK actions: thin adapters from the tracker to the guide and handoff services."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import constants as c
from actions.guide_service import Context, Decision, GuideService
from actions.kb import get_kb
from knowledge_base.search import SearchError

log = logging.getLogger(__name__)

OFFER_BUTTONS = [{"title": "好的，转人工", "payload": "/affirm"}, {"title": "不用了", "payload": "/deny"}]
OFFER_AFTER_MISSES = "看来我暂时没能帮上您。需要为您转接人工客服（店小二）吗？"
OFFER_AFTER_COMPLAINT = "非常抱歉给您带来了不好的体验。需要为您转接人工客服（店小二）吗？"


def _entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value else None


def _turn(decision: Decision) -> dict[str, Any]:
    return {
        "outcome": decision.outcome,
        "service_id": decision.service_id,
        "section": decision.section,
        "candidates": [cand.service_id for cand in decision.candidates[:5]],
        "confidence": round(float(decision.confidence), 4),
    }


# Anger or complaint words: whatever the intent, such a message is first met with an apology and
# an offer of a person (a complaint that also asks a clear question still gets its answer).
_ANGRY = re.compile(
    r"气死|垃圾|太差|真差|投诉|什么破|烦死|火大|无语|太过分|恶劣|耍人|踢皮球|推来推去|不满意|浪费时间"
    r"|一点用都没有|没有用|办个事这么难|terrible|useless|ridiculous"
)


_CLAUSES = re.compile(r"[，,。.！!？?；;…\s]+")


def _without_complaint(text: str) -> str:
    """The question in a message, without its angry clauses (they name no service and only
    lower the search's confidence); the whole text when nothing else is left."""
    kept = [part for part in _CLAUSES.split(text) if part and not _ANGRY.search(part.lower())]
    return "，".join(kept) or text


def _context(tracker: Tracker) -> Context:
    return Context(
        service_id=tracker.get_slot(c.SLOT_SERVICE),
        section=tracker.get_slot(c.SLOT_SECTION),
        pending_section=tracker.get_slot(c.SLOT_PENDING_SECTION),
        candidates=tracker.get_slot(c.SLOT_CANDIDATES) or [],
    )


def _decide(tracker: Tracker, *, strict: bool) -> tuple[GuideService, Decision]:
    """The knowledge base's decision for the latest message (a search outage degrades here)."""
    service = GuideService(get_kb())
    try:
        decision = service.decide(
            _without_complaint(tracker.latest_message.get("text") or ""),
            _context(tracker),
            service_hint=_entity(tracker, c.ENTITY_SERVICE),
            section_hint=_entity(tracker, c.ENTITY_SECTION),
            strict=strict,
        )
    except SearchError:
        # The one place where a search outage is turned into a reply: say so, offer a person.
        log.exception("knowledge base search failed")
        decision = service.unavailable()
    return service, decision


def _utter(dispatcher: CollectingDispatcher, decision: Decision) -> None:
    """The decision's text, buttons, card and turn block."""
    dispatcher.utter_message(text=decision.text, buttons=decision.buttons)
    custom: dict[str, Any] = {c.TURN_KEY: _turn(decision)}
    if decision.card:
        custom["card"] = decision.card
    dispatcher.utter_message(json_message=custom)


def _answered(decision: Decision) -> list[EventType]:
    """Slots that keep an answered service in context for follow-ups."""
    return [
        SlotSet(c.SLOT_SERVICE, decision.service_id),
        SlotSet(c.SLOT_SECTION, decision.section),
        SlotSet(c.SLOT_PENDING_SECTION, None),
        SlotSet(c.SLOT_MISSES, 0.0),
    ]


class ActionAnswerGuide(Action):
    """Answer a question from the service guides, ask which service, or say we cannot."""

    def name(self) -> str:
        return c.ACTION_ANSWER_GUIDE

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        _, decision = _decide(tracker, strict=intent == c.INTENT_OUT_OF_SCOPE)
        angry = bool(_ANGRY.search((tracker.latest_message.get("text") or "").lower()))
        if angry:
            dispatcher.utter_message(text=OFFER_AFTER_COMPLAINT, buttons=OFFER_BUTTONS)
        _utter(dispatcher, decision)

        events: list[EventType] = [SlotSet(c.SLOT_HANDOFF_OFFERED, angry)]
        if decision.outcome == c.OUTCOME_ANSWER:
            events += _answered(decision)
        elif decision.outcome == c.OUTCOME_CLARIFY:
            events += [
                SlotSet(c.SLOT_CANDIDATES, [cand.service_id for cand in decision.candidates]),
                SlotSet(c.SLOT_PENDING_SECTION, decision.section),
            ]
        else:
            misses = float(tracker.get_slot(c.SLOT_MISSES) or 0) + 1
            if misses >= c.MISSES_BEFORE_OFFER and not angry:
                # Twice in a row the bot could not help: offer a person first (yes queues, no resumes).
                dispatcher.utter_message(text=OFFER_AFTER_MISSES, buttons=OFFER_BUTTONS)
                events += [SlotSet(c.SLOT_HANDOFF_OFFERED, True), SlotSet(c.SLOT_MISSES, 0.0)]
            else:
                events.append(SlotSet(c.SLOT_MISSES, misses))
        return events


def _hand_off(dispatcher: CollectingDispatcher) -> None:
    """Tell the user a person is coming; the gateway queues on the handoff outcome."""
    dispatcher.utter_message(response="utter_handoff")
    dispatcher.utter_message(json_message={c.TURN_KEY: {"outcome": c.OUTCOME_HANDOFF}})


class ActionHandoff(Action):
    """The user asked for a person."""

    def name(self) -> str:
        return c.ACTION_HANDOFF

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        _hand_off(dispatcher)
        return []


class ActionOfferHandoff(Action):
    """An angry or complaining message: apologise and offer a person (yes queues)."""

    def name(self) -> str:
        return c.ACTION_OFFER_HANDOFF

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=OFFER_AFTER_COMPLAINT, buttons=OFFER_BUTTONS)
        events: list[EventType] = [SlotSet(c.SLOT_HANDOFF_OFFERED, True)]
        # A complaint that also asks something clear ("跑了三趟公积金还没提出来，到底要什么材料")
        # still gets its answer after the apology; only a clear answer, never a guess.
        _, decision = _decide(tracker, strict=True)
        if decision.outcome == c.OUTCOME_ANSWER:
            _utter(dispatcher, decision)
            return events + _answered(decision)
        dispatcher.utter_message(json_message={c.TURN_KEY: {"outcome": c.OUTCOME_OUT_OF_SCOPE}})
        return events


class ActionAffirm(Action):
    """"Yes": to an offer of a person, it is a handoff; otherwise a short acknowledgement."""

    def name(self) -> str:
        return c.ACTION_AFFIRM

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot(c.SLOT_HANDOFF_OFFERED):
            _hand_off(dispatcher)
            return [SlotSet(c.SLOT_HANDOFF_OFFERED, False), SlotSet(c.SLOT_MISSES, 0.0)]
        dispatcher.utter_message(text="好的。还有什么可以帮您？")
        dispatcher.utter_message(json_message={c.TURN_KEY: {"outcome": c.OUTCOME_SMALLTALK}})
        return []


class ActionDeny(Action):
    """"No": to an offer of a person, the bot carries on; otherwise a short acknowledgement."""

    def name(self) -> str:
        return c.ACTION_DENY

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot(c.SLOT_HANDOFF_OFFERED):
            dispatcher.utter_message(text="好的，那您可以换个说法继续问我，需要时随时说“转人工”。")
        else:
            dispatcher.utter_message(text="好的。还有什么可以帮您？")
        dispatcher.utter_message(json_message={c.TURN_KEY: {"outcome": c.OUTCOME_SMALLTALK}})
        return [SlotSet(c.SLOT_HANDOFF_OFFERED, False)]
