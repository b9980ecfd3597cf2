"""Answer checks: each type takes what people type and refuses the rest with the specific reason."""

from __future__ import annotations

import datetime as dt

import pytest

from declarations.answers import Invalid, Valid, check_answer, read_yes_no
from declarations.schema import Question

TODAY = dt.date(2026, 12, 2)


def q(type_: str, **kw: object) -> Question:
    opts = kw.pop("options", [])
    return Question.model_validate({"field": "x", "label": "X", "ask": "?", "type": type_,
                                    "options": opts, **kw})


@pytest.mark.parametrize(("type_", "typed", "stored"), [
    ("id_number", "11010519491231002X", "11010519491231002X"),
    ("id_number", "11010519491231002x", "11010519491231002X"),  # lower-case x
    ("id_number", "110105 19491231 002X", "11010519491231002X"),  # spaces as people group it
    ("id_number", "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width digits
    ("uscc", "91110000600037341L", "91110000600037341L"),
    ("uscc", "91110000600037341l", "91110000600037341L"),
    ("phone", "13900001001", "13900001001"),
    ("phone", "139-0000-1001", "13900001001"),
    ("phone", "+8613900001001", "13900001001"),
    ("date", "2025-03-01", "2025-03-01"),
    ("date", "2025年3月1日", "2025-03-01"),
    ("date", "2025/3/1", "2025-03-01"),
    ("date", "20250301", "2025-03-01"),
    ("district", "浦东", "浦东新区"),
    ("district", "上海市徐汇区", "徐汇区"),
    ("district", "静安", "静安区"),
    ("district", "闸北", "静安区"),
    ("amount", "3000", "3000"),
    ("amount", "50万", "500000"),
    ("amount", "1,500.50元", "1500.5"),
    ("integer", "三", "3"),
    ("integer", "12个月", "12"),
    ("integer", "二十", "20"),
    ("yes_no", "是的", "yes"),
    ("yes_no", "没有", "no"),
    ("yes_no", "不同意", "no"),
    ("yes_no", "同意授权", "yes"),
    ("name", "王建国", "王建国"),
    ("address", "上海市黄浦区南京东路100弄1号", "上海市黄浦区南京东路100弄1号"),
])
def test_valid_answers_are_stored_normalised(type_: str, typed: str, stored: str) -> None:
    assert check_answer(q(type_), typed, today=TODAY) == Valid(stored)


@pytest.mark.parametrize(("type_", "typed", "reason_has"), [
    ("id_number", "110105194912310021", "校验位"),  # one digit wrong: the check digit catches it
    ("id_number", "11010519491231002", "18 位"),
    ("id_number", "110105194913310025", "出生日期"),  # month 13
    ("uscc", "91110000600037341X", "校验位"),
    ("uscc", "9111000060003734", "18 位"),
    ("phone", "12345678901", "11 位"),
    ("phone", "1390000100", "11 位"),
    ("date", "2025-02-30", "不存在"),
    ("date", "明天", "格式"),
    ("district", "杭州", "16 个区"),
    ("amount", "很多钱", "金额"),
    ("name", "王2", "不含数字"),
    ("address", "浦东", "完整地址"),
    ("yes_no", "也许吧", "是"),
])
def test_invalid_answers_get_the_specific_reason(type_: str, typed: str, reason_has: str) -> None:
    result = check_answer(q(type_), typed, today=TODAY)
    assert isinstance(result, Invalid), result
    assert reason_has in result.reason


def test_dates_respect_not_future_and_not_past() -> None:
    assert isinstance(check_answer(q("date", not_future=True), "2027-01-01", today=TODAY), Invalid)
    assert isinstance(check_answer(q("date", not_past=True), "2026-01-01", today=TODAY), Invalid)
    assert check_answer(q("date", not_future=True), "2026-12-02", today=TODAY) == Valid("2026-12-02")


def test_amounts_and_counts_respect_their_bounds() -> None:
    assert "不能小于" in check_answer(q("integer", min=1, max=50), "0").reason  # type: ignore[union-attr]
    assert "不能大于" in check_answer(q("integer", min=1, max=50), "51").reason  # type: ignore[union-attr]
    assert isinstance(check_answer(q("integer"), "2.5"), Invalid)


def test_choices_by_label_alias_number_or_a_phrase_naming_one() -> None:
    choice = q("choice", options=[{"value": "self", "label": "老人本人申请", "aliases": ["本人"]},
                                  {"value": "agent", "label": "子女或他人代办", "aliases": ["代办"]}])
    assert check_answer(choice, "老人本人申请") == Valid("self")
    assert check_answer(choice, "2") == Valid("agent")
    assert check_answer(choice, "我是帮我妈代办的") == Valid("agent")
    refused = check_answer(choice, "随便")
    assert isinstance(refused, Invalid) and "1. 老人本人申请" in refused.reason


@pytest.mark.parametrize(("typed", "read"), [("好的", "yes"), ("不需要", "no"), ("嗯", "yes"), ("no", "no"),
                                             ("还没想好", None)])
def test_yes_no_reading(typed: str, read: str | None) -> None:
    assert read_yes_no(typed) == read
