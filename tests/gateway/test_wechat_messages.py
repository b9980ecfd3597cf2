"""Parsing WeChat pushes and degrading rich answers to WeChat text."""

from __future__ import annotations

import pytest

from connectors.gateway.wechat.messages import BadMessage, degrade, parse_body
from connectors.gateway.wechat.service import choice_number


def test_xml_and_json_pushes_give_the_same_fields() -> None:
    xml = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o-user]]></FromUserName>"
        "<CreateTime>1714036504</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[你好]]></Content><MsgId>42</MsgId></xml>"
    )
    as_json = (
        '{"ToUserName": "gh_1", "FromUserName": "o-user", "CreateTime": 1714036504, '
        '"MsgType": "text", "Content": "你好", "MsgId": 42}'
    )
    assert parse_body(xml) == (parse_body(as_json)[0], "xml")
    assert parse_body(as_json)[0]["MsgId"] == "42"


@pytest.mark.parametrize(
    "body", [b"", b"<xml>", b"[1, 2]", b"hello", b'<!DOCTYPE x [<!ENTITY a "b">]><xml>&a;</xml>']
)
def test_bad_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(BadMessage):
        parse_body(body)


def test_a_guide_answer_reads_as_numbered_text_with_reply_numbers() -> None:
    text, choices = degrade(
        [
            {
                "text": "【企业设立登记】所需材料\n- 公司章程（**全体股东签署**）\n- 住所使用证明\n"
                "- 身份证件",
                "buttons": [
                    {
                        "title": "办理流程",
                        "payload": '/ask_guide{"service_id": "ent-setup", "section": "process"}',
                    },
                    {
                        "title": "收费标准",
                        "payload": '/ask_guide{"service_id": "ent-setup", "section": "fee"}',
                    },
                    {"title": "转人工客服", "payload": "/ask_human"},
                    {
                        "title": "咨询电话",
                        "payload": '/ask_guide{"service_id": "ent-setup", "section": "contact"}',
                    },
                ],
                "custom": {"card": {"type": "guide", "service_id": "ent-setup"}},
            }
        ]
    )
    assert "1. 公司章程（全体股东签署）\n2. 住所使用证明\n3. 身份证件" in text
    assert "**" not in text and "- " not in text
    assert "1. 办理流程\n2. 收费标准\n3. 转人工客服\n4. 咨询电话" in text
    assert "回复 1 / 2 / 3 …" in text
    assert choices[2] == "/ask_human"


def test_rating_and_queue_status_become_text() -> None:
    text, choices = degrade(
        [
            {"text": None, "buttons": [], "custom": {"handoff": {"status": "queued", "position": 3}}},
            {"text": "请评价", "buttons": [], "custom": {"rating": {"options": [1, 2, 3, 4, 5]}}},
        ]
    )
    assert "前面还有 3 位" in text
    assert choices == [f'/rate{{"score": {n}}}' for n in range(1, 6)]


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), (" 2 ", 2), ("３", 3), ("12", 12), ("一", None), ("1个", None), ("123", None), ("", None)],
)
def test_choice_numbers(text: str, number: int | None) -> None:
    assert choice_number(text) == number
