"""KnowledgeBase: ranking with calibrated confidence, edits, and the bot's decision."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from knowledge_base import rerank
from knowledge_base.calibration import training_examples
from knowledge_base.engine import (
    ANSWER_THRESHOLD,
    CLARIFY_THRESHOLD,
    Candidate,
    KnowledgeBase,
    decide,
)
from knowledge_base.rerank import GuideClassifier, ScoreTable
from knowledge_base.schema import Guide
from tests.knowledge_base.conftest import segmenter_for

HELDOUT = Path(__file__).resolve().parent.parent / "data" / "heldout_questions.jsonl"


def c(service_id: str, score: float) -> Candidate:
    return Candidate(service_id, service_id, score)


@pytest.mark.parametrize(
    ("candidates", "outcome", "offered"),
    [
        ([], "out_of_scope", []),
        ([c("a", 0.1)], "out_of_scope", []),
        ([c("a", 0.95), c("b", 0.1)], "answer", ["a"]),
        ([c("a", 0.95)], "answer", ["a"]),
        ([c("a", 0.7), c("b", 0.6), c("x", 0.05)], "clarify", ["a", "b"]),
        ([c("a", 0.45), c("b", 0.2), c("d", 0.15), c("e", 0.12)], "clarify", ["a", "b", "d"]),
    ],
)
def test_decide(candidates: list[Candidate], outcome: str, offered: list[str]) -> None:
    decision = decide(candidates)
    assert decision.outcome == outcome
    assert [x.service_id for x in decision.candidates] == offered


@pytest.fixture(scope="module")
def kb(fixture_guides: list[Guide]) -> KnowledgeBase:
    base = KnowledgeBase()
    base.replace_all(fixture_guides)
    return base


def test_confidences_are_probabilities_best_first(kb: KnowledgeBase) -> None:
    ranked = kb.rank("租房提取公积金要准备啥")
    assert ranked[0].service_id == "fx-hpf-rent"
    assert all(0.0 <= x.score <= 1.0 for x in ranked)
    assert [x.score for x in ranked] == sorted((x.score for x in ranked), reverse=True)
    assert ranked[0].title == "租赁住房提取住房公积金"


def test_an_empty_knowledge_base_ranks_nothing() -> None:
    assert KnowledgeBase().rank("护照") == []


def test_upsert_and_delete_take_effect_at_once(fixture_guides: list[Guide], extra_guide: Guide) -> None:
    base = KnowledgeBase()
    base.replace_all(fixture_guides)
    started = time.perf_counter()
    base.upsert(extra_guide)
    assert time.perf_counter() - started < 1.0
    assert base.rank("办狗证")[0].service_id == "fx-dog-license"
    assert base.get("fx-dog-license") == extra_guide
    assert base.delete("fx-dog-license") is True
    assert base.get("fx-dog-license") is None
    assert "fx-dog-license" not in {x.service_id for x in base.rank("办狗证")}
    assert base.delete("fx-dog-license") is False


def test_an_edit_is_refitted_fully_in_the_background(fixture_guides: list[Guide], extra_guide: Guide) -> None:
    base = KnowledgeBase()
    base.replace_all(fixture_guides)
    base.upsert(extra_guide)
    quick = base._ranker.classifier
    assert base.rank("办狗证")[0].service_id == "fx-dog-license"  # answered before the full fit
    assert base.settle(timeout=30)
    full = base._ranker.classifier
    assert full is not quick
    fresh = GuideClassifier(training_examples([*fixture_guides, extra_guide]), base.segmenter)
    for question in ("办狗证", "租房提取公积金要准备啥", "护照过期了"):
        got, want = full.scores(question)[0], fresh.scores(question)[0]
        assert got.keys() == want.keys()
        assert max(abs(got[k] - want[k]) for k in want) < 0.01, question
    assert base.rank("办狗证")[0].service_id == "fx-dog-license"


def test_a_burst_of_edits_is_refitted_once(fixture_guides: list[Guide], extra_guide: Guide) -> None:
    base = KnowledgeBase()
    base.replace_all(fixture_guides)
    base.upsert(extra_guide)
    first = base._refitting
    assert base.delete(extra_guide.id)
    assert base.settle(timeout=30)
    assert first is not None and first.finished.is_set() and first is not base._refitting
    assert "fx-dog-license" not in base._ranker.classifier.labels


def test_load_reads_a_directory(tmp_path: Path, fixture_guides: list[Guide]) -> None:
    source = Path(__file__).resolve().parent / "fixtures" / "guides"
    base = KnowledgeBase(guides_dir=source)
    result = base.load()
    assert not result.errors
    assert base.ids() == sorted(g.id for g in fixture_guides)


# ---- the real guides ------------------------------------------------------------------------

OFF_TOPIC = [
    "北京明天下雨吗",
    "帮我订一张去成都的机票",
    "怎么炒股赚钱",
    "推荐几本好看的小说",
    "iphone 怎么截图",
    "隔壁装修太吵了",
    "牙疼吃什么药",
    "xyzzy plugh",
]


@pytest.fixture(scope="module")
def real_kb(real_guides: list[Guide]) -> KnowledgeBase:
    base = KnowledgeBase()
    base.replace_all(real_guides)
    return base


def test_a_long_story_does_not_make_a_clear_question_unsure(real_kb: KnowledgeBase) -> None:
    story = ("我们小区去年新交付，我刚从老家搬过来，什么都还没弄好，物业也不太管事，电梯天天坏。"
             "燃气开通要怎么申请？")
    whole = real_kb._rank(story, 1)[0]  # the message as one text, background and all
    ranked = real_kb.rank(story)
    assert ranked[0].service_id == whole.service_id == "utility-gas"
    assert ranked[0].score > whole.score
    assert decide(ranked).outcome == "answer"


def test_calibration_ran_on_the_real_guides(real_kb: KnowledgeBase) -> None:
    report = real_kb.calibration
    assert report is not None and report.fitted
    assert report.top1_accuracy > 0.85


def test_heldout_questions_rank_well_and_are_rarely_answered_wrongly(real_kb: KnowledgeBase) -> None:
    rows = [json.loads(line) for line in HELDOUT.read_text("utf-8").splitlines() if line.strip()]
    top1 = wrong_answers = 0
    for row in rows:
        ranked = real_kb.rank(row["q"])
        top1 += int(bool(ranked) and ranked[0].service_id == row["service"])
        decision = decide(ranked)
        wrong_answers += int(
            decision.outcome == "answer" and decision.candidates[0].service_id != row["service"]
        )
    assert top1 / len(rows) >= 0.93
    assert wrong_answers / len(rows) <= 0.03


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_never_answered(real_kb: KnowledgeBase, question: str) -> None:
    ranked = real_kb.rank(question)
    assert decide(ranked).outcome != "answer", ranked[:2]


def test_high_confidence_is_earned(real_kb: KnowledgeBase) -> None:
    confident = [x for x in real_kb.rank("护照过期了怎么换新的") if x.score >= ANSWER_THRESHOLD]
    assert [x.service_id for x in confident] == ["passport"]
    vague = real_kb.rank("社保")
    assert decide(vague).outcome == "clarify"
    assert vague[0].score >= CLARIFY_THRESHOLD


def test_a_classifier_trained_from_the_previous_one_scores_like_a_cold_one(
        fixture_guides: list[Guide], extra_guide: Guide) -> None:
    segmenter = segmenter_for([*fixture_guides, extra_guide])
    cold_before = GuideClassifier(training_examples(fixture_guides), segmenter)
    everything = [*fixture_guides, extra_guide]
    warm = GuideClassifier(training_examples(everything), segmenter, previous=cold_before)
    cold = GuideClassifier(training_examples(everything), segmenter)
    assert warm.labels == cold.labels
    for question in ("办狗证", "护照怎么办", "身份证丢了", "结婚登记要带什么"):
        w, c = warm.scores(question)[0], cold.scores(question)[0]
        assert max(abs(w[k] - c[k]) for k in c) < 0.01, question


def test_a_catalog_too_large_for_logistic_regression_still_names_the_right_guide(
        fixture_guides: list[Guide], monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_LOGISTIC_GUIDES the classifier is nearest-centroid: still a probability per guide,
    highest for the guide a question names."""
    segmenter = segmenter_for(fixture_guides)
    logistic = GuideClassifier(training_examples(fixture_guides), segmenter)
    monkeypatch.setattr(rerank, "MAX_LOGISTIC_GUIDES", 1)
    centroid = GuideClassifier(training_examples(fixture_guides), segmenter)
    assert centroid._model is None and logistic._model is not None
    for question in ("办狗证", "护照怎么办", "身份证丢了", "结婚登记要带什么"):
        probs, nearest = centroid.scores(question)
        assert abs(sum(probs.values()) - 1.0) < 1e-9
        logistic_probs, logistic_nearest = logistic.scores(question)
        assert max(probs, key=probs.__getitem__) == max(logistic_probs, key=logistic_probs.__getitem__)
        assert nearest == logistic_nearest


def test_the_best_guides_of_a_score_table_break_ties_by_catalog_order() -> None:
    labels = ["a", "b", "c", "d", "e"]
    table = ScoreTable(labels, {k: i for i, k in enumerate(labels)}, np.array([0.2, 0.5, 0.2, 0.0, 0.5]),
                       np.zeros(5))
    assert table.best(table.probability, 3) == ["b", "e", "a"]
    assert table.best(table.probability, 10) == ["b", "e", "a", "c"]  # never a zero
    assert table.best(table.nearest, 2) == []
    rivals = table.rivals(table.probability)
    assert rivals.best_other("b") == 0.5 and rivals.best_other("a") == 0.5
    single = ScoreTable(["a"], {"a": 0}, np.array([0.7]), np.zeros(1)).rivals(np.array([0.7]))
    assert single.best_other("a") == 0.0 and single.best_other("z") == 0.7


def test_a_word_the_guide_never_uses_counts_against_it_unless_its_parts_are_there() -> None:
    from knowledge_base.rerank import _unnamed

    tokens = frozenset({"公积金", "提取", "公积", "积金", "金提"})
    assert not _unnamed("公积金提取", tokens)  # another guide's alias, made of this guide's words
    assert _unnamed("封存", tokens)
    assert _unnamed("补充公积金", tokens)


def test_a_clear_question_drowned_by_its_story_is_read_on_its_own(real_kb: KnowledgeBase) -> None:
    story = ("下周要坐高铁回老家参加我哥的婚礼，今天才发现身份证找不到了，可能是搬家时弄丢的。急死了，"
             "我户口在上海。请问补办身份证的流程是什么？")
    assert real_kb.rank(story)[0].service_id == "id-card"
    # A question too short to stand alone is not read on its own.
    venting = "孩子不爱写作业天天跟我吵，我都快崩溃了，气得想打他又舍不得。你说怎么办啊"
    assert real_kb.rank(venting)[0].score < 0.6
