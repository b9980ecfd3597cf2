"""Handoff benchmark: with N concurrent conversations, how fast things reach agents and users.

    PYTHONPATH=. python benchmarks/bench_handoff.py [--users 50] [--agents 10] [--no-write]

Starts the real stack (Redis, Rasa, actions, gateway) on free ports like the tests do (a trained
model must exist: run `make prepare`), creates agents, forces service hours open, connects every
agent's console WebSocket, then measures:
  * handoff → console: from sending "转人工" (a full Rasa turn) until the conversation's `queued`
    event arrives on each connected console;
  * user → agent: from POST /api/chat while an agent holds the conversation until the `message`
    event arrives on the holding agent's console;
  * agent → user: from the agent's POST until the message is visible to the user through the plain
    API channel (GET /api/chat/{id}/messages polled every 10 ms).
Prints a Markdown table and replaces the "## Handoff" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import websockets.client  # noqa: E402

from benchmarks.report import latency_row, latency_table, publish, trained_model  # noqa: E402
from connectors.gateway.auth import Accounts  # noqa: E402
from tools.chat_client import with_tokens  # noqa: E402
from tools.stack import Ports, Stack  # noqa: E402

PASSWORD = "bench-agent-pass"
POLL_S = 0.01


class Console:
    """One agent's console socket, recording when each event arrived."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.arrivals: dict[tuple[str, str], float] = {}
        self.fanout: list[float] = []  # queued event: server's enqueue time -> arrival (same host clock)
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with websockets.client.connect(self.url, max_size=None) as ws:
            await ws.send(json.dumps({"type": "auth", "token": self.token}))
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "snapshot":
                    self.ready.set()
                if event["type"] == "queued":
                    self.fanout.append(time.time() - event["queued_at"])
                sender = event.get("sender_id")
                if sender:
                    self.arrivals.setdefault((event["type"], sender), time.perf_counter())

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    async def wait_for(self, kind: str, sender: str, timeout: float = 30) -> float:
        deadline = time.perf_counter() + timeout
        while (kind, sender) not in self.arrivals:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{kind} for {sender} never reached the console")
            await asyncio.sleep(0.002)
        return self.arrivals[(kind, sender)]


async def bench(stack: Stack, users: int, agents: int) -> dict[str, list[float]]:
    redis = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
    accounts = Accounts(redis, 3600)
    per_agent = -(-users // agents)
    names = [f"bench{i}" for i in range(agents)]
    for name in names:
        await accounts.create_user(name, PASSWORD, ["agent"], max_concurrent=per_agent)
    await redis.set("xs:ho:hours_override", "open")
    ws_url = stack.gateway_url.replace("http://", "ws://") + "/api/agents/ws"
    results: dict[str, list[float]] = {"handoff → console": [], "queued → console (fan-out only)": [],
                                       "user → agent": [], "agent → user": []}
    limits = httpx.Limits(max_connections=users * 2)
    async with with_tokens(httpx.AsyncClient(base_url=stack.gateway_url, timeout=60, limits=limits)) as http:
        tokens = {}
        for name in names:
            resp = await http.post("/api/auth/login", data={"username": name, "password": PASSWORD})
            tokens[name] = resp.json()["access_token"]
        consoles = {name: Console(ws_url, tokens[name]) for name in names}
        for console in consoles.values():
            console.start()
        await asyncio.gather(*(asyncio.wait_for(c.ready.wait(), 30) for c in consoles.values()))

        senders = [f"bench-{os.getpid()}-{i}" for i in range(users)]
        sent: dict[str, float] = {}

        async def ask(sender: str) -> None:
            sent[sender] = time.perf_counter()
            resp = await http.post("/api/chat", json={"sender_id": sender, "message": "我要转人工"})
            assert resp.json()["turn"]["handoff"] == "queued", resp.text

        await asyncio.gather(*(ask(s) for s in senders))
        for sender in senders:
            for console in consoles.values():
                results["handoff → console"].append(await console.wait_for("queued", sender) - sent[sender])

        results["queued → console (fan-out only)"] = [x for c in consoles.values() for x in c.fanout]
        holder = {s: names[i // per_agent] for i, s in enumerate(senders)}
        auth = {n: {"Authorization": f"Bearer {tokens[n]}"} for n in names}
        claims = await asyncio.gather(*(
            http.post(f"/api/agents/conversations/{s}/claim", headers=auth[holder[s]]) for s in senders))
        assert all(c.status_code == 200 for c in claims), [c.text for c in claims if c.status_code != 200]

        async def user_to_agent(sender: str) -> None:
            t0 = time.perf_counter()
            resp = await http.post("/api/chat", json={"sender_id": sender, "message": "请问还需要什么材料？"})
            assert resp.json()["turn"]["handoff"] == "agent"
            results["user → agent"].append(await consoles[holder[sender]].wait_for("message", sender) - t0)

        await asyncio.gather(*(user_to_agent(s) for s in senders))

        async def agent_to_user(sender: str) -> None:
            after = (await http.get(f"/api/chat/{sender}/messages")).json()["messages"][-1]["seq"]
            t0 = time.perf_counter()
            await http.post(f"/api/agents/conversations/{sender}/messages", headers=auth[holder[sender]],
                            json={"text": "您好，还需要身份证原件。"})
            while True:
                got = (await http.get(f"/api/chat/{sender}/messages", params={"after": after})).json()
                if any(m["role"] == "agent" for m in got["messages"]):
                    results["agent → user"].append(time.perf_counter() - t0)
                    return
                await asyncio.sleep(POLL_S)

        await asyncio.gather(*(agent_to_user(s) for s in senders))
        await asyncio.gather(*(http.post(f"/api/agents/conversations/{s}/close", headers=auth[holder[s]])
                               for s in senders))
        for console in consoles.values():
            await console.stop()
    await redis.delete("xs:ho:hours_override")
    await redis.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    model = trained_model()
    stack = Stack(Ports.free(), Path(tempfile.mkdtemp(prefix="bench-handoff-")), log_to_files=True)
    try:
        stack.start(model)
        results = asyncio.run(bench(stack, args.users, args.agents))
    finally:
        stack.stop()
    rows = [latency_row(name, v) for name, v in results.items()]
    section = "\n".join([
        "## Handoff",
        "",
        f"`benchmarks/bench_handoff.py`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.users} concurrent conversations, {args.agents} agents "
        "each with a console WebSocket open, one gateway process, real Rasa. *handoff → console* runs from "
        "sending 转人工 (a full Rasa turn; 50 at once queue up in Rasa) to the `queued` event on every "
        "console; "
        "*fan-out only* from the gateway queueing it to the console "
        f"({args.users}×{args.agents} samples); *user → agent* to the holding agent's console; "
        "*agent → user* "
        f"until the plain API channel shows it (polled every {POLL_S * 1000:.0f} ms).",
        "",
        *latency_table("path", rows),
        "",
    ])
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
