"""Conversation state under concurrency, with real Redis and real processes.

Each test is a defect the groundwork fixed: a transcript append visible before the one before it,
a status write that overwrote an agent's claim, two gateway processes running turns of one
conversation at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import redis as sync_redis
import redis.asyncio as aioredis

from connectors.gateway.auth import Principal
from connectors.gateway.chat import TurnContext
from connectors.gateway.conversations import ConversationStore, new_entry
from connectors.gateway.handoff import keys
from connectors.gateway.settings import Settings
from connectors.gateway.state import AppState
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


APPENDER = """
    import asyncio, sys
    import redis.asyncio as aioredis
    from connectors.gateway.conversations import ConversationStore

    async def main(url, sender, n):
        store = ConversationStore(aioredis.Redis.from_url(url, decode_responses=True))
        for i in range(n):
            await store.append(sender, "user", f"{sys.argv[4]}-{i}")

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def test_concurrent_appends_from_two_processes_never_show_a_gap(redis_url: str) -> None:
    sender, n = "race-append", 400
    writers = [_spawn(APPENDER, redis_url, sender, str(n), name) for name in ("a", "b")]
    reader = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    reads = 0
    while any(w.poll() is None for w in writers):
        seqs = [json.loads(item)["seq"] for item in reader.lrange(f"xs:conv:{sender}:log", 0, -1)]
        # Whatever a reader sees is a prefix 1..k: never N+1 without N, never out of order.
        assert seqs == list(range(1, len(seqs) + 1))
        reads += 1
    for w in writers:
        assert w.wait() == 0, w.stderr.read() if w.stderr else ""
    seqs = [json.loads(item)["seq"] for item in reader.lrange(f"xs:conv:{sender}:log", 0, -1)]
    assert seqs == list(range(1, 2 * n + 1)) and reads > 10


async def test_entries_of_one_append_are_numbered_in_order(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    store = ConversationStore(client)
    await store.append("order", "user", "问题")
    stored = await store.append_many("order", [new_entry("bot", "一"), new_entry("bot", "二")])
    assert [e["seq"] for e in stored] == [2, 3]
    stored_now = [(e["seq"], e["text"]) for e in await store.history("order")]
    assert stored_now == [(1, "问题"), (2, "一"), (3, "二")]
    await client.aclose()


async def test_a_rating_step_racing_an_agent_takeover_never_overwrites_the_claim(redis_url: str) -> None:
    """The user's turn read status `rating`; before it writes, an agent takes the conversation over."""
    settings = Settings(redis_url=redis_url)
    state = AppState.create(settings)
    service, hook = state.handoff.service, state.handoff.hook
    sender = "race-claim"
    await state.redis.hset(keys.conv(sender), mapping={"status": keys.RATING, "agent": "xiaowang"})
    entry = await state.store.append(sender, "user", "我还有个问题想问")
    stale = TurnContext(sender, "我还有个问题想问", "web", entry, prefetched=[1, 0, {"status": keys.RATING}])
    agent = Principal("xiaoli", frozenset({"agent"}))
    await service.claim(sender, agent, takeover=True)
    await hook.before_turn(stale)  # "not a rating": the prompt lapses, but only from `rating`
    conv = await service.status(sender)
    assert (conv["status"], conv["agent"]) == (keys.AGENT, "xiaoli")
    await state.close()


async def test_moves_only_from_the_status_seen(redis_url: str) -> None:
    state = AppState.create(Settings(redis_url=redis_url))
    service = state.handoff.service
    assert await service.move("m", "", keys.MESSAGE, pending_text="")
    assert not await service.move("m", "", keys.MESSAGE)  # already leaving a 留言
    assert await service.move("m", keys.MESSAGE, "", pending_text="")
    assert (await service.status("m"))["status"] == ""
    await state.close()


SLOW_RASA = """
    import json, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    lock, inflight, peak = threading.Lock(), {}, {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, data):
            body = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with lock:
                self._send(dict(peak))

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            sender = body["sender"]
            with lock:
                inflight[sender] = inflight.get(sender, 0) + 1
                peak[sender] = max(peak.get(sender, 0), inflight[sender])
            time.sleep(0.05)
            with lock:
                inflight[sender] -= 1
            turn = {"outcome": "smalltalk", "intent": "greet", "confidence": 1.0, "candidates": []}
            self._send([{"text": "ok " + body["message"]}, {"custom": {"turn": turn}}])

    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
"""

GATEWAY_TURNS = """
    import asyncio, sys
    from connectors.gateway.settings import Settings
    from connectors.gateway.state import AppState

    async def main(redis_url, rasa_url, sender, n, name):
        state = AppState.create(Settings(redis_url=redis_url, rasa_url=rasa_url))
        await asyncio.gather(*(state.chat.turn(sender, f"{name}-{i}", "web") for i in range(n)))
        await state.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]))
"""


def test_two_gateway_processes_run_one_conversations_turns_one_at_a_time(redis_url: str) -> None:
    port = free_port()
    rasa = _spawn(SLOW_RASA, str(port))
    try:
        assert rasa.stdout is not None and rasa.stdout.readline().strip() == "ready"
        rasa_url = f"http://127.0.0.1:{port}"
        gateways = [_spawn(GATEWAY_TURNS, redis_url, rasa_url, "one-conv", "6", name)
                    for name in ("g1", "g2")]
        for g in gateways:
            assert g.wait(60) == 0, g.stderr.read() if g.stderr else ""
        peak: dict[str, Any] = httpx.get(f"{rasa_url}/peak").json()
        assert peak == {"one-conv": 1}
        # Each turn's user message is followed by its own reply in the transcript.
        store = sync_redis.Redis.from_url(redis_url, decode_responses=True)
        entries = [json.loads(e) for e in store.lrange("xs:conv:one-conv:log", 0, -1)]
        assert len(entries) == 24
        for user, bot in zip(entries[::2], entries[1::2], strict=True):
            assert (user["role"], bot["role"]) == ("user", "bot") and bot["text"] == "ok " + user["text"]
    finally:
        rasa.terminate()
        rasa.wait(10)
