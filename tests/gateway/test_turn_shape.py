"""Rasa's REST messages become contract messages; the action's turn block is relayed as it is."""

from __future__ import annotations

from typing import Any

from connectors.gateway.chat import shape_messages
from contract.turn import Turn, turn_block


def test_turn_custom_message_is_taken_out_and_card_attached() -> None:
    raw: list[dict[str, Any]] = [
        {"recipient_id": "u", "text": "【居住证】所需材料",
         "buttons": [{"title": "办理时限", "payload": "/x"}]},
        {"recipient_id": "u", "custom": {
            "turn": turn_block("answer", intent="ask_guide", confidence=0.9, service_id="residence-permit",
                               section="materials", candidates=["residence-permit"]),
            "card": {"type": "guide"}}},
    ]
    messages, block = shape_messages(raw)
    assert len(messages) == 1
    assert messages[0].custom == {"card": {"type": "guide"}}
    assert messages[0].buttons[0].title == "办理时限"
    turn = Turn.from_action(block)
    assert turn.outcome == "answer" and turn.service_id == "residence-permit"
    assert turn.confidence == 0.9 and turn.intent == "ask_guide" and turn.handoff == "none"
    assert "declaration" not in turn.model_dump()


def test_a_turn_without_a_block_is_not_guessed_from_the_text() -> None:
    _, block = shape_messages([{"recipient_id": "u", "text": "您好"}])
    turn = Turn.from_action(block)
    assert turn.outcome == "out_of_scope" and turn.intent is None
    assert turn.service_id is None and turn.candidates == []


def test_service_is_not_reported_unless_answered() -> None:
    turn = Turn.from_action({"outcome": "clarify", "service_id": "x", "candidates": ["a", "b"],
                             "intent": "ask_guide", "confidence": 0.5})
    assert turn.service_id is None and turn.candidates == ["a", "b"]
    assert turn_block("smalltalk", intent="greet", confidence=0.97, service_id="x")["service_id"] is None


def test_declaration_turns_carry_their_block() -> None:
    turn = Turn.from_action({"outcome": "declaration", "service_id": "ent-setup", "section": "materials",
                             "declaration": {"id": "ent-setup", "status": "asking", "field": "name",
                                             "ref": None}})
    dumped = turn.model_dump()
    assert dumped["declaration"]["status"] == "asking" and dumped["service_id"] == "ent-setup"
