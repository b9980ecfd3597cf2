"""Editors' rules on their own: synonym expansion and the out-of-scope marks' similarity."""

from __future__ import annotations

from knowledge_base.rules import Rules, rules_json


def test_a_group_expands_a_question_with_its_other_terms() -> None:
    rules = Rules.build([["沪牌", "非营业性客车额度", "沪牌额度"], ["绿本", "机动车登记证书"]])
    assert rules.expand("沪牌怎么拍") == "沪牌怎么拍 非营业性客车额度 沪牌额度"
    assert rules.expand("機動車登記證書丟了") == "機動車登記證書丟了 绿本"  # folded: 繁体 and width
    assert rules.expand("护照怎么办") == "护照怎么办"


def test_groups_need_two_distinct_terms() -> None:
    rules = Rules.build([["沪牌"], ["沪牌", "沪牌 "], ["", "  "]])
    assert rules.synonyms == ()


def test_marks_match_nearly_the_same_question_only() -> None:
    rules = Rules.build(out_of_scope=["出版物经营许可证怎么办理"])
    assert rules.marked_out_of_scope("出版物经营许可证怎么办理？") == "出版物经营许可证怎么办理"
    assert rules.marked_out_of_scope("食品经营许可证怎么办理") is None
    assert rules.marked_out_of_scope("") is None
    assert Rules().marked_out_of_scope("出版物经营许可证怎么办理") is None


def test_the_overlay_form_round_trips_and_is_stable() -> None:
    raw = rules_json([["沪牌", "非营业性客车额度"]], ["出版物经营许可证怎么办理"])
    assert raw == rules_json([["沪牌", "非营业性客车额度"]], ["出版物经营许可证怎么办理"])
    again = Rules.parse(raw)
    assert again.synonyms == (("沪牌", "非营业性客车额度"),)
    assert again.out_of_scope == ("出版物经营许可证怎么办理",)
    assert Rules.parse("not json") == Rules() and Rules.parse(None) == Rules()
