"""Scoring and report text shared by `make eval` (tools/eval.py) and tools/answer_eval.py.

Two kinds of evaluation file, both JSON lines:

- question files: `{"q", "service", "section"}` (optionally `"style"`, `"kind"`), each question asked
  in a fresh conversation. An item is *out of catalog* when its service is null, "none" or
  "out_of_scope": right only when the bot says out_of_scope; clarify or handoff is "not answered"
  (wrong, but not confidently wrong); an answer with any guide is confidently wrong.
- dialogue files: `{"id", "style", "turns": [{"q", "outcome", "service", "section"}]}`, each run as
  one conversation. A turn is right when its outcome matches and, for `answer`, the service and the
  section (when the file gives one) match too.

Everything here is pure: callers ask the bot and hand over what came back as `Got`s.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from contract.turn import ANSWER, CLARIFY, DECLARATION, HANDOFF, OUT_OF_SCOPE, SMALLTALK
from tools.questions import SectionTally

ROOT: Final[Path] = Path(__file__).resolve().parent.parent
SHARED_DIR: Final[Path] = ROOT.parent / "shared"
"""../shared beside the repository: the contract, the catalog and the evaluation files."""
EVAL_DIR: Final[Path] = SHARED_DIR / "eval"
DEV_QUESTIONS: Final[Path] = EVAL_DIR / "dev_questions.jsonl"

NOT_IN_CATALOG: Final[frozenset[str]] = frozenset({"", "none", "null", "out_of_scope"})
# Outcomes always shown, in this order; any other outcome follows when it occurs.
SHOWN_OUTCOMES: Final[tuple[str, ...]] = (ANSWER, CLARIFY, OUT_OF_SCOPE, HANDOFF, SMALLTALK, DECLARATION)
GROUP_FIELDS: Final[tuple[str, ...]] = ("style", "kind")
"""Item fields that get a table of their own when a file has them."""

Item = Mapping[str, Any]


@dataclass(frozen=True)
class Got:
    """What the bot did with one message (the contract's turn block, or GuideService's Reply)."""

    outcome: str
    service_id: str | None = None
    section: str | None = None
    candidates: tuple[str, ...] = ()

    @classmethod
    def from_turn(cls, turn: Mapping[str, Any]) -> Got:
        """From a `turn` block of POST /api/chat."""
        return cls(str(turn.get("outcome")), turn.get("service_id"), turn.get("section"),
                   tuple(str(c) for c in turn.get("candidates") or []))

    def describe(self) -> str:
        """`answer ent-setup/materials cands=[…]`, for the list of misses."""
        target = f" {self.service_id}/{self.section}" if self.service_id or self.section else ""
        return f"{self.outcome}{target} cands={list(self.candidates[:3])}"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every non-blank line of an evaluation file, parsed."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def is_dialogue_file(rows: Sequence[Item]) -> bool:
    """True when the rows are dialogues (they have `turns`), false for single questions; a file
    mixing both is refused."""
    dialogues = sum("turns" in row for row in rows)
    if dialogues and dialogues != len(rows):
        raise ValueError(f"{dialogues} of {len(rows)} lines are dialogues: one kind per file")
    return bool(rows) and dialogues == len(rows)


def in_catalog(item: Item) -> bool:
    """True unless the item's service is null / "none" / "out_of_scope"."""
    service = item.get("service")
    return service is not None and str(service).strip().lower() not in NOT_IN_CATALOG


def has_section(item: Item) -> bool:
    """True when an in-catalog item names the section it asks about."""
    return in_catalog(item) and bool(item.get("section"))


def service_right(item: Item, got: Got) -> bool:
    """Right guide: in catalog, answered with the item's service; out of catalog, out_of_scope."""
    if not in_catalog(item):
        return got.outcome == OUT_OF_SCOPE
    return got.outcome == ANSWER and got.service_id == item["service"]


def section_right(item: Item, got: Got) -> bool:
    """Right guide and, when the item names one, right section."""
    return service_right(item, got) and (not has_section(item) or got.section == item["section"])


def confident_wrong(item: Item, got: Got) -> bool:
    """Answered with a guide that is not the item's (for out-of-catalog items: with any guide)."""
    return got.outcome == ANSWER and not (in_catalog(item) and got.service_id == item["service"])


def expected_outcome(turn: Item) -> str:
    """A dialogue turn's outcome; without one, answer in catalog and out_of_scope otherwise."""
    outcome = turn.get("outcome")
    if outcome:
        return str(outcome)
    return ANSWER if in_catalog(turn) else OUT_OF_SCOPE


def turn_right(turn: Item, got: Got) -> bool:
    """The outcome matches and, for an answer, the service and section (if given) match."""
    want = expected_outcome(turn)
    if got.outcome != want:
        return False
    if want != ANSWER:
        return True
    return got.service_id == turn.get("service") and (
        not turn.get("section") or got.section == turn["section"])


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _pct(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.1%})" if whole else f"{part}"


def outcome_shares(outcomes: Counter[str], n: int) -> str:
    """`answer 80.0%, clarify 10.0%, out_of_scope 10.0%` (rarer outcomes only when present)."""
    names = [*SHOWN_OUTCOMES[:3], *(o for o in SHOWN_OUTCOMES[3:] if outcomes[o]),
             *sorted(o for o in outcomes if o not in SHOWN_OUTCOMES)]
    return ", ".join(f"{name} {outcomes[name] / n:.1%}" for name in names) if n else "(none)"


@dataclass
class GroupRow:
    """One line of a per-style (or per-kind) table of a question file."""

    n: int = 0
    right: int = 0
    with_section: int = 0
    section_right: int = 0
    answered: int = 0
    confident_wrong: int = 0


@dataclass
class QuestionScore:
    """The figures of one question file (or several pooled)."""

    n: int = 0
    n_in: int = 0
    n_out: int = 0
    n_section: int = 0
    right_in: int = 0
    section_right: int = 0
    top3_in: int = 0
    wrong_in: int = 0
    right_out: int = 0
    not_answered_out: int = 0
    answered_out: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    sections: SectionTally = field(default_factory=SectionTally)
    groups: dict[str, dict[str, GroupRow]] = field(default_factory=dict)
    misses: list[int] = field(default_factory=list)
    """Indices of the items that were not fully right."""

    @property
    def top1(self) -> float | None:
        """Right guide over every item (out-of-catalog ones right when out_of_scope)."""
        return _share(self.right_in + self.right_out, self.n)

    @property
    def top1_in(self) -> float | None:
        return _share(self.right_in, self.n_in)

    @property
    def section(self) -> float | None:
        """Right service and section, over the items that name a section."""
        return _share(self.section_right, self.n_section)


def score_questions(items: Sequence[Item], gots: Sequence[Got]) -> QuestionScore:
    """Count what the bot did with each item of a question file."""
    if len(items) != len(gots):
        raise ValueError(f"{len(items)} items but {len(gots)} replies")
    score = QuestionScore(n=len(items))
    for index, (item, got) in enumerate(zip(items, gots, strict=True)):
        score.outcomes[got.outcome] += 1
        right, right_section = service_right(item, got), section_right(item, got)
        wrong = confident_wrong(item, got)
        if in_catalog(item):
            score.n_in += 1
            score.right_in += right
            score.wrong_in += wrong
            score.top3_in += item["service"] in got.candidates[:3]
            if has_section(item):
                score.n_section += 1
                score.section_right += right_section
                score.sections.add(str(item["section"]), right, right_section)
        else:
            score.n_out += 1
            score.right_out += right
            score.answered_out += wrong
            score.not_answered_out += not right and not wrong
        for name in GROUP_FIELDS:
            if item.get(name) is None:
                continue
            row = score.groups.setdefault(name, {}).setdefault(str(item[name]), GroupRow())
            row.n += 1
            row.right += right
            row.with_section += has_section(item)
            row.section_right += has_section(item) and right_section
            row.answered += got.outcome == ANSWER
            row.confident_wrong += wrong
        if not right_section:
            score.misses.append(index)
    return score


def _miss_reason(item: Item, got: Got) -> str:
    if not in_catalog(item):
        return "answered out of catalog" if confident_wrong(item, got) else "not out_of_scope"
    if confident_wrong(item, got):
        return "wrong guide"
    if got.outcome != ANSWER:
        return "not answered"
    return "wrong section"


def question_report(name: str, items: Sequence[Item], gots: Sequence[Got], score: QuestionScore,
                    *, misses: bool = False) -> list[str]:
    """The report lines of one question file (without the final `top1=` line)."""
    s = score
    lines = [f"== {name}: {s.n} questions ({s.n_in} in catalog, {s.n_out} out of catalog)",
             "outcomes: " + outcome_shares(s.outcomes, s.n)]
    if s.n_in:
        lines.append(f"in catalog ({s.n_in}): service top-1 {_fmt(s.top1_in)}  section {_fmt(s.section)} "
                     f"({s.n_section} with a section)  in top-3 {_fmt(_share(s.top3_in, s.n_in))}  "
                     f"confident wrong {_pct(s.wrong_in, s.n_in)}")
    if s.n_out:
        lines.append(f"out of catalog ({s.n_out}): "
                     f"out_of_scope (right) {_fmt(_share(s.right_out, s.n_out))}  "
                     f"not answered (clarify/handoff/…) {_fmt(_share(s.not_answered_out, s.n_out))}  "
                     f"answered with a catalog guide (confident wrong) {_pct(s.answered_out, s.n_out)}")
    if s.n_in and s.n_out:
        lines.append(f"all ({s.n}): right {_fmt(s.top1)}")
    shares = s.sections.shares()
    if shares:
        lines += ["", "| section | n | service top-1 | section |", "| --- | --- | --- | --- |"]
        lines += [f"| {sec} | {int(v['n'])} | {v['service']:.3f} | {v['section']:.3f} |"
                  for sec, v in shares.items()]
    for group, rows in s.groups.items():
        lines += ["", f"| {group} | n | right | section | answered | confident wrong |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {key} | {r.n} | {r.right / r.n:.3f} | {_fmt(_share(r.section_right, r.with_section))} "
                  f"| {r.answered / r.n:.3f} | {r.confident_wrong} |" for key, r in sorted(rows.items())]
    if misses and s.misses:
        lines += ["", f"misses ({len(s.misses)}):"]
        for i in s.misses:
            item, got = items[i], gots[i]
            want = f"{item.get('service')}/{item.get('section')}" if in_catalog(item) else OUT_OF_SCOPE
            lines.append(f"- [{_miss_reason(item, got)}] {item['q']}  want {want}  got {got.describe()}")
    return lines


@dataclass
class DialogueGroup:
    """One line of the per-style table of a dialogue file."""

    dialogues: int = 0
    all_right: int = 0
    turns: int = 0
    turns_right: int = 0


@dataclass
class DialogueScore:
    """The figures of one dialogue file."""

    dialogues: int = 0
    all_right: int = 0
    turns: int = 0
    turns_right: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_outcome: dict[str, list[int]] = field(default_factory=dict)
    """Expected outcome → [turns, right]."""
    styles: dict[str, DialogueGroup] = field(default_factory=dict)
    misses: list[tuple[int, int]] = field(default_factory=list)
    """(dialogue index, turn index) of every wrong turn."""

    @property
    def turn_accuracy(self) -> float | None:
        return _share(self.turns_right, self.turns)

    @property
    def dialogue_accuracy(self) -> float | None:
        return _share(self.all_right, self.dialogues)


def score_dialogues(dialogues: Sequence[Item], gots: Sequence[Sequence[Got]]) -> DialogueScore:
    """Count the right turns of each dialogue (`gots[i][j]`: the reply to turn j of dialogue i)."""
    if len(dialogues) != len(gots):
        raise ValueError(f"{len(dialogues)} dialogues but {len(gots)} reply lists")
    score = DialogueScore(dialogues=len(dialogues))
    for d, (dialogue, replies) in enumerate(zip(dialogues, gots, strict=True)):
        turns = dialogue["turns"]
        if len(turns) != len(replies):
            raise ValueError(f"dialogue {dialogue.get('id', d)}: {len(turns)} turns, {len(replies)} replies")
        rights = [turn_right(turn, got) for turn, got in zip(turns, replies, strict=True)]
        for t, (turn, got, right) in enumerate(zip(turns, replies, rights, strict=True)):
            score.outcomes[got.outcome] += 1
            tally = score.by_outcome.setdefault(expected_outcome(turn), [0, 0])
            tally[0] += 1
            tally[1] += right
            if not right:
                score.misses.append((d, t))
        score.turns += len(turns)
        score.turns_right += sum(rights)
        score.all_right += all(rights)
        group = score.styles.setdefault(str(dialogue.get("style") or "-"), DialogueGroup())
        group.dialogues += 1
        group.all_right += all(rights)
        group.turns += len(turns)
        group.turns_right += sum(rights)
    return score


def _want(turn: Item) -> str:
    want = expected_outcome(turn)
    return f"{want} {turn.get('service')}/{turn.get('section')}" if want == ANSWER else want


def dialogue_report(name: str, dialogues: Sequence[Item], gots: Sequence[Sequence[Got]],
                    score: DialogueScore, *, misses: bool = False) -> list[str]:
    """The report lines of one dialogue file."""
    s = score
    lines = [f"== {name}: {s.dialogues} dialogues, {s.turns} turns",
             f"turn accuracy {_fmt(s.turn_accuracy)} ({s.turns_right}/{s.turns})  "
             f"dialogues with every turn right {_fmt(s.dialogue_accuracy)} ({s.all_right}/{s.dialogues})",
             "turn outcomes: " + outcome_shares(s.outcomes, s.turns),
             "", "| expected outcome | turns | right |", "| --- | --- | --- |"]
    lines += [f"| {o} | {n} | {right / n:.3f} |" for o, (n, right) in sorted(s.by_outcome.items())]
    if any(key != "-" for key in s.styles):
        lines += ["", "| style | dialogues | turns | turn accuracy | every turn right |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {key} | {g.dialogues} | {g.turns} | {g.turns_right / g.turns if g.turns else 0:.3f} "
                  f"| {g.all_right / g.dialogues:.3f} |" for key, g in sorted(s.styles.items())]
    if misses and s.misses:
        lines += ["", f"wrong turns ({len(s.misses)}):"]
        for d, t in s.misses:
            turn, got = dialogues[d]["turns"][t], gots[d][t]
            lines.append(f"- {dialogues[d].get('id', d)} turn {t + 1}: {turn['q']}  want {_want(turn)}  "
                         f"got {got.describe()}")
    return lines


def summary_line(questions: QuestionScore | None, dialogues: DialogueScore | None = None) -> str:
    """The last line of a run: `top1=… section=…` (as `make eval` always printed), then `turns=…`
    when dialogue files were run. A figure without items to count is `n/a`."""
    q = questions or QuestionScore()
    line = f"top1={_fmt(q.top1)} section={_fmt(q.section)}"
    if dialogues is not None:
        line += f" turns={_fmt(dialogues.turn_accuracy)} dialogues={_fmt(dialogues.dialogue_accuracy)}"
    return line


@dataclass
class Run:
    """Collects every file of one run so the final line (and a pooled block) can cover them all."""

    items: list[Item] = field(default_factory=list)
    gots: list[Got] = field(default_factory=list)
    dialogues: list[Item] = field(default_factory=list)
    dialogue_gots: list[Sequence[Got]] = field(default_factory=list)
    question_files: int = 0
    dialogue_files: int = 0

    def add_questions(self, items: Sequence[Item], gots: Sequence[Got]) -> None:
        self.items += items
        self.gots += gots
        self.question_files += 1

    def add_dialogues(self, dialogues: Sequence[Item], gots: Sequence[Sequence[Got]]) -> None:
        self.dialogues += dialogues
        self.dialogue_gots += gots
        self.dialogue_files += 1

    def closing_lines(self) -> list[str]:
        """A pooled block when several files of a kind were run, then the summary line."""
        lines: list[str] = []
        questions = score_questions(self.items, self.gots) if self.question_files else None
        dialogues = score_dialogues(self.dialogues, self.dialogue_gots) if self.dialogue_files else None
        if questions is not None and self.question_files > 1:
            lines += [*question_report(f"all {self.question_files} question files", self.items,
                                       self.gots, questions), ""]
        if dialogues is not None and self.dialogue_files > 1:
            lines += [*dialogue_report(f"all {self.dialogue_files} dialogue files", self.dialogues,
                                       self.dialogue_gots, dialogues), ""]
        return [*lines, summary_line(questions, dialogues)]
