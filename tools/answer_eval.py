"""Measure the guide answering (GuideService.decide, as the action runs it) on question files.

    PYTHONPATH=. python -m tools.answer_eval FILE.jsonl [FILE.jsonl …] [--misses]

The same figures as `make eval` (tools/eval_report.py), in process and without Rasa: each question
is decided in a fresh conversation (empty Context). A line whose service is null / "none" /
"out_of_scope" is out of catalog: right only when out_of_scope. NLU's out-of-scope intent (which
makes the bot stricter) is not applied, so out-of-catalog figures are the worst case, and handoff or
smalltalk never occur. Dialogue files are played with the slots the guide action would set
(service and section after an answer, candidates after a question back); turns the bot answers
without the guide action (smalltalk, handoff) are left out of the figures and change no slot, so
dialogue figures here are the guide turns only — `make eval` plays whole dialogues on the bot.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from actions.complaint import without_complaint
from actions.guide_service import Context, GuideService, Reply
from contract.turn import ANSWER, CLARIFY
from knowledge_base.engine import KnowledgeBase
from tools.eval_report import (
    Got,
    Run,
    dialogue_report,
    is_dialogue_file,
    question_report,
    read_jsonl,
    score_dialogues,
    score_questions,
)


def got_from_reply(reply: Reply) -> Got:
    """What the bot would report for this reply."""
    return Got(reply.outcome, reply.service_id, reply.section,
               tuple(c.service_id for c in reply.candidates))


GUIDE_TURNS = ("answer", "out_of_scope", "clarify", None)


def play(guides: GuideService, turns: list[dict[str, object]]) -> list[Got]:
    """One dialogue's guide turns, with the slots ActionAnswerGuide would keep between them."""
    ctx = Context()
    gots = []
    for turn in turns:
        reply = guides.decide(without_complaint(str(turn["q"])), ctx)
        gots.append(got_from_reply(reply))
        if reply.outcome == ANSWER:
            ctx = Context(service_id=reply.service_id, section=reply.section)
        elif reply.outcome == CLARIFY:
            ctx = Context(ctx.service_id, ctx.section, reply.section,
                          [c.service_id for c in reply.candidates])
    return gots


def evaluate_file(guides: GuideService, path: Path, run: Run, misses: bool) -> list[str]:
    """Decide every question of one file, add it to `run`, and return its report lines."""
    rows = read_jsonl(path)
    if not rows:
        return [f"== {path}: no lines, skipped"]
    if is_dialogue_file(rows):
        dialogues = [dict(d, turns=[t for t in d["turns"] if t.get("outcome") in GUIDE_TURNS])
                     for d in rows]
        dialogues = [d for d in dialogues if d["turns"]]
        replies = [play(guides, d["turns"]) for d in dialogues]
        return dialogue_report(f"{path} (guide turns, simulated slots)", dialogues, replies,
                               score_dialogues(dialogues, replies), misses=misses)
    gots = [got_from_reply(guides.decide(without_complaint(row["q"]), Context())) for row in rows]
    run.add_questions(rows, gots)
    return question_report(str(path), rows, gots, score_questions(rows, gots), misses=misses)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--misses", action="store_true", help="list every wrong item")
    args = parser.parse_args(argv)
    kb = KnowledgeBase()
    kb.load()
    guides = GuideService(kb)
    run = Run()
    for path in args.files:
        print("\n".join(evaluate_file(guides, path, run, args.misses)))
        print()
    print("\n".join(run.closing_lines()))


if __name__ == "__main__":
    main()
