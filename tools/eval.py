"""`make eval`: run evaluation files through a running bot's POST /api/chat and report accuracy.

    PYTHONPATH=. python -m tools.eval [FILE.jsonl …] [--url URL] [--misses]

Question files (`{"q", "service", "section"}`): each question gets a fresh sender_id. Dialogue files
(`{"id", "style", "turns": [...]}`): each dialogue is one conversation, one sender_id, its
conversation token sent back on every later turn. For each file: service top-1, section accuracy,
outcome shares, confident wrong answers in and out of catalog, tables per section and style, turn
accuracy for dialogues (tools/eval_report.py says how each is counted). The last line is
`top1=… section=…` (plus `turns=… dialogues=…` when dialogue files ran), over every file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import httpx

from tools.chat_client import with_tokens
from tools.eval_report import (
    DEV_QUESTIONS,
    Got,
    Item,
    Run,
    dialogue_report,
    is_dialogue_file,
    question_report,
    read_jsonl,
    score_dialogues,
    score_questions,
)

WORKERS: Final = 4
RETRIES: Final = 5
MAX_RETRY_WAIT_S: Final = 30.0


def post_turn(client: httpx.Client, sender_id: str, message: str) -> dict[str, Any]:
    """One turn's block; waits out a rate limit (429 with Retry-After) a few times."""
    for attempt in range(RETRIES):
        resp = client.post("/api/chat", json={"sender_id": sender_id, "message": message,
                                              "channel": "api"})
        if resp.status_code == 429 and attempt < RETRIES - 1:
            time.sleep(min(float(resp.headers.get("Retry-After", "1")), MAX_RETRY_WAIT_S))
            continue
        resp.raise_for_status()
        turn: dict[str, Any] = resp.json()["turn"]
        return turn
    raise AssertionError("unreachable")


def ask(client: httpx.Client, question: str) -> Got:
    """A question in a conversation of its own."""
    return Got.from_turn(post_turn(client, f"eval-{uuid.uuid4().hex}", question))


def converse(client: httpx.Client, dialogue: Item) -> list[Got]:
    """Every turn of a dialogue, in order, in one conversation (the client's TokenJar keeps the
    conversation token of the first reply and sends it on the later turns)."""
    sender_id = f"eval-{uuid.uuid4().hex}"
    return [Got.from_turn(post_turn(client, sender_id, turn["q"])) for turn in dialogue["turns"]]


def evaluate_file(client: httpx.Client, pool: ThreadPoolExecutor, path: Path, run: Run,
                  misses: bool) -> list[str]:
    """Run one file through the bot, add it to `run`, and return its report lines."""
    rows = read_jsonl(path)
    if not rows:
        return [f"== {path}: no lines, skipped"]
    if is_dialogue_file(rows):
        replies = list(pool.map(lambda d: converse(client, d), rows))
        run.add_dialogues(rows, replies)
        return dialogue_report(str(path), rows, replies, score_dialogues(rows, replies), misses=misses)
    gots = list(pool.map(lambda r: ask(client, r["q"]), rows))
    run.add_questions(rows, gots)
    return question_report(str(path), rows, gots, score_questions(rows, gots), misses=misses)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=[DEV_QUESTIONS])
    parser.add_argument("--url", default=os.environ.get("XS_URL",
                        f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}"))
    parser.add_argument("--misses", action="store_true", help="list every wrong item and turn")
    args = parser.parse_args(argv)
    run = Run()
    try:
        with with_tokens(httpx.Client(base_url=args.url, timeout=60)) as client, \
                ThreadPoolExecutor(WORKERS) as pool:
            for path in args.files:
                print("\n".join(evaluate_file(client, pool, path, run, args.misses)))
                print()
    except httpx.TransportError as e:
        sys.exit(f"no bot answering at {args.url} ({e}): start it with `make run`")
    print("\n".join(run.closing_lines()))
    sys.exit(0)


if __name__ == "__main__":
    main()
