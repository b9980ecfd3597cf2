"""Measure service and section accuracy of GuideService.decide on a question set, without the bot.

    PYTHONPATH=. python scripts/section_eval.py [FILE.jsonl ...] [--misses] [--json]

Each line of FILE is {"q": str, "service": id, "section": str} (default: the shared dev set).
Every question is decided in a fresh conversation (empty Context), exactly as the action server
would for a first message. Prints top-1 service accuracy (answered with the right service),
section accuracy (right service and right section), the answered / clarified / out-of-scope
shares, the number of confident wrong answers (answered with another service), a table per
section and, with --misses, every wrong answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from actions.guide_service import Context, GuideService  # noqa: E402
from knowledge_base.engine import KnowledgeBase  # noqa: E402
from tools.questions import SectionTally, print_section_table, read_questions  # noqa: E402

DEFAULT_FILE = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


@dataclass
class Report:
    """The figures for one question file."""

    file: str
    questions: int
    top1: float
    section: float
    answered: float
    clarified: float
    out_of_scope: float
    confident_wrong: int
    per_section: dict[str, dict[str, float]] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)


def evaluate(service: GuideService, rows: list[dict[str, str]], name: str) -> Report:
    """Decide every row in a fresh conversation and count what came out."""
    outcomes: Counter[str] = Counter()
    per = SectionTally()
    top1 = section_ok = wrong = 0
    misses: list[str] = []
    for row in rows:
        d = service.decide(row["q"], Context())
        outcomes[d.outcome] += 1
        ok_service = d.outcome == "answer" and d.service_id == row["service"]
        ok_section = ok_service and d.section == row["section"]
        wrong += int(d.outcome == "answer" and d.service_id != row["service"])
        top1 += ok_service
        section_ok += ok_section
        per.add(row["section"], ok_service, ok_section)
        if not ok_section:
            cands = ",".join(c.service_id for c in d.candidates[:3])
            misses.append(f"- {row['q']}  want {row['service']}/{row['section']}  got "
                          f"{d.outcome} {d.service_id}/{d.section}  [{cands}]")
    n = max(1, len(rows))
    table = per.shares()
    return Report(name, len(rows), top1 / n, section_ok / n, outcomes["answer"] / n,
                  outcomes["clarify"] / n, outcomes["out_of_scope"] / n, wrong, table, misses)


def print_report(report: Report, show_misses: bool) -> None:
    """Human-readable figures."""
    print(f"== {report.file}: {report.questions} questions")
    print(f"top-1 service {report.top1:.3f}   section {report.section:.3f}   "
          f"confident wrong service {report.confident_wrong}")
    print(f"answered {report.answered:.3f}  clarified {report.clarified:.3f}  "
          f"out of scope {report.out_of_scope:.3f}")
    print_section_table(report.per_section)
    if show_misses:
        print(f"misses ({len(report.misses)}):")
        print("\n".join(report.misses) if report.misses else "  none")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=[DEFAULT_FILE])
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON lines")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    kb = KnowledgeBase()
    kb.load()
    service = GuideService(kb)
    if not args.json:
        print(f"{len(kb)} guides loaded in {time.perf_counter() - started:.1f} s\n")
    for path in args.files:
        rows = read_questions(path)
        report = evaluate(service, rows, str(path))
        if args.json:
            data = asdict(report)
            if not args.misses:
                data.pop("misses")
            print(json.dumps(data, ensure_ascii=False))
        else:
            print_report(report, args.misses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
