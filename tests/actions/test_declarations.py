"""Smart declarations through the real actions, with a real Tracker and CollectingDispatcher.

`Form` plays Rasa's part as the form loop does it (tests/bot and tests/integration run real Rasa):
the words fill the requested slot (from_text), the validation action runs, and when it sets
requested_slot to None the wrap-up action runs. The store is a real SQLite database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import constants as c
from actions.declaration_service import DeclarationService
from actions.declarations import ActionDeclarationEnd, ActionDeclarationStart, ValidateDeclarationForm
from actions.services import Services, use
from contract.turn import TURN_KEY
from declarations.catalog import load_catalog
from declarations.prefill import LocalCitizenData
from knowledge_base.engine import KnowledgeBase
from records.db import Database
from records.declarations import SqlDeclarationStore

# A fictional 74-year-old of 黄浦区 in the citizen-data stand-in (declarations/citizen_data/PERSONAS.md).
ELDER = ("王建国", "310101195205121074")


@pytest.fixture
def store(tmp_path: Path) -> SqlDeclarationStore:
    db = Database(f"sqlite:///{tmp_path / 'records.db'}")
    db.migrate()
    return SqlDeclarationStore(db)


@pytest.fixture(autouse=True)
def services(kb: KnowledgeBase, store: SqlDeclarationStore) -> Iterator[Services]:
    installed = Services.of(kb, DeclarationService(load_catalog(), store, LocalCitizenData()))
    use(installed)
    yield installed
    use(None)


class Form:
    """One conversation driven through the declaration actions the way Rasa's form loop runs them."""

    def __init__(self, sender: str = "web-decl-1") -> None:
        self.sender = sender
        self.slots: dict[str, Any] = {}
        self.active = False
        self.turns: list[dict[str, Any]] = []

    def _tracker(self, text: str, intent: str, entities: list[dict[str, Any]]) -> Tracker:
        latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities}
        return Tracker(self.sender, dict(self.slots), latest, events=[], paused=False, followup_action=None,
                       active_loop={"name": c.FORM_DECLARATION} if self.active else {},
                       latest_action_name="action_listen")

    async def _run(self, action: Any, tr: Tracker, out: list[dict[str, Any]]) -> list[EventType]:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, tr, {})
        for e in events:
            if e["event"] == "slot":
                self.slots[e["name"]] = e["value"]
        out.extend(dispatcher.messages)
        return events

    async def say(self, text: str, intent: str = "ask_guide",
                  entities: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The user's message; the bot's messages (the turn block checked: exactly one)."""
        out: list[dict[str, Any]] = []
        requested = self.slots.get("requested_slot")
        if self.active and requested:
            self.slots[requested] = text  # from_text while the slot is asked
        if not self.active:
            tr = self._tracker(text, intent, entities or [])
            events = await self._run(ActionDeclarationStart(), tr, out)
            if any(e["event"] == "followup" and e["name"] == c.FORM_DECLARATION for e in events):
                self.active = True
                self.slots["requested_slot"] = None
                await self._run(ValidateDeclarationForm(), self._tracker(text, intent, entities or []), out)
        else:
            await self._run(ValidateDeclarationForm(), self._tracker(text, intent, entities or []), out)
        if self.active and self.slots.get("requested_slot") is None:
            self.active = False
            await self._run(ActionDeclarationEnd(), self._tracker(text, intent, entities or []), out)
        turns = [m["custom"][TURN_KEY] for m in out if TURN_KEY in (m.get("custom") or {})]
        assert len(turns) == 1, out
        self.turns.append(turns[0])
        return out

    @property
    def turn(self) -> dict[str, Any]:
        return self.turns[-1]

    @property
    def asking(self) -> str | None:
        return (self.turn.get("declaration") or {}).get("field")


def text_of(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] or "" for m in messages)


def card_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m["custom"]["declaration_card"] for m in messages
                if "declaration_card" in (m.get("custom") or {}))


async def answer_until(form: Form, answers: dict[str, str]) -> None:
    """Answer each question the bot asks from `answers` (by field) until it asks something else."""
    while form.asking in answers:
        await form.say(answers[form.asking])


async def test_with_consent_most_of_the_application_is_prefilled_and_recorded() -> None:
    form = Form()
    messages = await form.say("帮我申报老年综合津贴", "declare")
    assert form.turn["outcome"] == "declaration" and form.turn["service_id"] == "elder-allowance"
    assert form.turn["declaration"] == {"id": "elder-allowance", "status": "asking", "field": "consent",
                                        "ref": None}
    assert [b["title"] for b in messages[-2]["buttons"]] == ["同意授权", "不同意"]
    await answer_until(form, {"consent": "同意授权", "applicant_role": "本人", "elder_name": ELDER[0]})
    messages = await form.say(ELDER[1])
    assert "预填" in text_of(messages)
    # Pre-filled: 本市户籍, 户籍地址, 居住在户籍地, 联系电话, 发放账户 — none of them asked.
    assert form.turn["declaration"]["status"] == "confirming"
    summary = text_of(messages)
    assert "来自电子证照" in summary and "黄浦区" in summary
    messages = await form.say("确认提交")
    block = form.turn["declaration"]
    assert block["status"] == "done" and block["ref"].startswith("XS")
    card = card_of(messages)
    assert card["prefill_share"] >= 0.8
    sources = {f["key"]: f["source"] for f in card["application"]}
    assert sources["name"] == "user" and sources["hukou_address"] == "prefill" and sources["age"] == "derived"
    exempt = {m["name"] for m in card["checklist"] if m["exempt"]}
    assert "老人的居民户口簿" in exempt  # checked online: the office has the 户口簿 电子证照


async def test_without_consent_nothing_is_read_and_every_question_is_asked(
        store: SqlDeclarationStore) -> None:
    form = Form()
    await form.say("帮我申报老年综合津贴", "declare")
    asked = []
    answers = {"consent": "不同意", "applicant_role": "1", "elder_name": ELDER[0],
               "elder_id_number": ELDER[1], "ethnicity": "汉族", "hukou_shanghai": "是",
               "hukou_address": "上海市黄浦区南京东路100弄1号", "lives_at_hukou": "是",
               "phone": "13900001001", "payment_account": "社保卡"}
    while form.asking in answers:
        asked.append(form.asking)
        await form.say(answers[form.asking])
    assert asked == list(answers)
    messages = await form.say("确认")
    card = card_of(messages)
    assert not any(m["exempt"] for m in card["checklist"])
    assert {f["source"] for f in card["application"]} <= {"user", "derived"}
    record = store.by_ref(form.turn["declaration"]["ref"])
    assert record is not None and record.sender_id == "web-decl-1"
    assert record.progress["records"] == {}  # no lookup ran


async def test_an_invalid_answer_is_asked_again_with_the_reason() -> None:
    form = Form()
    await form.say("帮我申报老年综合津贴", "declare")
    await answer_until(form, {"consent": "不同意", "applicant_role": "本人", "elder_name": ELDER[0]})
    messages = await form.say("310101195205121075")  # last digit wrong
    assert "校验位" in text_of(messages) and form.asking == "elder_id_number"
    messages = await form.say(ELDER[1])
    assert form.asking == "ethnicity"
    await form.say("汉族")
    await form.say("是")
    messages = await form.say("南京路")
    assert "完整地址" in text_of(messages) and form.asking == "hukou_address"


async def test_change_an_answer_go_back_and_ask_a_guide_question_in_the_middle() -> None:
    form = Form()
    await form.say("帮我申报老年综合津贴", "declare")
    await answer_until(form, {"consent": "不同意", "applicant_role": "本人", "elder_name": "王建国"})
    await form.say("上一步")
    assert form.asking == "elder_name"
    await form.say("王建军")
    await form.say(ELDER[1])
    messages = await form.say("老年综合津贴每个月发多少钱？")
    assert form.asking == "ethnicity"  # answered, then the same question again
    assert "【老年综合津贴申领】" in text_of(messages) and "我们继续申报" in text_of(messages)
    await answer_until(form, {"ethnicity": "汉族", "hukou_shanghai": "是",
                              "hukou_address": "上海市黄浦区南京东路100弄1号",
                              "lives_at_hukou": "是", "phone": "13900001001", "payment_account": "社保卡"})
    assert form.turn["declaration"]["status"] == "confirming"
    await form.say("改一下联系电话")
    assert form.asking == "phone"
    messages = await form.say("13900001002")
    assert form.turn["declaration"]["status"] == "confirming" and "13900001002" in text_of(messages)
    assert "王建军" in text_of(messages)


async def test_pause_then_resume_with_the_code_in_another_conversation() -> None:
    web = Form("web-decl-2")
    await web.say("帮我申报老年综合津贴", "declare")
    await answer_until(web, {"consent": "不同意", "applicant_role": "本人", "elder_name": ELDER[0]})
    messages = await web.say("先暂停，明天再办")
    assert web.turn["declaration"]["status"] == "paused"
    code = next(w for w in text_of(messages).replace("：", " ").replace("（", " ").split() if len(w) == 6
                and w.isalnum() and w.isupper())
    wechat = Form("wx-ofakeuser")
    messages = await wechat.say(f"续办 {code}", "declare")
    assert "恢复" in text_of(messages) and wechat.asking == "elder_id_number"  # where it stopped
    await wechat.say(ELDER[1])
    assert wechat.asking == "ethnicity"


async def test_cancel_and_an_answer_that_rules_the_application_out() -> None:
    form = Form()
    await form.say("帮我申报老年综合津贴", "declare")
    await form.say("不同意")
    messages = await form.say("取消申报")
    assert form.turn["declaration"]["status"] == "cancelled" and "已取消" in text_of(messages)
    form = Form("web-decl-3")
    await form.say("帮我申报老年综合津贴", "declare")
    for said in ("不同意", "本人", "赵美华", "310107196206151366"):  # 64 years old
        messages = await form.say(said)
    assert form.turn["declaration"]["status"] == "cancelled" and "65 周岁" in text_of(messages)


async def test_asking_for_a_person_in_the_middle_pauses_and_hands_off() -> None:
    form = Form()
    await form.say("帮我申报老年综合津贴", "declare")
    await form.say("不同意")
    await form.say("帮我转人工客服", "ask_human")
    assert form.turn["outcome"] == "handoff"
    assert form.turn["declaration"]["status"] == "paused"


async def test_a_record_is_shown_only_to_its_own_conversation() -> None:
    form = Form("web-owner")
    await form.say("帮我申报老年综合津贴", "declare")
    await answer_until(form, {"consent": "同意", "applicant_role": "本人", "elder_name": ELDER[0],
                              "elder_id_number": ELDER[1]})
    await form.say("确认提交")
    ref = form.turn["declaration"]["ref"]
    messages = await Form("web-owner").say(f"查询申报 {ref}", "declare")
    assert ref in text_of(messages)
    stranger = await Form("web-stranger").say(f"查询申报 {ref}", "declare")
    assert ref not in text_of(stranger) and "没有找到" in text_of(stranger)


async def test_a_request_without_a_declaration_named_offers_the_menu() -> None:
    form = Form()
    messages = await form.say("帮我申报", "declare")
    assert form.turn["outcome"] == "clarify"
    assert len([b for m in messages for b in m.get("buttons") or []]) >= 6


async def test_resume_in_the_same_conversation_after_its_rasa_session_expired() -> None:
    form = Form("web-decl-expiry")
    await form.say("帮我申报老年综合津贴", "declare")
    await answer_until(form, {"consent": "不同意", "applicant_role": "本人", "elder_name": ELDER[0]})
    assert form.asking == "elder_id_number"
    fresh = Form("web-decl-expiry")  # a new Rasa session: slots and the form are gone
    messages = await fresh.say("继续申报", "declare")
    assert "恢复" in text_of(messages) and fresh.asking == "elder_id_number"


class CountingSource(LocalCitizenData):
    """The stand-in, counting every read."""

    reads = 0

    def person(self, id_number: str, name: str) -> dict[str, Any] | None:
        CountingSource.reads += 1
        return super().person(id_number, name)


async def test_without_consent_the_citizen_data_is_never_read(kb: KnowledgeBase,
                                                             store: SqlDeclarationStore) -> None:
    use(Services.of(kb, DeclarationService(load_catalog(), store, CountingSource())))
    form = Form("web-decl-noread")
    await form.say("帮我申报老年综合津贴", "declare")
    await answer_until(form, {"consent": "不同意", "applicant_role": "本人", "elder_name": ELDER[0],
                              "elder_id_number": ELDER[1]})
    assert CountingSource.reads == 0 and form.asking == "ethnicity"  # asked, not pre-filled


async def test_asked_to_fill_in_a_service_without_a_declaration_says_so_and_offers_the_guide() -> None:
    form = Form()
    messages = await form.say("帮我申请公租房", "declare")
    assert form.turn["outcome"] == "clarify"
    assert "还不能在小申里智能申报" in text_of(messages)
    payloads = [b["payload"] for m in messages for b in m.get("buttons") or []]
    assert any("public-rental" in p for p in payloads)  # its guide
    assert any(p.startswith("/declare") for p in payloads)  # and the declarations we have


async def test_a_question_nlu_took_for_a_request_is_answered_as_a_question() -> None:
    form = Form()
    messages = await form.say("开公司要带什么材料", "declare")
    assert form.turn["outcome"] == "answer" and form.turn["service_id"] == "ent-setup"
    assert "所需材料" in text_of(messages) and not form.active
