"""Smart declarations end to end over /api/chat: real Rasa form, action server, database, gateway.

Every shipped declaration is filled in from its case table (tests/declarations/cases) the way a
user types: option labels, 是/否; then the record is read back through the API with the
conversation's token, and refused to anyone else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from declarations.catalog import load_catalog
from tests.integration.conftest import Chat
from tools.stack import Stack

CATALOG = load_catalog()
_TABLES = [yaml.safe_load(p.read_text(encoding="utf-8"))
           for p in sorted((Path(__file__).parents[1] / "declarations" / "cases").glob("*.yaml"))]
CASES = {table["declaration"]: table for table in _TABLES}
ELDER = ("王建国", "310101195205121074")  # fictional, in declarations/citizen_data/citizens.yaml


def typed(decl_id: str, field: str, stored: str) -> str:
    """How a user types a stored answer: an option's label, 是/否, or the value itself."""
    decl = CATALOG.get(decl_id)
    assert decl is not None
    q = decl.question(field)
    if q is not None and q.type == "choice":
        return next(o.label for o in q.options if o.value == stored)
    if q is not None and q.type == "yes_no":
        return {"yes": "是", "no": "否"}[stored]
    return stored


def block(reply: dict[str, Any]) -> dict[str, Any]:
    turn = reply["turn"]
    assert turn["outcome"] == "declaration", reply
    return dict(turn["declaration"])


@pytest.mark.parametrize("decl_id", sorted(CATALOG.declarations))
def test_a_straight_path_through_every_declaration(decl_id: str, chat: Chat, gateway: httpx.Client) -> None:
    decl = CATALOG.get(decl_id)
    assert decl is not None
    situation = next(s for s in CASES[decl_id]["situations"] if not s.get("stop"))
    answers = {k: str(v) for k, v in situation["answers"].items()}
    reply = chat(f"帮我申报{decl.title}")
    token = reply["conversation_token"]
    state = block(reply)
    assert state["id"] == decl_id and reply["turn"]["service_id"] == decl.service_id
    asked = 0
    while state["status"] == "asking":
        field = state["field"]
        said = "不同意" if field == "consent" else typed(decl_id, field, answers[field])
        reply = chat(said)
        state = block(reply)
        asked += 1
        assert asked < 45, "the interview does not end"
    assert state["status"] == "confirming", reply
    reply = chat("确认提交")
    state = block(reply)
    assert state["status"] == "done" and state["ref"]
    card = next(m["custom"]["declaration_card"] for m in reply["messages"]
                if "declaration_card" in m["custom"])
    names = {m["name"] for m in card["checklist"]}
    assert set(situation.get("materials_include", [])) <= names
    assert not set(situation.get("materials_exclude", [])) & names

    own = gateway.get(f"/api/declarations/{state['ref']}", headers={"X-Conversation-Token": token})
    assert own.status_code == 200, own.text
    assert own.json()["checklist"] == card["checklist"]
    stranger = httpx.get(f"{gateway.base_url}/api/declarations/{state['ref']}",
                         headers={"X-Conversation-Token": "not-the-token"})
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "conversation_forbidden"
    assert httpx.get(f"{gateway.base_url}/api/declarations/{state['ref']}").status_code == 403


def test_with_consent_the_application_is_prefilled_from_the_citizen_data(chat: Chat) -> None:
    block(chat("帮我申报老年综合津贴"))
    for said in ("同意授权", "老人本人申请", ELDER[0]):
        block(chat(said))
    reply = chat(ELDER[1])
    assert block(reply)["status"] == "confirming"
    assert "预填" in reply["messages"][0]["text"]
    reply = chat("确认提交")
    card = next(m["custom"]["declaration_card"] for m in reply["messages"]
                if "declaration_card" in m["custom"])
    assert card["prefill_share"] >= 0.8
    assert any(f["source"] == "prefill" and "电子证照库" in (f["record"] or "") for f in card["application"])


def test_invalid_answer_guide_question_change_and_cancel(chat: Chat) -> None:
    block(chat("我要申报老年综合津贴"))
    for said in ("不同意", "本人", ELDER[0]):
        block(chat(said))
    reply = chat("310101195205121075")
    assert block(reply)["field"] == "elder_id_number" and "校验位" in reply["messages"][0]["text"]
    assert block(chat(ELDER[1]))["field"] == "ethnicity"
    reply = chat("老年综合津贴要交什么材料？")
    assert block(reply)["field"] == "ethnicity"  # answered, then asked again
    assert any("身份证" in (m["text"] or "") for m in reply["messages"])
    block(chat("汉族"))
    assert block(chat("上一步"))["field"] == "ethnicity"
    reply = chat("取消申报")
    assert block(reply)["status"] == "cancelled"
    assert chat("你好")["turn"]["outcome"] == "smalltalk"  # the conversation goes on normally


def test_pause_and_resume_in_another_conversation_with_the_code(chat: Chat, gateway: httpx.Client,
                                                                new_sender: Any) -> None:
    block(chat("帮我申报老年综合津贴"))
    for said in ("不同意", "本人"):
        block(chat(said))
    reply = chat("先暂停，回头再办")
    state = block(reply)
    assert state["status"] == "paused"
    text = "\n".join(m["text"] or "" for m in reply["messages"])
    code = text.split("续办码：", 1)[1][:6]
    other = new_sender()
    resp = gateway.post("/api/chat", json={"sender_id": other, "message": f"续办 {code}", "channel": "web"})
    assert resp.status_code == 200, resp.text
    state = block(resp.json())
    assert state["status"] == "asking" and state["field"] == "elder_name"


def test_a_declaration_survives_killing_the_gateway_and_rasa(chat: Chat, stack: Stack) -> None:
    """Mid-interview, the gateway and Rasa are killed and started again: the same conversation
    (its token) carries on at the question it was at, with the answers given before."""
    block(chat("帮我申报老年综合津贴"))
    for said in ("不同意", "子女或他人代办"):
        block(chat(said))
    assert block(chat(ELDER[0]))["field"] == "elder_id_number"
    stack.kill_and_restart("gateway", "rasa")
    reply = chat(ELDER[1])
    assert block(reply)["field"] == "ethnicity"
    for said in ("汉族", "是", "上海市黄浦区顺昌路412弄17号302室", "是", "13900001001", "社保卡", "王小明",
                 "110105198001010016"):
        reply = chat(said)
    assert block(reply)["status"] == "confirming"
    summary = reply["messages"][-1]["text"] or ""
    assert "子女或他人代办" in summary and "王建国" in summary  # answers from before the restart
    assert block(chat("确认提交"))["status"] == "done"


def test_a_bare_declare_payload_without_a_request_is_answered_not_looped(chat: Chat) -> None:
    """NLU's `declare` on words that ask nothing: answered like any question, in one action (a
    follow-up action once made Rasa loop until its circuit breaker and the turn failed)."""
    reply = chat("/declare")
    assert reply["turn"]["outcome"] in ("out_of_scope", "clarify", "answer")
    assert reply["messages"]
    assert chat("你好")["turn"]["outcome"] == "smalltalk"
