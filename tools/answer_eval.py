"""Measure the guide answering (GuideService.decide, as the action runs it) on question files.

    PYTHONPATH=. python -m tools.answer_eval FILE.jsonl [FILE.jsonl …] [--misses]

A line with a `service` is an in-catalog question: right when answered with that service (and
section); a line with `"service": null` is out of catalog: right when not answered. No Rasa: NLU's
out-of-scope intent (which makes the bot stricter) is not applied, so out-of-catalog figures are the
worst case.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from actions.complaint import without_complaint
from actions.guide_service import Context, GuideService
from knowledge_base.engine import KnowledgeBase
from tools.questions import read_questions


def evaluate(guides: GuideService, path: Path, show_misses: bool) -> None:
    rows = read_questions(path)
    counts: Counter[str] = Counter()
    misses: list[str] = []
    for row in rows:
        reply = guides.decide(without_complaint(row["q"]), Context())
        counts[reply.outcome] += 1
        want = row.get("service")
        if want is None:
            wrong = reply.outcome == "answer"
            counts["wrong_answer"] += wrong
            if wrong:
                misses.append(f"- [answer {reply.service_id} {reply.confidence:.2f}] {row['q']}")
            continue
        ok = reply.outcome == "answer" and reply.service_id == want
        counts["right"] += ok
        counts["section"] += ok and reply.section == row.get("section")
        counts["wrong_answer"] += reply.outcome == "answer" and not ok
        in_top3 = want in [c.service_id for c in reply.candidates[:3]]
        counts["top3"] += in_top3
        if not ok or reply.section != row.get("section"):
            got = f"{reply.outcome} {reply.service_id}/{reply.section}"
            cands = ",".join(f"{c.service_id}:{c.score:.2f}" for c in reply.candidates[:3])
            misses.append(f"- [{got}] {row['q']}  want {want}/{row.get('section')}  ({cands})")
    n = len(rows)
    share = {k: v / n for k, v in counts.items()}
    if any(r.get("service") for r in rows):
        print(f"{path}: {n} in-catalog  answered right {share.get('right', 0):.3f}  section right "
              f"{share.get('section', 0):.3f}  top3 {share.get('top3', 0):.3f}  clarify "
              f"{share.get('clarify', 0):.3f}  out_of_scope {share.get('out_of_scope', 0):.3f}  "
              f"confident wrong {share.get('wrong_answer', 0):.3f}")
    else:
        print(f"{path}: {n} out-of-catalog  answered (wrong) {share.get('wrong_answer', 0):.3f}  clarify "
              f"{share.get('clarify', 0):.3f}  out_of_scope {share.get('out_of_scope', 0):.3f}")
    if show_misses:
        print("\n".join(misses))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    kb = KnowledgeBase()
    kb.load()
    guides = GuideService(kb)
    for path in args.files:
        evaluate(guides, path, args.misses)


if __name__ == "__main__":
    main()
