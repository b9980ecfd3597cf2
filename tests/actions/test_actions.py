"""The Rasa SDK actions with a real Tracker and CollectingDispatcher over the real knowledge base."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import constants as c
from actions.actions import (
    CHITCHAT,
    OFFER_AFTER_COMPLAINT,
    OFFER_AFTER_MISSES,
    OFFER_BUTTONS,
    REMARK,
    ActionAffirm,
    ActionAnswerGuide,
    ActionDeny,
    ActionHandoff,
    ActionSmalltalk,
)
from actions.guide_service import FOLLOW_UP_CONFIDENCE
from actions.services import Services, use
from contract.turn import ASK_HUMAN, TURN_KEY, guide_payload
from knowledge_base.constants import SECTIONS
from knowledge_base.engine import KnowledgeBase
from knowledge_base.search import SearchError
from tools.stack import ROOT

DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
NOT_FOUND = "没有找到对应的办事指南"


@pytest.fixture(autouse=True)
def services(kb: KnowledgeBase) -> Iterator[Services]:
    """The actions' services around the module's knowledge base, removed after each test."""
    installed = Services.of(kb)
    use(installed)
    yield installed
    use(None)


def tracker(text: str, intent: str | None, confidence: float = 0.95,
            entities: list[dict[str, Any]] | None = None, **slots: Any) -> Tracker:
    """A tracker whose latest message is `text`, with the domain's initial slots and `slots`."""
    initial = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence} if intent else {},
              "entities": entities or []}
    return Tracker("test-user", {**initial, **slots}, latest, events=[], paused=False,
                   followup_action=None, active_loop={}, latest_action_name=None)


async def run(action: Action, tr: Tracker) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Run an action: the slots it sets (last value wins), its messages, and its turn block."""
    dispatcher = CollectingDispatcher()
    events: list[EventType] = await action.run(dispatcher, tr, DOMAIN)
    assert all(e["event"] == "slot" for e in events), events
    turns = [m["custom"][TURN_KEY] for m in dispatcher.messages if TURN_KEY in m["custom"]]
    assert len(turns) == 1, dispatcher.messages  # every turn reports itself exactly once
    return {e["name"]: e["value"] for e in events}, dispatcher.messages, turns[0]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m["text"]]


def test_action_names_are_the_domains() -> None:
    from actions.declarations import ActionDeclarationEnd, ActionDeclarationStart, ValidateDeclarationForm

    names = [a().name() for a in (ActionAnswerGuide, ActionHandoff, ActionSmalltalk, ActionAffirm,
                                  ActionDeny, ActionDeclarationStart, ValidateDeclarationForm,
                                  ActionDeclarationEnd)]
    assert sorted(names) == sorted(DOMAIN["actions"])


# --- the guide action ---------------------------------------------------------------------------

async def test_a_clear_question_is_answered_and_kept_in_context() -> None:
    slots, messages, turn = await run(ActionAnswerGuide(),
                                      tracker("开公司要带什么材料", "ask_guide", 0.93, misses=1.0))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("answer", "ent-setup", "materials")
    assert turn["intent"] == "ask_guide" and turn["handoff"] == "none"
    assert 0.6 <= turn["confidence"] <= 1.0 and turn["candidates"][0] == "ent-setup"
    assert slots == {c.SLOT_HANDOFF_OFFERED: False, c.SLOT_SERVICE: "ent-setup",
                     c.SLOT_SECTION: "materials", c.SLOT_PENDING_SECTION: None, c.SLOT_MISSES: 0.0}
    answer = messages[0]
    assert answer["text"].startswith("【") and "所需材料" in answer["text"]
    assert guide_payload("ent-setup", "fee") in [b["payload"] for b in answer["buttons"]]
    assert guide_payload("ent-setup", "materials") not in [b["payload"] for b in answer["buttons"]]
    card = messages[-1]["custom"]["card"]
    assert (card["type"], card["service_id"], card["section"]) == ("guide", "ent-setup", "materials")


async def test_a_follow_up_is_answered_for_the_service_in_context() -> None:
    slots, _, turn = await run(ActionAnswerGuide(), tracker(
        "要多久", "ask_guide", 0.9, service_id="ent-setup", section="materials"))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("answer", "ent-setup", "time_limit")
    assert turn["confidence"] == FOLLOW_UP_CONFIDENCE
    assert (slots[c.SLOT_SERVICE], slots[c.SLOT_SECTION]) == ("ent-setup", "time_limit")


@pytest.mark.parametrize(("text", "intent", "section"), [
    ("在哪查", "greet", "channel"), ("要几钿", "bot_challenge", "fee"),
    ("what documents?", "greet", "materials"),
])
async def test_a_section_question_nlu_took_for_small_talk_answers_the_service_in_context(
        text: str, intent: str, section: str) -> None:
    _, _, turn = await run(ActionSmalltalk(), tracker(text, intent, 0.6, service_id="ent-setup",
                                                      section="overview"))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("answer", "ent-setup", section)


async def test_a_section_question_read_as_yes_no_or_a_person_request_is_answered() -> None:
    _, _, turn = await run(ActionAffirm(), tracker("算了，先问下要交钱吗？", "affirm", 0.6,
                                                   service_id="labor-arbitration", section="overview",
                                                   handoff_offered=True))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("answer", "labor-arbitration", "fee")
    _, _, turn = await run(ActionHandoff(), tracker("那有没有咨询电话", "handoff", 0.6,
                                                    service_id="tax-invoice", section="materials"))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("answer", "tax-invoice", "contact")
    _, _, turn = await run(ActionDeny(), tracker("不收钱吧", "deny", 0.6, service_id="ent-food-license",
                                                 section="materials"))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("answer", "ent-food-license", "fee")


async def test_a_provider_to_recommend_read_as_a_person_request_is_declined_not_queued() -> None:
    _, messages, turn = await run(ActionHandoff(),
                                  tracker("我想找个人帮我代理记账，有推荐吗", "ask_human", 0.8))
    assert turn["outcome"] == "out_of_scope" and turn["handoff"] == "none"
    assert "不推荐" in messages[0]["text"]


async def test_small_talk_without_a_service_in_context_stays_small_talk() -> None:
    _, _, turn = await run(ActionSmalltalk(), tracker("在哪查", "greet", 0.6))
    assert turn["outcome"] == "smalltalk"


async def test_an_ambiguous_question_asks_which_service() -> None:
    slots, messages, turn = await run(ActionAnswerGuide(), tracker("公积金取钱的事", "ask_guide", 0.7))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("clarify", None, None)
    assert {"hpf-withdraw-rent", "hpf-withdraw-buy"} <= set(slots[c.SLOT_CANDIDATES])
    assert turn["candidates"] == slots[c.SLOT_CANDIDATES][:5]
    assert c.SLOT_PENDING_SECTION in slots and c.SLOT_SERVICE not in slots
    assert slots[c.SLOT_HANDOFF_OFFERED] is False and c.SLOT_MISSES not in slots
    buttons = messages[0]["buttons"]
    assert [b["payload"] for b in buttons[:-1]] == [guide_payload(s) for s in slots[c.SLOT_CANDIDATES]]
    assert buttons[-1]["payload"] == ASK_HUMAN


async def test_two_misses_in_a_row_offer_a_person_on_the_second() -> None:
    slots, messages, turn = await run(ActionAnswerGuide(), tracker("帮我订一张明天的机票", "out_of_scope"))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("out_of_scope", None, None)
    assert slots == {c.SLOT_HANDOFF_OFFERED: False, c.SLOT_MISSES: 1.0}
    assert any(NOT_FOUND in t for t in texts(messages)) and OFFER_AFTER_MISSES not in texts(messages)

    slots, messages, turn = await run(ActionAnswerGuide(),
                                      tracker("股票明天会涨吗", "out_of_scope", misses=1.0))
    assert turn["outcome"] == "out_of_scope"
    assert slots == {c.SLOT_HANDOFF_OFFERED: True, c.SLOT_MISSES: 0.0}
    offer = next(m for m in messages if m["text"] == OFFER_AFTER_MISSES)
    assert offer["buttons"] == OFFER_BUTTONS


@pytest.mark.parametrize("intent", ["ask_guide", "complain"])
async def test_a_complaint_with_a_clear_question_gets_an_apology_and_the_answer(intent: str) -> None:
    slots, messages, turn = await run(ActionAnswerGuide(),
                                      tracker("什么破系统，公积金租房提取要带什么材料", intent, 0.8))
    assert [m["text"] for m in messages[:1]] == [OFFER_AFTER_COMPLAINT]
    assert messages[0]["buttons"] == OFFER_BUTTONS
    assert messages[1]["text"].startswith("【") and NOT_FOUND not in messages[1]["text"]
    assert (turn["outcome"], turn["service_id"], turn["section"]) == (
        "answer", "hpf-withdraw-rent", "materials")
    assert slots[c.SLOT_HANDOFF_OFFERED] is True and slots[c.SLOT_SERVICE] == "hpf-withdraw-rent"


@pytest.mark.parametrize(("text", "intent"), [("气死我了", "complain"), ("你们这服务也太差了", "complain"),
                                              ("太过分了", "out_of_scope")])
async def test_a_complaint_without_a_question_gets_only_the_apology(text: str, intent: str) -> None:
    slots, messages, turn = await run(ActionAnswerGuide(), tracker(text, intent, misses=1.0))
    assert texts(messages) == [OFFER_AFTER_COMPLAINT]
    assert (turn["outcome"], turn["service_id"], turn["section"]) == ("out_of_scope", None, None)
    assert turn["intent"] == intent
    assert slots == {c.SLOT_HANDOFF_OFFERED: True}  # no miss counted: the offer is already made


async def test_a_button_answers_its_service_and_section() -> None:
    payload = guide_payload("passport", "fee")
    entities = [{"entity": "service_id", "value": "passport"}, {"entity": "section", "value": "fee"}]
    slots, messages, turn = await run(ActionAnswerGuide(), tracker(
        payload, "ask_guide", 1.0, entities, service_id="ent-setup", section="materials"))
    assert (turn["outcome"], turn["service_id"], turn["section"], turn["confidence"]) == (
        "answer", "passport", "fee", 1.0)
    assert turn["candidates"] == []
    assert (slots[c.SLOT_SERVICE], slots[c.SLOT_SECTION]) == ("passport", "fee")
    assert messages[0]["text"].startswith("【") and "收费" in messages[0]["text"].split("\n")[0]


async def test_a_button_for_a_service_only_answers_the_pending_section() -> None:
    entities = [{"entity": "service_id", "value": "hpf-withdraw-rent"}]
    _, _, turn = await run(ActionAnswerGuide(), tracker(
        guide_payload("hpf-withdraw-rent"), "ask_guide", 1.0, entities, pending_section="time_limit"))
    assert (turn["outcome"], turn["service_id"], turn["section"]) == (
        "answer", "hpf-withdraw-rent", "time_limit")


async def test_a_search_outage_says_so_and_offers_a_person(
        kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(query: str, k: int = 10) -> list[Any]:
        raise SearchError("connection refused")

    monkeypatch.setattr(kb.backend, "search", down)
    slots, messages, turn = await run(ActionAnswerGuide(), tracker("开公司要带什么材料", "ask_guide"))
    assert any("暂时不可用" in t for t in texts(messages))
    assert messages[0]["buttons"] == [{"title": "转人工客服", "payload": ASK_HUMAN}]
    assert (turn["outcome"], turn["service_id"], turn["section"], turn["confidence"]) == (
        "out_of_scope", None, None, 0.0)
    # The reply itself offered a person: "好的" now hands off, and no miss is counted.
    assert slots == {c.SLOT_HANDOFF_OFFERED: True, c.SLOT_MISSES: 0.0}


async def test_a_second_outage_in_a_row_offers_a_person_once(
        kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(query: str, k: int = 10) -> list[Any]:
        raise SearchError("connection refused")

    monkeypatch.setattr(kb.backend, "search", down)
    _, messages, _ = await run(ActionAnswerGuide(), tracker("开公司要带什么材料", "ask_guide", misses=1.0))
    said = texts(messages)
    assert len(said) == 1 and "暂时不可用" in said[0], said  # not "shall I find you a person?" too


# --- handoff, yes and no, small talk ---------------------------------------------------------------

async def test_asking_for_a_person_hands_off() -> None:
    slots, messages, turn = await run(ActionHandoff(), tracker("转人工", "ask_human", 0.99))
    assert slots == {}
    assert messages[0]["response"] == "utter_handoff"
    assert (turn["outcome"], turn["intent"], turn["confidence"], turn["handoff"]) == (
        "handoff", "ask_human", 0.99, "none")  # the gateway queues, not the action
    assert (turn["service_id"], turn["section"]) == (None, None)


async def test_yes_after_an_offer_hands_off() -> None:
    slots, messages, turn = await run(ActionAffirm(),
                                      tracker("好的", "affirm", 0.98, handoff_offered=True, misses=1.0))
    assert turn["outcome"] == "handoff" and messages[0]["response"] == "utter_handoff"
    assert slots == {c.SLOT_HANDOFF_OFFERED: False, c.SLOT_MISSES: 0.0}


async def test_yes_without_an_offer_is_small_talk() -> None:
    slots, messages, turn = await run(ActionAffirm(), tracker("好的", "affirm", 0.98))
    assert turn["outcome"] == "smalltalk" and turn["intent"] == "affirm"
    assert texts(messages) == ["好的。还有什么可以帮您？"] and slots == {}


@pytest.mark.parametrize(("offered", "says"), [(True, "需要时随时说“转人工”"), (False, "还有什么可以帮您")])
async def test_no_carries_on(offered: bool, says: str) -> None:
    slots, messages, turn = await run(ActionDeny(), tracker("不用了", "deny", handoff_offered=offered))
    assert turn["outcome"] == "smalltalk" and turn["intent"] == "deny"
    assert says in texts(messages)[0]
    assert slots == {c.SLOT_HANDOFF_OFFERED: False}


@pytest.mark.parametrize(("intent", "response"), sorted(c.SMALLTALK_RESPONSES.items()))
async def test_small_talk_uses_the_intents_response(intent: str, response: str) -> None:
    slots, messages, turn = await run(ActionSmalltalk(), tracker("你好", intent, 0.97))
    assert response in DOMAIN["responses"]
    assert messages[0]["response"] == response
    assert (turn["outcome"], turn["intent"], turn["confidence"]) == ("smalltalk", intent, 0.97)
    assert slots == {}


@pytest.mark.parametrize(("text", "intent"), [
    ("窗口办事也太慢了，投诉！给我找个负责人来", "complain"),
    ("不要机器人回答，我要跟真人讲", "out_of_scope"),
    ("Can I talk to a real human please", "nlu_fallback"),
])
async def test_a_request_for_a_person_in_any_words_queues_at_once(text: str, intent: str) -> None:
    slots, messages, turn = await run(ActionAnswerGuide(), tracker(text, intent, 0.7, misses=1.0))
    assert turn["outcome"] == "handoff" and messages[0]["response"] == "utter_handoff"
    assert OFFER_AFTER_COMPLAINT not in texts(messages)  # no "shall I?" before it
    assert slots == {c.SLOT_HANDOFF_OFFERED: False, c.SLOT_MISSES: 0.0}


@pytest.mark.parametrize(("action", "intent"), [(ActionAffirm(), "affirm"), (ActionDeny(), "deny"),
                                                (ActionSmalltalk(), "bot_challenge")])
async def test_a_person_request_read_as_yes_no_or_small_talk_still_queues(
        action: Action, intent: str) -> None:
    _, messages, turn = await run(action, tracker("你是机器人吧？不要机器人，转人工", intent, 0.6))
    assert turn["outcome"] == "handoff" and messages[0]["response"] == "utter_handoff"


@pytest.mark.parametrize(("text", "intent"), [
    ("你有驾照吗", "ask_guide"),          # a service's keyword, asked of the bot
    ("侬交社保伐", "ask_human"),          # NLU heard a person request
    ("do you have a passport?", "nlu_fallback"),
    ("哈哈哈哈", "out_of_scope"),
])
async def test_chit_chat_to_the_bot_is_small_talk_not_a_guide(text: str, intent: str) -> None:
    action = ActionHandoff() if intent == "ask_human" else ActionAnswerGuide()
    slots, messages, turn = await run(action, tracker(text, intent, 0.6))
    assert texts(messages) == [CHITCHAT]
    assert (turn["outcome"], turn["service_id"]) == ("smalltalk", None)
    assert slots == {}


async def test_a_remark_is_met_kindly_not_with_no_guide_found() -> None:
    slots, messages, turn = await run(ActionAnswerGuide(), tracker("唉，今天好累", "out_of_scope", 0.5))
    assert texts(messages) == [REMARK] and turn["outcome"] == "smalltalk" and slots == {}


async def test_a_button_with_an_unknown_section_does_not_crash() -> None:
    """A typed or stale payload naming no section of ours (it used to raise KeyError: Rasa got a
    500 from the action server and the gateway answered 503)."""
    entities = [{"entity": "service_id", "value": "passport"}, {"entity": "section", "value": "foo"}]
    _, _, turn = await run(ActionAnswerGuide(), tracker(
        '/ask_guide{"service_id": "passport", "section": "foo"}', "ask_guide", 1.0, entities))
    assert (turn["outcome"], turn["service_id"]) == ("answer", "passport")
    assert turn["section"] in SECTIONS
