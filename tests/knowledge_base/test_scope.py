"""Another place's version of a service is not ours; a place someone comes from does not count."""

from __future__ import annotations

import pytest

from knowledge_base.scope import elsewhere


@pytest.mark.parametrize(("question", "place"), [
    ("杭州开公司要啥材料？", "杭州"),
    ("在深圳办居住证需要什么条件", "深圳"),
    ("我老家南京的，孩子在南京出生，新生儿报户口怎么办", "南京"),
    ("I'm moving to Beijing next month. How do I renew my driving license there?", "beijing"),
    ("蘇州買房提取公積金流程", "苏州"),
])
def test_a_service_asked_about_another_place(question: str, place: str) -> None:
    assert elsewhere(question) == place


@pytest.mark.parametrize("question", [
    "我老家是安徽的，在上海工作交社保三年了，能办社保卡吗",
    "我是河南户口，护照可以在这边办吗",
    "湖南人能办居住证吗",
    "上个月出差在成都急诊，自己垫付了三千，零星报销怎么办",
    "去香港旅游要办什么证",
    "在上海的北京人可以办居住证吗",
    "开公司要带什么材料",
])
def test_shanghai_questions_with_a_place_in_them(question: str) -> None:
    assert elsewhere(question) is None
