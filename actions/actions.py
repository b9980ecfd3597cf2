"""Rasa SDK actions: thin adapters from the tracker to the guide and handoff services."""

from __future__ import annotations

import logging
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


class ActionAnswerGuide(Action):
    """Answer a question from the service guides, ask which service, or say we cannot."""

    def name(self) -> str:
        return c.ACTION_ANSWER_GUIDE

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        ctx = Context(
            service_id=tracker.get_slot(c.SLOT_SERVICE),
            section=tracker.get_slot(c.SLOT_SECTION),
            pending_section=tracker.get_slot(c.SLOT_PENDING_SECTION),
            candidates=tracker.get_slot(c.SLOT_CANDIDATES) or [],
        )
        service = GuideService(get_kb())
        try:
            decision = service.decide(
                text,
                ctx,
                service_hint=_entity(tracker, c.ENTITY_SERVICE),
                section_hint=_entity(tracker, c.ENTITY_SECTION),
                strict=intent == c.INTENT_OUT_OF_SCOPE,
            )
        except SearchError:
            # The one place where a search outage is turned into a reply: say so, offer a person.
            log.exception("knowledge base search failed")
            decision = service.unavailable()
        dispatcher.utter_message(text=decision.text, buttons=decision.buttons)
        custom: dict[str, Any] = {c.TURN_KEY: _turn(decision)}
        if decision.card:
            custom["card"] = decision.card
        dispatcher.utter_message(json_message=custom)

        events: list[EventType] = [SlotSet(c.SLOT_HANDOFF_OFFERED, False)]
        if decision.outcome == c.OUTCOME_ANSWER:
            events += [
                SlotSet(c.SLOT_SERVICE, decision.service_id),
                SlotSet(c.SLOT_SECTION, decision.section),
                SlotSet(c.SLOT_PENDING_SECTION, None),
                SlotSet(c.SLOT_MISSES, 0.0),
            ]
        elif decision.outcome == c.OUTCOME_CLARIFY:
            events += [
                SlotSet(c.SLOT_CANDIDATES, [cand.service_id for cand in decision.candidates]),
                SlotSet(c.SLOT_PENDING_SECTION, decision.section),
            ]
        else:
            misses = float(tracker.get_slot(c.SLOT_MISSES) or 0) + 1
            if misses >= c.MISSES_BEFORE_OFFER:
                # Twice in a row the bot could not help: offer a person first (yes queues, no resumes).
                dispatcher.utter_message(text=OFFER_AFTER_MISSES, buttons=OFFER_BUTTONS)
                events += [SlotSet(c.SLOT_HANDOFF_OFFERED, True), SlotSet(c.SLOT_MISSES, 0.0)]
            else:
                events.append(SlotSet(c.SLOT_MISSES, misses))
        return events


class ActionHandoff(Action):
    """The user asked for a person."""

    def name(self) -> str:
        return c.ACTION_HANDOFF

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff")
        dispatcher.utter_message(json_message={c.TURN_KEY: {"outcome": c.OUTCOME_HANDOFF}})
        return []


class ActionOfferHandoff(Action):
    """An angry or complaining message: apologise and offer a person (yes queues)."""

    def name(self) -> str:
        return c.ACTION_OFFER_HANDOFF

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=OFFER_AFTER_COMPLAINT, buttons=OFFER_BUTTONS)
        dispatcher.utter_message(json_message={c.TURN_KEY: {"outcome": c.OUTCOME_OUT_OF_SCOPE}})
        return [SlotSet(c.SLOT_HANDOFF_OFFERED, True)]


class ActionAffirm(Action):
    """"Yes": to an offer of a person, it is a handoff; otherwise a short acknowledgement."""

    def name(self) -> str:
        return c.ACTION_AFFIRM

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot(c.SLOT_HANDOFF_OFFERED):
            dispatcher.utter_message(response="utter_handoff")
            dispatcher.utter_message(json_message={c.TURN_KEY: {"outcome": c.OUTCOME_HANDOFF}})
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
