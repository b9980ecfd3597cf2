"""Rasa's REST messages become contract messages and a turn block."""

from __future__ import annotations

from connectors.gateway.chat import build_turn, shape_messages


def test_turn_custom_message_is_taken_out_and_card_attached() -> None:
    raw = [
        {"recipient_id": "u", "text": "【居住证】所需材料",
         "buttons": [{"title": "办理时限", "payload": "/x"}]},
        {"recipient_id": "u", "custom": {"turn": {"outcome": "answer", "service_id": "residence-permit",
                                                   "section": "materials", "candidates": ["residence-permit"],
                                                   "confidence": 0.9},
                                          "card": {"type": "guide"}}},
    ]
    messages, turn = shape_messages(raw)
    assert len(messages) == 1
    assert messages[0].custom == {"card": {"type": "guide"}}
    assert messages[0].buttons[0].title == "办理时限"
    block = build_turn(turn, {"intent": {"name": "ask_guide", "confidence": 0.8}})
    assert block.outcome == "answer" and block.service_id == "residence-permit"
    assert block.confidence == 0.9 and block.intent == "ask_guide" and block.handoff == "none"


def test_smalltalk_turn_comes_from_the_intent() -> None:
    _, turn = shape_messages([{"recipient_id": "u", "text": "您好"}])
    block = build_turn(turn, {"intent": {"name": "greet", "confidence": 0.97}})
    assert block.outcome == "smalltalk" and block.confidence == 0.97
    assert block.service_id is None and block.candidates == []


def test_service_is_not_reported_unless_answered() -> None:
    block = build_turn({"outcome": "clarify", "service_id": "x", "candidates": ["a", "b"]},
                       {"intent": {"name": "ask_guide", "confidence": 0.5}})
    assert block.service_id is None and block.candidates == ["a", "b"]
