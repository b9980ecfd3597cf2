"""Editors' rules on their own: synonym expansion and the out-of-scope marks' similarity."""

from __future__ import annotations

import pytest

from knowledge_base.normalize import Segmenter
from knowledge_base.rules import Rules, rules_json


@pytest.fixture
def segmenter() -> Segmenter:
    return Segmenter()


def test_a_group_expands_a_question_with_its_other_terms(segmenter: Segmenter) -> None:
    groups = [["沪牌", "非营业性客车额度", "沪牌额度"], ["绿本", "机动车登记证书"]]
    rules = Rules.build(groups, segmenter=segmenter)
    assert rules.expand("沪牌怎么拍") == "沪牌怎么拍 非营业性客车额度 沪牌额度"
    assert rules.expand("機動車登記證書丟了") == "機動車登記證書丟了 绿本"  # folded: 繁体 and width
    assert rules.expand("护照怎么办") == "护照怎么办"


def test_groups_need_two_distinct_terms(segmenter: Segmenter) -> None:
    rules = Rules.build([["沪牌"], ["沪牌", "沪牌 "], ["", "  "]], segmenter=segmenter)
    assert rules.synonyms == ()


def test_the_terms_are_kept_whole_by_their_segmenter_only(segmenter: Segmenter) -> None:
    other = Segmenter()
    Rules.build([["汪汪星球", "护照"]], segmenter=segmenter)
    assert segmenter.is_word("汪汪星球") and not other.is_word("汪汪星球")


def test_marks_match_nearly_the_same_question_only(segmenter: Segmenter) -> None:
    rules = Rules.build(out_of_scope=["出版物经营许可证怎么办理"], segmenter=segmenter)
    assert rules.marked_out_of_scope("出版物经营许可证怎么办理？") == "出版物经营许可证怎么办理"
    assert rules.marked_out_of_scope("食品经营许可证怎么办理") is None
    assert rules.marked_out_of_scope("") is None
    assert Rules().marked_out_of_scope("出版物经营许可证怎么办理") is None


def test_the_overlay_form_round_trips_and_is_stable(segmenter: Segmenter) -> None:
    raw = rules_json([["沪牌", "非营业性客车额度"]], ["出版物经营许可证怎么办理"])
    assert raw == rules_json([["沪牌", "非营业性客车额度"]], ["出版物经营许可证怎么办理"])
    again = Rules.parse(raw, segmenter=segmenter)
    assert again.synonyms == (("沪牌", "非营业性客车额度"),)
    assert again.out_of_scope == ("出版物经营许可证怎么办理",)
    assert Rules.parse("not json", segmenter=segmenter) == Rules()
    assert Rules.parse(None, segmenter=segmenter) == Rules()
