"""Words of ours typed as a wrong character of the same sound (knowledge_base.spelling)."""

from __future__ import annotations

import pytest

from knowledge_base.normalize import Segmenter
from knowledge_base.schema import Guide
from knowledge_base.spelling import Homophones


@pytest.fixture(scope="module")
def segmenter(fixture_guides: list[Guide]) -> Segmenter:
    segmenter = Segmenter()
    segmenter.add_guides(fixture_guides)
    segmenter.add_words(["食品经营许可证", "企业年报", "长护险", "报关单位备案"])
    return segmenter


@pytest.mark.parametrize(("typed", "meant"), [
    ("食品精营许可证到期了怎么办", "食品经营许可证到期了怎么办"),
    ("企业年包怎么填", "企业年报怎么填"),
    ("长户险评估要带什么材料", "长护险评估要带什么材料"),
    ("海关报官备案要交钱吗", "海关报关备案要交钱吗"),
])
def test_a_slip_of_the_pinyin_keyboard_is_read_as_the_word_meant(
        segmenter: Segmenter, typed: str, meant: str) -> None:
    assert segmenter.respell(typed) == meant


@pytest.mark.parametrize("text", [
    "外国股东护照要公正认证吗",  # 公正 is a word of its own, not a slip for 公证
    "老人身份证和医保卡就行吗",  # 和医 sounds like 合一, but 医保卡 begins at 医
    "可以不办吗",  # 不办 is not a slip for 补办
    "我一直没欠钱",  # nor 没欠 for 没钱
    "老人多大年纪能领",  # words only: nothing single to mistake
    "How long does the passport take?",
])
def test_real_words_and_common_characters_are_left_alone(segmenter: Segmenter, text: str) -> None:
    assert segmenter.respell(text) == text


def test_a_word_added_later_is_corrected_to_from_then_on() -> None:
    segmenter = Segmenter()
    assert segmenter.respell("乐龄咔怎么办") == "乐龄咔怎么办"
    segmenter.add_words(["乐龄卡"])
    assert segmenter.respell("乐龄咔怎么办") == "乐龄卡怎么办"


def test_a_word_of_ours_wins_a_sound_it_shares_with_a_neighbours_word() -> None:
    """A neighbour service's 保管 (印章保管) must not make 报官 stop meaning our 报关; a sound two of our
    own words share stays uncorrected, and a neighbour's word is corrected to where it is alone."""
    def cut(run: str) -> list[str]:
        return list(run)

    ours = Homophones(["报关"], {}, cut, others=["保管", "网签"])
    assert ours.correct("海关报官备案") == "海关报关备案"
    assert ours.correct("商品房往签") == "商品房网签"
    assert Homophones(["报关", "保管"], {}, cut).correct("海关报官备案") == "海关报官备案"
