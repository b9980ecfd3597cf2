"""The development questions (../shared/eval/*.jsonl) never reach anything the bot learns from.

A dev question, or a near copy of it, must not be a training example: a guide's title, alias,
sample question or situation name, a Rasa NLU example, a line of the lexicon (the section
classifier's questions, calibration negatives, chatter, synonyms …), or a tuning question
(tests/data/tune/, docs/decisions.md). Nor may a guide's section text quote one. "Near copy": equal
after knowledge_base.sections.fold (width, 繁→简, lowercase, punctuation, typo fixes) with every
space and the words 需要 / 要 taken out. Examples are compared whole; guide text is searched for
dev questions of at least MIN_QUOTED characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from knowledge_base.constants import GUIDES_DIR, LEXICON_DIR
from knowledge_base.sections import fold
from tools.eval_report import EVAL_DIR, ROOT

NLU_DIR: Final = ROOT / "bot" / "data"
TUNE_DIR: Final = ROOT / "tests" / "data" / "tune"
MIN_QUOTED: Final = 8
"""Shorter dev questions ("怎么收费") may well occur in a guide's text by themselves."""
DROPPED_WORDS: Final = ("需要", "要")  # 需要 first: dropping 要 alone would leave 需
# Guide fields whose strings are trained on as whole examples; the rest is text an answer quotes.
EXAMPLE_FIELDS: Final = ("title", "aliases", "sample_questions")
_ENTITY: Final = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")  # Rasa's [text](entity)


def leak_key(text: str) -> str:
    """The form two strings share when one is a near copy of the other."""
    key = "".join(fold(text).split())
    for word in DROPPED_WORDS:
        key = key.replace(word, "")
    return key


@dataclass(frozen=True)
class Source:
    """One string something is trained on (or quotes), and where it is."""

    where: str
    text: str


@dataclass(frozen=True)
class Leak:
    question: str
    dev_file: str
    source: Source

    def __str__(self) -> str:
        return f"{self.source.where}: {self.source.text!r} ~ dev question {self.question!r} ({self.dev_file})"


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _strings(value: Any, where: str, *, keys: bool = False) -> Iterator[Source]:
    """Every string inside a YAML value (and mapping keys if `keys`), each with its dotted path."""
    if isinstance(value, str):
        yield Source(where, value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if keys and isinstance(key, str):
                yield Source(f"{where}.{key} (key)", key)
            yield from _strings(inner, f"{where}.{key}", keys=keys)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _strings(inner, f"{where}[{i}]", keys=keys)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def guide_examples(directory: Path = GUIDES_DIR) -> Iterator[Source]:
    """Titles, aliases, sample questions and situation names of the guide files (read raw, so a
    guide that does not validate is checked too)."""
    for path in sorted(directory.glob("*.yaml")):
        data = _yaml(path) or {}
        for name in EXAMPLE_FIELDS:
            yield from _strings(data.get(name), f"{_rel(path)}:{name}")
        for i, situation in enumerate(data.get("situations") or []):
            if isinstance(situation, dict):
                yield from _strings(situation.get("name"), f"{_rel(path)}:situations[{i}].name")


def guide_texts(directory: Path = GUIDES_DIR) -> Iterator[Source]:
    """Section texts and situation details of the guide files."""
    for path in sorted(directory.glob("*.yaml")):
        data = _yaml(path) or {}
        yield from _strings(data.get("sections"), f"{_rel(path)}:sections")
        for i, situation in enumerate(data.get("situations") or []):
            if isinstance(situation, dict):
                details = {k: v for k, v in situation.items() if k != "name"}
                yield from _strings(details, f"{_rel(path)}:situations[{i}]")


def nlu_examples(directory: Path = NLU_DIR) -> Iterator[Source]:
    """Every example of every NLU block (intents, synonyms, lookups) under bot/data."""
    for path in sorted(directory.rglob("*.yml")):
        for block in (_yaml(path) or {}).get("nlu") or []:
            label = next((f"{k}={block[k]}" for k in ("intent", "synonym", "lookup", "regex")
                          if k in block), "?")
            for line in str(block.get("examples") or "").splitlines():
                text = _ENTITY.sub(r"\1", line.strip().removeprefix("- ").strip())
                if text:
                    yield Source(f"{_rel(path)}:{label}", text)


def lexicon_strings(directory: Path = LEXICON_DIR) -> Iterator[Source]:
    """Every string of the lexicon files: the section classifier's questions and mentions, the
    calibration's negatives and chatter, synonyms, typos, places, stopwords."""
    for path in sorted(directory.glob("*.yaml")):
        yield from _strings(_yaml(path), _rel(path), keys=True)  # typos, english: keys are text too


def tuning_questions(directory: Path = TUNE_DIR) -> Iterator[Source]:
    """The questions thresholds and rules were tuned on."""
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                for item in row.get("turns") or [row]:  # dialogue files: every turn
                    yield Source(f"{_rel(path)}:{number}", str(item["q"]))


def dev_questions(directory: Path = EVAL_DIR) -> list[tuple[str, str]]:
    """(question, file name) of every development question, dialogue turns included."""
    out: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            for item in row.get("turns") or [row]:
                out.append((str(item["q"]), path.name))
    return out


def copied_examples(questions: Iterable[tuple[str, str]], sources: Iterable[Source]) -> list[Leak]:
    """Examples equal to a dev question after leak_key."""
    by_key: dict[str, tuple[str, str]] = {}
    for question, name in questions:
        by_key.setdefault(leak_key(question), (question, name))
    by_key.pop("", None)
    return [Leak(*by_key[key], source) for source in sources if (key := leak_key(source.text)) in by_key]


def quoted_questions(questions: Iterable[tuple[str, str]], sources: Iterable[Source]) -> list[Leak]:
    """Texts containing a dev question of MIN_QUOTED or more characters (after leak_key)."""
    long: dict[str, tuple[str, str]] = {}
    for question, name in questions:
        key = leak_key(question)
        if len(key) >= MIN_QUOTED:
            long.setdefault(key, (question, name))
    leaks = []
    for source in sources:
        text = leak_key(source.text)
        leaks += [Leak(question, name, source) for key, (question, name) in long.items() if key in text]
    return leaks


@pytest.fixture(scope="module")
def dev() -> list[tuple[str, str]]:
    if not any(EVAL_DIR.glob("*.jsonl")):
        pytest.skip(f"no development questions in {EVAL_DIR}")
    questions = dev_questions()
    assert questions, f"{EVAL_DIR} has files but no questions"
    return questions


def _report(leaks: list[Leak]) -> str:
    return f"{len(leaks)} development question(s) leaked:\n" + "\n".join(f"  {leak}" for leak in leaks)


@pytest.mark.parametrize(
    "sources",
    [guide_examples, nlu_examples, lexicon_strings, tuning_questions],
    ids=["guide-examples", "nlu-examples", "lexicon", "tuning-set"],
)
def test_no_training_example_copies_a_dev_question(sources: Any, dev: list[tuple[str, str]]) -> None:
    found = list(sources())
    assert found, f"{sources.__name__} found nothing to check: has the data moved?"
    leaks = copied_examples(dev, found)
    assert not leaks, _report(leaks)


def test_no_guide_text_quotes_a_dev_question(dev: list[tuple[str, str]]) -> None:
    texts = list(guide_texts())
    assert texts, f"no guide sections found in {GUIDES_DIR}"
    leaks = quoted_questions(dev, texts)
    assert not leaks, _report(leaks)


# The guard itself, on hand-made data: it must see through the allowed differences and only them.
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("开公司需要带什么材料？", "开公司 带什么材料"),
        ("開公司要帶什麼材料", "开公司带什么材料"),
        ("ＩＤ Card丢了！", "id card丢了"),
        ("身分证（过期）了, 怎么办?", "身份证过期了怎么办"),
    ],
)
def test_near_copies_share_a_key(a: str, b: str) -> None:
    assert leak_key(a) == leak_key(b)


@pytest.mark.parametrize(("a", "b"), [("开公司带什么材料", "开公司不带什么材料"), ("护照", "护照 吗")])
def test_different_questions_do_not(a: str, b: str) -> None:
    assert leak_key(a) != leak_key(b)


def test_the_checks_find_planted_leaks() -> None:
    dev = [("开公司需要带什么材料？", "dev.jsonl"), ("多少钱", "dev.jsonl")]
    examples = [Source("a.yml", "开公司 带什么材料"), Source("b.yml", "开公司带什么"),
                Source("c.yml", "多少钱！")]
    assert [leak.source.where for leak in copied_examples(dev, examples)] == ["a.yml", "c.yml"]
    texts = [Source("s1", "问：开公司要带什么材料。答：见下"), Source("s2", "一共多少钱")]
    # 多少钱 is too short to count as quoted; the long question is found inside running text.
    assert [(leak.source.where, leak.question) for leak in quoted_questions(dev, texts)] == [
        ("s1", "开公司需要带什么材料？")]


def test_sources_read_every_kind_of_file(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(
        "title: 标题\naliases: [别名]\nsample_questions: [问题一]\n"
        "sections: {overview: 概述文字}\nsituations: [{name: 情形, note: 说明}]\n", encoding="utf-8")
    (tmp_path / "n.yml").write_text(
        'nlu:\n  - intent: greet\n    examples: |\n      - 你好\n      - 去[浦东](district)办\n',
        encoding="utf-8")
    assert [s.text for s in guide_examples(tmp_path)] == ["标题", "别名", "问题一", "情形"]
    assert [s.text for s in guide_texts(tmp_path)] == ["概述文字", "说明"]
    assert [s.text for s in nlu_examples(tmp_path)] == ["你好", "去浦东办"]
