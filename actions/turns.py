"""How every action ends its turn: the NLU reading of the message and the one turn block it sends."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from contract.turn import TURN_KEY, Outcome, turn_block


def intent_of(tracker: Tracker) -> tuple[str | None, float]:
    """NLU's intent of the latest message and its confidence."""
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def report(dispatcher: CollectingDispatcher, tracker: Tracker, outcome: Outcome, *,
           confidence: float | None = None, service_id: str | None = None, section: str | None = None,
           candidates: list[str] | None = None, declaration: dict[str, Any] | None = None,
           custom: dict[str, Any] | None = None) -> None:
    """End the turn with its turn block (plus any card), as one custom message; the confidence is
    NLU's unless the action decided with its own."""
    intent, nlu_confidence = intent_of(tracker)
    block = turn_block(outcome, intent=intent,
                       confidence=nlu_confidence if confidence is None else confidence,
                       service_id=service_id, section=section, candidates=candidates,
                       declaration=declaration)
    dispatcher.utter_message(json_message={TURN_KEY: block, **(custom or {})})
