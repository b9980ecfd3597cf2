"""`make eval`: run a question file through a running bot's /api/chat and report accuracy.

Each question gets a fresh sender_id. Prints service top-1 accuracy, section accuracy, the share
answered / clarified / out-of-scope, a table per section, and finally `top1=… section=…`.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tools.questions import SectionTally, print_section_table, read_questions

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


def ask(client: httpx.Client, question: str) -> dict:
    resp = client.post("/api/chat", json={"sender_id": f"eval-{uuid.uuid4().hex}",
                                          "message": question, "channel": "api"})
    resp.raise_for_status()
    return resp.json()["turn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--url", default=os.environ.get("XS_URL",
                        f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}"))
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    args = parser.parse_args()
    rows = read_questions(args.file)
    with httpx.Client(base_url=args.url, timeout=60) as client, ThreadPoolExecutor(4) as pool:
        turns = list(pool.map(lambda r: ask(client, r["q"]), rows))

    outcomes: Counter[str] = Counter()
    per_section = SectionTally()
    top1 = section_ok = 0
    misses = []
    for row, turn in zip(rows, turns, strict=False):
        outcomes[turn["outcome"]] += 1
        got_service = turn["service_id"] if turn["outcome"] == "answer" else None
        ok_service = got_service == row["service"]
        ok_section = ok_service and turn["section"] == row["section"]
        top1 += ok_service
        section_ok += ok_section
        per_section.add(row["section"], ok_service, ok_section)
        if not ok_section:
            misses.append((row, turn))
    n = len(rows)
    print(f"questions: {n}  file: {args.file}")
    print("outcomes: " + ", ".join(f"{k} {v / n:.1%}" for k, v in outcomes.most_common()))
    confident_wrong = sum(1 for r, t in misses
                          if t["outcome"] == "answer" and t["service_id"] != r["service"])
    print(f"confident wrong service: {confident_wrong} ({confident_wrong / n:.1%})")
    print()
    print_section_table(per_section.shares(), "service top-1")
    if args.misses:
        print()
        for row, turn in misses:
            print(f"- {row['q']}  want {row['service']}/{row['section']}  got {turn['outcome']} "
                  f"{turn['service_id']}/{turn['section']}  cands={turn['candidates'][:3]}")
    print()
    print(f"top1={top1 / n:.3f} section={section_ok / n:.3f}")
    sys.exit(0)


if __name__ == "__main__":
    main()
