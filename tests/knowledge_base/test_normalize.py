"""The one normalisation and tokenisation path."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.dictionary import DICTIONARY_FILE
from knowledge_base.dictionary import main as dictionary_main
from knowledge_base.engine import KnowledgeBase
from knowledge_base.normalize import (
    Segmenter,
    default_segmenter,
    jieba_dictionary_lines,
    normalize,
    tokenize,
)
from knowledge_base.rules import Rules
from knowledge_base.schema import Guide
from knowledge_base.search.embedded import EmbeddedBackend


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("護照怎麼辦理", "护照怎么办理"),
        ("結婚登記", "结婚登记"),
        ("個體戶營業執照", "个体户营业执照"),
        ("ＡＢＣ１２３", "abc123"),
        ("Passport", "护照"),
        ("公基金", "公积金"),
        ("社宝卡", "社保卡"),
        ("户口薄", "户口簿"),
        ("身分证", "身份证"),
        ("营业执造", "营业执照"),
        ("港澳通信证", "港澳通行证"),
    ],
)
def test_normalize_folds_script_width_case_and_typos(text: str, expected: str) -> None:
    assert normalize(text).split()[0] == expected


def test_punctuation_becomes_space() -> None:
    assert normalize("护照，怎么办？！（急）") == normalize("护照 怎么办 急")
    assert "," not in normalize("a，b,c") and "?" not in normalize("护照?")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("开公司", "企业设立登记"),
        ("注册公司要什么", "企业设立登记"),
        ("想开个贸易公司", "企业设立登记"),
        ("拍牌", "沪牌"),
        ("社保", "社会保险"),
        ("housing fund", "公积金"),
        ("housing provident fund", "住房公积金"),
        ("passport", "护照"),
        ("business license", "营业执照"),
        ("Driver's License", "驾驶证"),
        ("residence permits", "居住证"),
    ],
)
def test_synonyms_and_english_add_the_canonical_wording(text: str, canonical: str) -> None:
    assert canonical in normalize(text)


def test_the_users_own_wording_is_kept() -> None:
    assert normalize("开公司").startswith("开公司")


def test_stopwords_carry_no_tokens() -> None:
    assert tokenize("请问在上海怎么办理") == []
    assert tokenize("how do I do it in shanghai") == []
    assert tokenize("") == []


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("請問護照怎麼辦理？", "请问护照怎么办理"),
        ("身分證丟了怎麼補辦", "身份证丢了怎么补办"),
        ("ｐａｓｓｐｏｒｔ　ＡＰＰＬＩＣＡＴＩＯＮ", "passport application"),
        ("公基金租房提取", "公积金租房提取"),
        ("我的社宝卡丢了", "我的社保卡丢了"),
    ],
)
def test_variants_tokenise_like_the_plain_text(variant: str, plain: str) -> None:
    assert tokenize(variant) == tokenize(plain)


def test_mixed_chinese_english_and_digits() -> None:
    tokens = tokenize("我的ID card丢了 12345热线")
    assert "身份证" in tokens
    assert "12345" in tokens
    assert "热线" in tokens


def test_tokens_hold_words_and_character_bigrams() -> None:
    tokens = tokenize("租房提取公积金")
    assert "公积金" in tokens  # a word
    assert "房提" in tokens  # a bigram across words, robust to other segmentations
    assert "租房" in tokens


def test_titles_added_to_a_segmenter_stay_whole(fixture_guides: list[Guide]) -> None:
    segmenter = Segmenter()
    assert "租赁住房提取住房公积金" not in segmenter.tokenize("租赁住房提取住房公积金")
    segmenter.add_guides(fixture_guides)
    assert "租赁住房提取住房公积金" in segmenter.tokenize("租赁住房提取住房公积金")
    assert segmenter.is_word("租赁住房提取住房公积金") and not Segmenter().is_word("租赁住房提取住房公积金")


def test_dictionary_lines_cover_titles_aliases_and_lexicon(fixture_guides: list[Guide]) -> None:
    lines = jieba_dictionary_lines(fixture_guides)
    words = {line.split()[0] for line in lines}
    assert all(len(line.split()) == 2 and line.split()[1].isdigit() for line in lines)
    assert {"普通护照申领", "租房提取公积金", "公积金", "企业设立登记"} <= words
    assert not any(" " in w or w.isascii() for w in words)  # jieba words: Chinese, no spaces


def test_dictionary_cli_writes_kb_dict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixtures = Path(__file__).resolve().parent / "fixtures" / "guides"
    assert dictionary_main([str(tmp_path / "out"), "--guides", str(fixtures)]) == 0
    written = (tmp_path / "out" / DICTIONARY_FILE).read_text("utf-8").splitlines()
    assert "结婚登记 2000" in written
    assert "6 guides loaded" in capsys.readouterr().err


def test_a_word_added_later_changes_only_the_texts_that_contain_it() -> None:
    segmenter = Segmenter()
    with_word, without = "我想办理汪汪星球证书", "我想办理护照"
    before_with, before_without = segmenter.tokenize(with_word), segmenter.tokenize(without)
    assert "汪汪星球" not in before_with
    segmenter.add_words(["汪汪星球"])
    assert "汪汪星球" in segmenter.tokenize(with_word)  # the cached tokens were forgotten and redone
    assert segmenter.tokenize(without) == before_without


def test_tokenize_is_the_default_segmenters() -> None:
    assert tokenize("租房提取公积金") == default_segmenter().tokenize("租房提取公积金")
    assert default_segmenter() is default_segmenter()


def test_two_knowledge_bases_do_not_see_each_others_words() -> None:
    first, second = KnowledgeBase(), KnowledgeBase()
    assert first.segmenter is not second.segmenter
    question = "我想办理汪汪星球证书"
    before = second.segmenter.tokenize(question)
    first.set_rules(Rules.build([["汪汪星球", "护照"]], segmenter=first.segmenter))
    assert "汪汪星球" in first.segmenter.tokenize(question)
    assert second.segmenter.tokenize(question) == before
    assert "汪汪星球" not in default_segmenter().tokenize(question)


def test_a_guide_published_to_one_knowledge_base_is_segmented_there_only(extra_guide: Guide) -> None:
    first, second = KnowledgeBase(), KnowledgeBase()
    title = extra_guide.title
    assert not second.segmenter.is_word(title)
    first.upsert(extra_guide)
    assert first.segmenter.is_word(title) and title in first.segmenter.tokenize(title)
    assert not second.segmenter.is_word(title)


def test_a_knowledge_base_tokenises_with_one_segmenter_everywhere() -> None:
    kb = KnowledgeBase()
    assert kb.backend.segmenter is kb.segmenter
    with pytest.raises(ValueError, match="segmenter"):
        KnowledgeBase(EmbeddedBackend(), segmenter=Segmenter())
    with pytest.raises(ValueError, match="segmenter"):
        kb.set_rules(Rules.build([["汪汪星球", "护照"]], segmenter=Segmenter()))
    backend = EmbeddedBackend()
    assert KnowledgeBase(backend).segmenter is backend.segmenter


def test_generic_words_are_how_people_ask_not_what_they_ask_about() -> None:
    from knowledge_base.normalize import generic_words

    words = generic_words()
    assert {"居委会", "复印件", "工本费", "派出所"} <= words
    assert not {"公积金", "护照", "许可证", "食品经营"} & words  # service names in braces are left out
