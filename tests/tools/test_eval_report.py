"""The evaluation figures (tools/eval_report.py) on hand-made items and replies, and how
tools/eval.py and tools/answer_eval.py feed them (a fake bot over httpx, a fake GuideService)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from actions.guide_service import Context, GuideService, Reply
from knowledge_base.engine import Candidate
from tools import answer_eval
from tools import eval as http_eval
from tools.eval_report import (
    Got,
    Item,
    Run,
    dialogue_report,
    in_catalog,
    is_dialogue_file,
    question_report,
    score_dialogues,
    score_questions,
    summary_line,
    turn_right,
)

ITEMS: list[Item] = [
    {"q": "q1", "service": "s1", "section": "materials", "style": "plain"},
    {"q": "q2", "service": "s1", "section": "fee", "style": "plain"},
    {"q": "q3", "service": "s2", "section": "overview", "style": "colloquial"},
    {"q": "q4", "service": "s2", "section": "channel", "style": "colloquial"},
    {"q": "q5", "service": None, "section": None, "style": "colloquial"},
    {"q": "q6", "service": "none", "section": None},
    {"q": "q7", "service": "out_of_scope"},
    {"q": "q8", "service": None},
]
GOTS = [
    Got("answer", "s1", "materials", ("s1", "s2")),  # right, right section
    Got("answer", "s1", "process", ("s1",)),  # right guide, wrong section
    Got("answer", "s3", "overview", ("s3", "s4", "s5", "s2")),  # confident wrong, s2 not in top 3
    Got("clarify", None, None, ("s1", "s2")),  # not answered, s2 in top 3
    Got("out_of_scope"),  # out of catalog, right
    Got("clarify", None, None, ("s1",)),  # out of catalog, not answered
    Got("answer", "s1", "overview", ("s1",)),  # out of catalog, answered with a guide
    Got("handoff"),  # out of catalog, not answered
]

DIALOGUES: list[Item] = [
    {"id": "d1", "style": "correction", "turns": [
        {"q": "开公司要什么材料", "outcome": "answer", "service": "s1", "section": "materials"},
        {"q": "不对，是个体户", "outcome": "answer", "service": "s2", "section": "materials"},
        {"q": "谢谢", "outcome": "smalltalk", "service": None, "section": None}]},
    {"id": "d2", "style": "handoff", "turns": [
        {"q": "要钱吗", "outcome": "answer", "service": "s1", "section": "fee"},
        {"q": "转人工", "outcome": "handoff", "service": None, "section": None}]},
    {"id": "d3", "turns": [
        {"q": "今天天气", "outcome": "out_of_scope", "service": None, "section": None},
        {"q": "开公司", "outcome": "answer", "service": "s1", "section": None}]},
]
DIALOGUE_GOTS = [
    [Got("answer", "s1", "materials"), Got("answer", "s1", "materials"), Got("smalltalk")],
    [Got("answer", "s1", "fee"), Got("handoff", "s1", "fee")],
    [Got("out_of_scope"), Got("answer", "s1", "process")],
]


def test_question_figures() -> None:
    s = score_questions(ITEMS, GOTS)
    assert (s.n, s.n_in, s.n_out, s.n_section) == (8, 4, 4, 4)
    assert (s.right_in, s.section_right, s.top3_in, s.wrong_in) == (2, 1, 3, 1)
    assert (s.right_out, s.not_answered_out, s.answered_out) == (1, 2, 1)
    assert (s.top1, s.top1_in, s.section) == (3 / 8, 0.5, 0.25)
    assert dict(s.outcomes) == {"answer": 4, "clarify": 2, "out_of_scope": 1, "handoff": 1}
    assert s.misses == [1, 2, 3, 5, 6, 7]
    assert set(s.groups) == {"style"}
    plain, colloquial = s.groups["style"]["plain"], s.groups["style"]["colloquial"]
    assert (plain.n, plain.right, plain.with_section, plain.section_right, plain.answered,
            plain.confident_wrong) == (2, 2, 2, 1, 2, 0)
    assert (colloquial.n, colloquial.right, colloquial.with_section, colloquial.section_right,
            colloquial.answered, colloquial.confident_wrong) == (3, 1, 2, 0, 1, 1)
    assert s.sections.shares()["overview"] == {"n": 1, "service": 0.0, "section": 0.0}


def test_question_report_lines() -> None:
    lines = question_report("f.jsonl", ITEMS, GOTS, score_questions(ITEMS, GOTS), misses=True)
    assert lines[:5] == [
        "== f.jsonl: 8 questions (4 in catalog, 4 out of catalog)",
        "outcomes: answer 50.0%, clarify 25.0%, out_of_scope 12.5%, handoff 12.5%",
        "in catalog (4): service top-1 0.500  section 0.250 (4 with a section)  in top-3 0.750  "
        "confident wrong 1 (25.0%)",
        "out of catalog (4): out_of_scope (right) 0.250  not answered (clarify/handoff/…) 0.500  "
        "answered with a catalog guide (confident wrong) 1 (25.0%)",
        "all (8): right 0.375",
    ]
    assert "| colloquial | 3 | 0.333 | 0.000 | 0.333 | 1 |" in lines
    assert "| plain | 2 | 1.000 | 0.500 | 1.000 | 0 |" in lines
    assert "| fee | 1 | 1.000 | 0.000 |" in lines
    misses = lines[lines.index("misses (6):") + 1:]
    assert misses[0] == "- [wrong section] q2  want s1/fee  got answer s1/process cands=['s1']"
    assert [m.split("]")[0] for m in misses] == [
        "- [wrong section", "- [wrong guide", "- [not answered", "- [not out_of_scope",
        "- [answered out of catalog", "- [not out_of_scope"]


def test_no_misses_listed_unless_asked() -> None:
    lines = question_report("f.jsonl", ITEMS, GOTS, score_questions(ITEMS, GOTS))
    assert not any(line.startswith("misses") for line in lines)


def test_a_plain_in_catalog_file_keeps_the_old_summary_line() -> None:
    items = [{"q": "a", "service": "s1", "section": "fee"}, {"q": "b", "service": "s2", "section": "fee"},
             {"q": "c", "service": "s2", "section": "fee"}]
    gots = [Got("answer", "s1", "fee"), Got("answer", "s2", "materials"), Got("clarify")]
    score = score_questions(items, gots)
    assert summary_line(score) == "top1=0.667 section=0.333"
    assert not any(line.startswith(("out of catalog", "all (", "| style")) for line in
                   question_report("f", items, gots, score))


def test_an_out_of_catalog_file_has_no_section_figure() -> None:
    score = score_questions(ITEMS[4:], GOTS[4:])
    assert summary_line(score) == "top1=0.250 section=n/a"


@pytest.mark.parametrize(("turn", "got", "right"), [
    ({"outcome": "answer", "service": "s1", "section": "fee"}, Got("answer", "s1", "fee"), True),
    ({"outcome": "answer", "service": "s1", "section": "fee"}, Got("answer", "s1", "process"), False),
    ({"outcome": "answer", "service": "s1", "section": "fee"}, Got("answer", "s2", "fee"), False),
    ({"outcome": "answer", "service": "s1", "section": "fee"}, Got("clarify"), False),
    ({"outcome": "answer", "service": "s1", "section": None}, Got("answer", "s1", "process"), True),
    ({"outcome": "handoff"}, Got("handoff", "s1", "fee"), True),
    ({"outcome": "smalltalk"}, Got("answer", "s1", "fee"), False),
    ({"outcome": "out_of_scope", "service": "s9"}, Got("out_of_scope"), True),
    ({"service": None}, Got("out_of_scope"), True),  # no outcome: out of catalog → out_of_scope
    ({"service": "s1", "section": "fee"}, Got("answer", "s1", "fee"), True),
])
def test_turn_right(turn: Item, got: Got, right: bool) -> None:
    assert turn_right(turn, got) is right


def test_dialogue_figures_and_report() -> None:
    s = score_dialogues(DIALOGUES, DIALOGUE_GOTS)
    assert (s.dialogues, s.all_right, s.turns, s.turns_right) == (3, 2, 7, 6)
    assert s.misses == [(0, 1)]
    assert s.by_outcome == {"answer": [4, 3], "smalltalk": [1, 1], "handoff": [1, 1], "out_of_scope": [1, 1]}
    assert s.styles["correction"].all_right == 0 and s.styles["-"].turns_right == 2
    lines = dialogue_report("d.jsonl", DIALOGUES, DIALOGUE_GOTS, s, misses=True)
    assert lines[:3] == [
        "== d.jsonl: 3 dialogues, 7 turns",
        "turn accuracy 0.857 (6/7)  dialogues with every turn right 0.667 (2/3)",
        "turn outcomes: answer 57.1%, clarify 0.0%, out_of_scope 14.3%, handoff 14.3%, smalltalk 14.3%",
    ]
    assert "| answer | 4 | 0.750 |" in lines
    assert "| correction | 1 | 3 | 0.667 | 0.000 |" in lines
    assert lines[-1] == ("- d1 turn 2: 不对，是个体户  want answer s2/materials  "
                         "got answer s1/materials cands=[]")
    assert summary_line(None, s) == "top1=n/a section=n/a turns=0.857 dialogues=0.667"


def test_a_run_pools_its_files_into_the_last_line() -> None:
    run = Run()
    run.add_questions(ITEMS[:4], GOTS[:4])
    run.add_questions(ITEMS[4:], GOTS[4:])
    run.add_dialogues(DIALOGUES, DIALOGUE_GOTS)
    lines = run.closing_lines()
    assert lines[0] == "== all 2 question files: 8 questions (4 in catalog, 4 out of catalog)"
    assert lines[-1] == "top1=0.375 section=0.250 turns=0.857 dialogues=0.667"
    assert Run().closing_lines() == ["top1=n/a section=n/a"]


@pytest.mark.parametrize(("service", "inside"), [
    ("ent-setup", True), (None, False), ("none", False), ("None", False), ("out_of_scope", False),
    ("", False)])
def test_in_catalog(service: str | None, inside: bool) -> None:
    assert in_catalog({"q": "x", "service": service}) is inside


def test_file_kinds() -> None:
    assert is_dialogue_file(DIALOGUES) and not is_dialogue_file(ITEMS) and not is_dialogue_file([])
    with pytest.raises(ValueError, match="one kind per file"):
        is_dialogue_file([*DIALOGUES, *ITEMS])
    with pytest.raises(ValueError):
        score_questions(ITEMS, GOTS[:-1])


def test_got_from_a_turn_block() -> None:
    turn = {"outcome": "answer", "service_id": "s1", "section": "fee", "candidates": ["s1", "s2"],
            "intent": "ask_guide", "confidence": 0.9, "handoff": "none"}
    assert Got.from_turn(turn) == Got("answer", "s1", "fee", ("s1", "s2"))


class FakeBot:
    """POST /api/chat as the contract has it: a token on a conversation's first turn, 403 without
    it later; one 429 first; answers `answer s1/fee` to everything but 谢谢."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.seen: list[tuple[str, str]] = []
        self.limited = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if not self.limited:
            self.limited = True
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": "rate"}})
        sender, message = body["sender_id"], body["message"]
        reply: dict[str, Any] = {"sender_id": sender, "messages": []}
        if sender not in self.tokens:
            self.tokens[sender] = reply["conversation_token"] = f"tok-{len(self.tokens)}"
        elif request.headers.get("X-Conversation-Token") != self.tokens[sender]:
            return httpx.Response(403, json={"error": {"code": "forbidden", "message": "token"}})
        self.seen.append((sender, message))
        outcome = "smalltalk" if message == "谢谢" else "answer"
        reply["turn"] = {"outcome": outcome, "service_id": "s1" if outcome == "answer" else None,
                         "section": "fee" if outcome == "answer" else None, "candidates": ["s1"]}
        return httpx.Response(200, json=reply)


def _write(path: Path, rows: list[Item]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_plays_each_dialogue_as_one_conversation(tmp_path: Path) -> None:
    bot = FakeBot()
    run = http_eval.Run()
    client = http_eval.with_tokens(httpx.Client(transport=httpx.MockTransport(bot), base_url="http://bot"))
    with client, ThreadPoolExecutor(2) as pool:
        lines = http_eval.evaluate_file(client, pool, _write(tmp_path / "d.jsonl", DIALOGUES), run, False)
    senders = [sender for sender, _ in bot.seen]
    assert len(senders) == 7 and len(set(senders)) == 3  # one sender per dialogue, no 403
    by_sender = {s: [m for t, m in bot.seen if t == s] for s in set(senders)}
    assert sorted(by_sender.values()) == sorted([t["q"] for t in d["turns"]] for d in DIALOGUES)
    assert lines[1] == "turn accuracy 0.429 (3/7)  dialogues with every turn right 0.000 (0/3)"
    assert run.closing_lines()[-1] == "top1=n/a section=n/a turns=0.429 dialogues=0.000"


def test_eval_asks_each_question_in_a_new_conversation(tmp_path: Path) -> None:
    bot = FakeBot()
    run = http_eval.Run()
    client = http_eval.with_tokens(httpx.Client(transport=httpx.MockTransport(bot), base_url="http://bot"))
    with client, ThreadPoolExecutor(2) as pool:
        http_eval.evaluate_file(client, pool, _write(tmp_path / "q.jsonl", ITEMS[:3]), run, False)
    assert len({sender for sender, _ in bot.seen}) == 3
    assert run.closing_lines()[-1] == "top1=0.667 section=0.333"


class FakeGuides:
    def __init__(self) -> None:
        self.contexts: list[Context] = []

    def decide(self, text: str, ctx: Context) -> Reply:
        self.contexts.append(ctx)
        return Reply("answer", "s1", "materials", 0.9, [Candidate("s1", "t", 0.9)])


def test_answer_eval_plays_the_guide_turns_of_dialogues_with_slots_and_scores_questions(
        tmp_path: Path) -> None:
    fake = FakeGuides()
    guides = cast(GuideService, fake)
    run = answer_eval.Run()
    lines = answer_eval.evaluate_file(guides, _write(tmp_path / "d.jsonl", DIALOGUES), run, False)
    # smalltalk and handoff turns are Rasa's: left out; 5 guide turns, 2 right (d1 t1, d3 t2)
    assert "3 dialogues, 5 turns" in lines[0] and "guide turns" in lines[0]
    assert lines[1].startswith("turn accuracy 0.400 (2/5)")
    second = fake.contexts[1]  # d1's correction: decided with the first answer in its slots
    assert second.service_id == "s1" and second.section == "materials"
    assert fake.contexts[2].service_id is None  # a new dialogue starts empty
    answer_eval.evaluate_file(guides, _write(tmp_path / "q.jsonl", ITEMS[:3]), run, False)
    assert run.closing_lines() == ["top1=0.667 section=0.333"]
