"""Measure the knowledge base's ranking on a question set, without the bot.

    PYTHONPATH=. python scripts/kb_eval.py [FILE.jsonl] [--backend embedded|elasticsearch]
        [--es-url URL] [--plain-json] [--start-osmem] [--json]

Each line of FILE is {"q": str, "service": id, "section": str} (default: the shared dev set).
Prints top-1 accuracy, top-3 recall and what the bot would do with the thresholds in
knowledge_base.engine (answer / clarify / out of scope), then every miss.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge_base.engine import Candidate, KnowledgeBase, decide  # noqa: E402
from knowledge_base.search import create_backend  # noqa: E402
from tools.osmem import start_osmem  # noqa: E402
from tools.questions import read_questions  # noqa: E402

DEFAULT_FILE = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


@dataclass
class Summary:
    file: str
    backend: str
    questions: int
    top1: float
    top3: float
    answered: float
    clarified: float
    out_of_scope: float
    answered_wrong: int
    clarify_contains_right: float
    load_seconds: float
    mean_rank_ms: float


def evaluate(kb: KnowledgeBase, rows: list[dict[str, str]]) -> tuple[Counter[str], list[str], float]:
    """Counts of outcomes and correctness, the report lines of the misses, mean ms per question."""
    counts: Counter[str] = Counter()
    misses: list[str] = []
    started = time.perf_counter()
    for row in rows:
        ranked: list[Candidate] = kb.rank(row["q"])
        decision = decide(ranked)
        ids = [c.service_id for c in ranked]
        right = row["service"]
        counts["top1"] += int(bool(ids) and ids[0] == right)
        counts["top3"] += int(right in ids[:3])
        counts[decision.outcome] += 1
        if decision.outcome == "answer" and decision.candidates[0].service_id != right:
            counts["answered_wrong"] += 1
        if decision.outcome == "clarify" and right in [c.service_id for c in decision.candidates]:
            counts["clarify_right"] += 1
        if not ids or ids[0] != right:
            shown = ", ".join(f"{c.service_id} {c.score:.2f}" for c in ranked[:3]) or "(none)"
            misses.append(f"- [{decision.outcome}] {row['q']}  → want {right}; got {shown}")
    elapsed_ms = (time.perf_counter() - started) * 1000 / max(1, len(rows))
    return counts, misses, elapsed_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--backend", default="embedded", choices=["embedded", "elasticsearch"])
    parser.add_argument("--es-url", default=None)
    parser.add_argument("--plain-json", action="store_true", help="plain JSON media types")
    parser.add_argument("--start-osmem", action="store_true", help="run against a fresh osmem")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args(argv)

    rows = read_questions(args.file)
    proc = None
    es_url, plain = args.es_url, args.plain_json
    if args.start_osmem:
        proc, es_url = start_osmem()
        args.backend, plain = "elasticsearch", True
    try:
        kb = KnowledgeBase(create_backend(args.backend, es_url, plain_json=plain))
        started = time.perf_counter()
        kb.load()
        load_seconds = time.perf_counter() - started
        counts, misses, mean_ms = evaluate(kb, rows)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)

    n = max(1, len(rows))
    summary = Summary(
        file=str(args.file),
        backend=args.backend + (" (osmem)" if proc else ""),
        questions=len(rows),
        top1=counts["top1"] / n,
        top3=counts["top3"] / n,
        answered=counts["answer"] / n,
        clarified=counts["clarify"] / n,
        out_of_scope=counts["out_of_scope"] / n,
        answered_wrong=counts["answered_wrong"],
        clarify_contains_right=counts["clarify_right"] / max(1, counts["clarify"]),
        load_seconds=round(load_seconds, 2),
        mean_rank_ms=round(mean_ms, 2),
    )
    if args.json:
        print(json.dumps(asdict(summary), ensure_ascii=False))
        return 0
    print(
        f"{summary.file} on {summary.backend}: {summary.questions} questions, "
        f"{len(kb)} guides (load {summary.load_seconds} s, {summary.mean_rank_ms} ms/question)"
    )
    print(f"top-1 accuracy  {summary.top1:.3f}   top-3 recall {summary.top3:.3f}")
    print(
        f"answered {summary.answered:.3f}  clarified {summary.clarified:.3f}  "
        f"out of scope {summary.out_of_scope:.3f}"
    )
    print(
        f"confident wrong answers: {summary.answered_wrong}; "
        f"clarifications offering the right guide: {summary.clarify_contains_right:.3f}"
    )
    print(f"misses ({len(misses)}):")
    print("\n".join(misses) if misses else "  none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
