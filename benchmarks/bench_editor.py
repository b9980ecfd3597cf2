"""Editors benchmark: from an editor's write until the chat answers with it.

    PYTHONPATH=. python benchmarks/bench_editor.py [--cycles 5] [--replaces 4] [--no-write]

Starts the real stack (Redis, Rasa, actions, gateway) on free ports like the tests do (a trained
model must exist: run `make prepare`), logs in as the first admin, then repeats `--cycles` times:
create a new guide (its names add words to the segmentation dictionary: the slow path), replace it
`--replaces` times (a new fee text each time; every other time a new sample question too, which
retrains the classifier), delete it. For each write, a chat client asks the
matching question in a fresh conversation again and again from the moment the write is sent
(pausing 20 ms between turns); *write → answered* is when the first reply that reflects the write
arrives. *write acknowledged* is the PUT/DELETE's own time: it returns once the action server has
applied the change (`live: true`). Prints a Markdown table and replaces the "## Editors" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.report import latency_row, latency_table, publish, trained_model  # noqa: E402
from tests.dog_guide import dog_license_sections  # noqa: E402
from tools.chat_client import with_tokens  # noqa: E402
from tools.stack import Ports, Stack  # noqa: E402

ADMIN = ("bench-admin", "bench-admin-secret-1")
EDITOR = ("bench-editor", "bench-editor-secret-1")
GUIDE_ID = "dog-license-bench"
ASK = "养犬登记证怎么办理"
ASK_FEE = "养犬登记证要交多少钱"
PAUSE_S = 0.02
NUMERALS = "一二三四五六七八九十"


def guide(batch: int, fee: str, extra_question: str | None = None) -> dict[str, Any]:
    questions = ["养狗要办狗证吗", "犬证去哪里办", "养犬登记要带什么材料", "狗证多少钱"]
    return {
        "id": GUIDE_ID, "title": "养犬登记证办理", "audience": "citizen", "theme": "宠物",
        "aliases": ["养狗登记", "狗证", "犬证", f"第{NUMERALS[batch % 10]}批养犬证"],
        "sample_questions": questions + ([extra_question] if extra_question else []),
        "sections": dog_license_sections(fee),
        "situations": [], "source": "基准测试用指南", "reviewed": "2026-11-22",
    }


async def ask(client: httpx.AsyncClient, question: str) -> dict[str, Any]:
    resp = await client.post("/api/chat", json={"sender_id": f"bench-{uuid.uuid4().hex[:10]}",
                                                "message": question, "channel": "web"})
    resp.raise_for_status()
    return resp.json()  # type: ignore[no-any-return]


def _has(marker: str, reply: dict[str, Any]) -> bool:
    return marker in text(reply)


def text(reply: dict[str, Any]) -> str:
    return "\n".join(m.get("text") or "" for m in reply["messages"])


def is_ours(reply: dict[str, Any]) -> bool:
    return reply["turn"]["outcome"] == "answer" and reply["turn"]["service_id"] == GUIDE_ID


async def measure(client: httpx.AsyncClient, write: Callable[[], Any], question: str,
                  check: Callable[[dict[str, Any]], bool], turns: list[float]) -> tuple[float, float]:
    """(write acknowledged, write → answered in chat) in seconds."""
    started = time.perf_counter()

    async def poll() -> float:
        while True:
            t = time.perf_counter()
            reply = await ask(client, question)
            turns.append(time.perf_counter() - t)
            if check(reply):
                return time.perf_counter() - started
            if time.perf_counter() - started > 30:
                raise RuntimeError(f"not answered within 30 s: {reply['turn']}")
            await asyncio.sleep(PAUSE_S)

    poller = asyncio.create_task(poll())
    resp = await write()
    acked = time.perf_counter() - started
    if resp.status_code >= 300 or not resp.json().get("live"):
        raise RuntimeError(f"write failed or not applied: {resp.status_code} {resp.text[:200]}")
    return acked, await poller


async def bench(stack: Stack, cycles: int, replaces: int) -> tuple[dict[str, list[float]], list[float]]:
    results: dict[str, list[float]] = {}
    turns: list[float] = []
    async with with_tokens(httpx.AsyncClient(base_url=stack.gateway_url, timeout=60)) as client:
        token = (await client.post("/api/auth/login", data={"username": ADMIN[0], "password": ADMIN[1]}))
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        await client.put(f"/api/auth/users/{EDITOR[0]}", headers=headers,
                         json={"password": EDITOR[1], "roles": ["editor"]})
        token = (await client.post("/api/auth/login", data={"username": EDITOR[0], "password": EDITOR[1]}))
        editor = {"Authorization": f"Bearer {token.json()['access_token']}"}
        url = f"/api/kb/guides/{GUIDE_ID}"
        await ask(client, ASK)  # warm up Rasa and the actions
        for batch in range(cycles):
            extra: str | None = None
            body = guide(batch, "养犬登记免费。")
            timing = await measure(client, partial(client.put, url, json=body, headers=headers),
                                   ASK, is_ours, turns)
            results.setdefault("create (new dictionary words)", []).append(timing[1])
            results.setdefault("create: write acknowledged", []).append(timing[0])
            for i in range(replaces):
                # Odd replaces also change a sample question: the classifier must be retrained.
                n = batch * 100 + i + 1
                marker = f"养犬登记收费 {n} 元。"
                extra = f"养犬登记第{n}次怎么收费" if i % 2 else extra
                body = guide(batch, marker, extra)
                timing = await measure(client, partial(client.put, url, json=body, headers=headers),
                                       ASK_FEE, partial(_has, marker), turns)
                kind = "replace (names changed: retrain)" if i % 2 else "replace (section text)"
                results.setdefault(kind, []).append(timing[1])
                results.setdefault("replace (either): write acknowledged", []).append(timing[0])
            # The review workflow: an editor's submitted draft, approved by the reviewer.
            marker = f"养犬登记收费 {batch * 100 + 99} 元。"
            draft = await client.post(f"{url}/drafts", headers=editor, json={
                "guide": guide(batch, marker, extra), "note": "基准测试：改收费", "base": None})
            if draft.status_code == 428:  # the guide exists: draft from its newest version
                base = draft.json()["error"]["detail"]["current"]
                draft = await client.post(f"{url}/drafts", headers=editor, json={
                    "guide": guide(batch, marker, extra), "note": "基准测试：改收费", "base": base})
            number = draft.json()["number"]
            (await client.post(f"{url}/versions/{number}/submit", headers=editor)).raise_for_status()
            timing = await measure(client, partial(client.post, f"{url}/versions/{number}/approve",
                                                   json={}, headers=headers),
                                   ASK_FEE, partial(_has, marker), turns)
            results.setdefault("approve a reviewed draft", []).append(timing[1])
            # A synonym group: questions in the new word find the guide at once.
            word = "汪汪证"  # shares no word with the guide: found only through the group
            timing = await measure(client, partial(client.post, "/api/kb/synonyms", headers=headers,
                                                   json={"terms": [word, "养犬登记证"]}),
                                   f"{word}怎么办理", is_ours, turns)
            results.setdefault("synonym group added", []).append(timing[1])
            groups = (await client.get("/api/kb/synonyms", headers=headers)).json()["groups"]
            for g in groups:
                await client.delete(f"/api/kb/synonyms/{g['id']}", headers=headers)
            timing = await measure(client, partial(client.delete, url, headers=headers), ASK,
                                   lambda r: not is_ours(r), turns)
            results.setdefault("delete", []).append(timing[1])
    return results, turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--replaces", type=int, default=6)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    model = trained_model()
    stack = Stack(Ports.free(), Path(tempfile.mkdtemp(prefix="bench-editor-")), log_to_files=True,
                  extra_env={"XS_ADMIN_USER": ADMIN[0], "XS_ADMIN_PASSWORD": ADMIN[1],
                             "XS_RATE_LIMITS": "off"})  # one client polls in fresh conversations
    try:
        stack.start(model)
        results, turns = asyncio.run(bench(stack, args.cycles, args.replaces))
    finally:
        stack.stop()
    rows = [latency_row(name, v) for name, v in results.items()]
    rows.append(latency_row("one chat turn (for scale)", turns))
    section = "\n".join([
        "## Editors",
        "",
        f"`benchmarks/bench_editor.py`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; real stack, 60 guides, embedded search. "
        f"{args.cycles} cycles of "
        f"create → {args.replaces} replaces → an editor's draft approved by a reviewer → a synonym "
        "group → delete of one guide, every write through the guides of record (SQLite) and then "
        "the live channel (`/api/kb/guides/{id}`, `…/approve`, `/api/kb/synonyms`). "
        "*write → answered* runs from sending the write until the first chat reply (a fresh conversation, "
        "asked again and again from that moment) reflects it: the new guide answered, the new fee text "
        "shown, the deleted guide no longer answered. *write acknowledged* is the PUT's own time (it waits "
        "until the action server applied the change). A replace that keeps the guide's names (title, "
        "aliases, sample questions) keeps the classifier and only updates text statistics (~10 ms); one "
        "that changes them (a create adds a class and words to the segmentation dictionary) answers "
        "after one Newton step of the classifier warm-started from its previous weights (~0.3 s); "
        "the full fit follows on a worker thread 1 s after the last edit. A deleted guide stops "
        "being answered at once; the retrain follows. "
        "A synonym group needs no reindex: it expands the question.",
        "",
        *latency_table("write", rows),
        "",
    ])
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
