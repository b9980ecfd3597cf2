"""Load benchmark: simulated citizens holding multi-turn conversations against the whole stack.

    PYTHONPATH=. python benchmarks/bench_load.py [--levels 50,200,1000] [--hold 60] [--no-write]

Starts the real stack (Redis, Rasa, actions, gateway; a trained model must exist) on free ports,
then, with our own asyncio driver (one process, httpx and python-socketio clients):

- **Open arrival** at each level of concurrent conversations: conversations start as a Poisson
  process at the rate that keeps `level` of them open (rate = level / mean conversation length),
  for `--hold` seconds after a ramp-up; each plays a script — a guide question with follow-ups and
  corrections (tests/data/tune/dialogues.jsonl, our own held-out dialogues), a smart declaration's
  first steps, or a request for a person that is then withdrawn — with think times of 3–15 s
  between turns; half of the conversations speak socket.io (the widget's protocol), half
  `/api/chat`.
- **Closed loop**: N workers send the same turns back to back (no think time) for 20 s each, N
  doubling until throughput stops growing: the saturation throughput; the same turns straight to
  Rasa's REST channel side by side, so the gateway's cost is a ratio.

Reports turns/s, p50/p95/p99 turn latency, errors, and CPU and memory of every process (sampled
each second with psutil), then replaces the "## Load" section of docs/benchmarks.md. Rate limits
are off: every simulated citizen comes from this one address, which the per-address limits would
rightly throttle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import socketio  # noqa: E402

from benchmarks.report import percentile, publish, trained_model  # noqa: E402
from tools.stack import Ports, Stack  # noqa: E402

THINK_S = (3.0, 15.0)
TURN_TIMEOUT_S = 30.0
DIALOGUES = ROOT / "tests" / "data" / "tune" / "dialogues.jsonl"
DECLARATION = ["帮我申报居住证", "是的", "在上海有合法稳定住所", "租房"]
HANDOFF = ["居住证积分怎么算", "我要转人工", "/leave_queue", "那我再问问：积分要多久审批"]


def scripts() -> list[list[str]]:
    """The conversations citizens hold: mostly guide questions with follow-ups, some declarations
    and some requests for a person."""
    dialogues = [[t["q"] for t in json.loads(line)["turns"]]
                 for line in DIALOGUES.read_text("utf-8").splitlines() if line.strip()]
    return dialogues + [DECLARATION] * (len(dialogues) // 8) + [HANDOFF] * (len(dialogues) // 8)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    turns: int = 0
    started: float = field(default_factory=time.perf_counter)
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, seconds: float, ok: bool, kind: str = "") -> None:
        self.turns += 1
        if ok:
            self.latencies.append(seconds)
        else:
            self.errors += 1
            self.kinds[kind or "failed"] = self.kinds.get(kind or "failed", 0) + 1


class HttpCitizen:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.sender = f"load-{uuid.uuid4().hex[:12]}"
        self.token: str | None = None

    async def open(self) -> None:
        return None

    async def say(self, text: str) -> str:
        """"" when answered, else what went wrong."""
        headers = {"X-Conversation-Token": self.token} if self.token else {}
        resp = await self.client.post("/api/chat", headers=headers, timeout=TURN_TIMEOUT_S,
                                      json={"sender_id": self.sender, "message": text, "channel": "web"})
        if resp.status_code != 200:
            return f"http {resp.status_code} {resp.json().get('error', {}).get('code', '')}"
        self.token = resp.json().get("conversation_token") or self.token
        return ""

    async def close(self) -> None:
        return None


class SocketCitizen:
    """The widget's protocol: session_request, then user_uttered with an acknowledgement."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.session: str | None = None
        self._confirmed = asyncio.Event()

        async def confirm(data: str) -> None:
            self.session = data
            self._confirmed.set()

        self.sio.on("session_confirm", confirm)

    async def open(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=10)
        await self.sio.emit("session_request", {"session_id": None})
        await asyncio.wait_for(self._confirmed.wait(), 10)

    async def say(self, text: str) -> str:
        ack = await self.sio.call("user_uttered", {"message": text, "session_id": self.session,
                                                   "customData": {}}, timeout=TURN_TIMEOUT_S)
        if ack and ack.get("ok"):
            return ""
        return f"socket {(ack or {}).get('error', {}).get('code', 'no ack')}"

    async def close(self) -> None:
        await self.sio.disconnect()


async def converse(citizen: HttpCitizen | SocketCitizen, script: list[str], tally: Tally,
                   rng: random.Random, think: bool = True) -> None:
    try:
        await citizen.open()
    except Exception as exc:
        tally.add(0.0, False, f"connect {type(exc).__name__}")
        return
    try:
        for i, text in enumerate(script):
            if think and i:
                await asyncio.sleep(rng.uniform(*THINK_S))
            started = time.perf_counter()
            try:
                problem = await citizen.say(text)
            except Exception as exc:
                problem = type(exc).__name__
            tally.add(time.perf_counter() - started, not problem, problem)
    finally:
        try:
            await citizen.close()
        except Exception:
            pass


class Sampler:
    """CPU (% of one core) and resident memory of each process of the stack, every second."""

    def __init__(self, stack: Stack) -> None:
        self.procs = {name: psutil.Process(p.pid) for name, p in stack.procs.items()}
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in self.procs}
        self._task: asyncio.Task[None] | None = None

    def _tree(self, proc: psutil.Process) -> list[psutil.Process]:
        try:
            return [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return [proc]

    async def _run(self) -> None:
        trees = {name: self._tree(p) for name, p in self.procs.items()}
        for tree in trees.values():
            for p in tree:
                p.cpu_percent(None)
        while True:
            await asyncio.sleep(1.0)
            for name, tree in trees.items():
                cpu = mem = 0.0
                for p in tree:
                    try:
                        cpu += p.cpu_percent(None)
                        mem += p.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                self.samples[name].append((cpu, mem))

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def summary(self) -> str:
        parts = []
        for name, rows in self.samples.items():
            if rows:
                cpu = statistics.mean(r[0] for r in rows)
                mem = max(r[1] for r in rows)
                parts.append(f"{name} {cpu:.0f} % / {mem:.0f} MB")
        return "; ".join(parts)


def row(name: str, tally: Tally, seconds: float, extra: str = "") -> str:
    lat = tally.latencies or [0.0]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(tally.kinds.items()))
    kinds = f" ({kinds})" if kinds else ""
    return (f"| {name} | {tally.turns} | {tally.turns / seconds:.1f} | {percentile(lat, 0.5) * 1000:.0f} | "
            f"{percentile(lat, 0.95) * 1000:.0f} | {percentile(lat, 0.99) * 1000:.0f} | "
            f"{tally.errors / max(1, tally.turns):.1%}{kinds} | {extra} |")


async def open_arrival(stack: Stack, level: int, hold_s: float, pool: list[list[str]],
                       rng: random.Random) -> tuple[Tally, float, str]:
    """Conversations arriving at the rate that keeps `level` open; turns measured after ramp-up."""
    mean_turns = statistics.mean(len(s) for s in pool)
    mean_length = (mean_turns - 1) * statistics.mean(THINK_S) + 0.5
    rate = level / mean_length
    tally = Tally()
    warm = Tally()
    tasks: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=level + 10, max_keepalive_connections=level + 10)
    async with httpx.AsyncClient(base_url=stack.gateway_url, limits=limits) as client:
        with Sampler(stack) as sampler:
            start = time.perf_counter()
            ramp_s = min(mean_length, 30.0)
            while (now := time.perf_counter() - start) < ramp_s + hold_s:
                citizen = HttpCitizen(client) if rng.random() < 0.5 else SocketCitizen(stack.gateway_url)
                target = warm if now < ramp_s else tally
                task = asyncio.create_task(converse(citizen, rng.choice(pool), target, rng))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                await asyncio.sleep(rng.expovariate(rate))
            measured = time.perf_counter() - start - ramp_s
            open_now = len(tasks)
            summary = sampler.summary()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return tally, measured, f"{open_now} open at the end; {summary}"


async def closed_loop(stack: Stack, workers: int, seconds: float, pool: list[list[str]],
                      direct: bool) -> tuple[Tally, str]:
    """`workers` clients sending turns back to back, to the gateway or straight to Rasa's REST channel."""
    tally = Tally()
    stop = time.perf_counter() + seconds
    rasa = f"http://127.0.0.1:{stack.ports.rasa}/webhooks/rest/webhook"

    async def worker(client: httpx.AsyncClient, rng: random.Random) -> None:
        while time.perf_counter() < stop:
            script = rng.choice(pool)
            sender = f"loop-{uuid.uuid4().hex[:12]}"
            token: str | None = None
            for text in script:
                if time.perf_counter() >= stop:
                    return
                started = time.perf_counter()
                try:
                    if direct:
                        resp = await client.post(rasa, json={"sender": sender, "message": text},
                                                 timeout=TURN_TIMEOUT_S)
                    else:
                        headers = {"X-Conversation-Token": token} if token else {}
                        body = {"sender_id": sender, "message": text, "channel": "web"}
                        resp = await client.post("/api/chat", headers=headers, timeout=TURN_TIMEOUT_S,
                                                 json=body)
                        if resp.status_code == 200:
                            token = resp.json().get("conversation_token") or token
                    ok = resp.status_code == 200
                except Exception:
                    ok = False
                tally.add(time.perf_counter() - started, ok)

    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        with Sampler(stack) as sampler:
            await asyncio.gather(*(worker(client, random.Random(i)) for i in range(workers)))
            summary = sampler.summary()
    return tally, summary


async def bench(stack: Stack, levels: list[int], hold_s: float) -> list[str]:
    pool = scripts()
    rng = random.Random(7)
    lines = ["| run | turns | turns/s | p50 (ms) | p95 (ms) | p99 (ms) | errors | notes |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:  # warm up every component
        await HttpCitizen(client).say("你好")
    for level in levels:
        tally, seconds, notes = await open_arrival(stack, level, hold_s, pool, rng)
        lines.append(row(f"open arrival, {level} concurrent conversations", tally, seconds, notes))
        print(lines[-1], flush=True)
    best = 0.0
    workers = 1
    while workers <= 64:
        gateway, g_summary = await closed_loop(stack, workers, 20.0, pool, direct=False)
        rasa, r_summary = await closed_loop(stack, workers, 20.0, pool, direct=True)
        ratio = (statistics.median(gateway.latencies) / statistics.median(rasa.latencies)
                 if gateway.latencies and rasa.latencies else float("nan"))
        lines.append(row(f"closed loop, {workers} workers: gateway", gateway, 20.0,
                         f"p50 ×{ratio:.2f} of Rasa direct; {g_summary}"))
        lines.append(row(f"closed loop, {workers} workers: Rasa REST direct", rasa, 20.0, r_summary))
        print(lines[-2], lines[-1], sep="\n", flush=True)
        throughput = gateway.turns / 20.0
        growing = throughput >= best * 1.1
        best = max(best, throughput)
        if not growing:
            break
        workers *= 2
    lines.append("")
    lines.append(f"Saturation: about {best:.1f} turns/s through the gateway on this machine.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="50,200,1000")
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x]
    model = trained_model()
    stack = Stack(Ports.free(), Path(tempfile.mkdtemp(prefix="bench-load-")), log_to_files=True,
                  extra_env={"XS_RATE_LIMITS": "off"})
    try:
        stack.start(model)
        lines = asyncio.run(bench(stack, levels, args.hold))
    finally:
        stack.stop()
    section = "\n".join([
        "## Load",
        "",
        f"`benchmarks/bench_load.py`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}; one replica "
        "of each process, embedded search, SQLite of record, load generator on the same machine (it "
        "takes CPU from the stack). Open arrival: conversations (guide questions with follow-ups and "
        "corrections, a declaration's first steps, a handoff request withdrawn) start as a Poisson "
        f"process keeping the level open, think time {THINK_S[0]:.0f}–{THINK_S[1]:.0f} s, half over "
        f"socket.io and half over `/api/chat`, {args.hold:.0f} s measured after a ramp-up. Closed loop: "
        "workers send turns back to back for 20 s, doubling until throughput stops growing; the same "
        "turns straight to Rasa's REST channel (no gateway, no tokens, no handoff or inbox) beside. "
        "Errors are turns that failed or timed out (30 s). CPU is % of one core, averaged; memory is "
        "the peak resident set of the process and its children.",
        "",
        *lines,
        "",
    ])
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
