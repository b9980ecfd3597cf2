"""Turn benchmark: one chat turn through the gateway against the same turn sent straight to Rasa.

    PYTHONPATH=. python benchmarks/bench_turn.py [--turns 6] [--conversations 50] [--rounds 4] [--no-write]

Starts the real stack (Redis, Rasa, actions, gateway) on free ports like the tests do (a trained
model must exist: run `make prepare`), warms both paths up, then measures the same conversations
(fresh sender ids, the same questions in the same order) on two paths:
  * rasa: `POST {rasa}/webhooks/rest/webhook` — what the gateway itself calls;
  * gateway: `POST /api/chat` — turn lock, transcript and handoff state, Rasa, transcript again.
Each conversation is a closed loop: it sends `--turns` turns one after another, no think time. At
1 conversation, `--serial` conversations run one after another; at `--conversations` they all run
at once. Runs are interleaved (each round: both paths at 1, then at N, which path goes first
swapped every round) so neither profits from the machine's state, and samples of the `--rounds`
rounds are pooled. To show where the gateway's time goes, also reported: the gateway's time in
Rasa from its own turn log, and each process's CPU time (from /proc) per turn. Prints Markdown
tables and replaces the "## Gateway vs Rasa" section of docs/benchmarks.md.
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
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.report import latency_row, latency_table, percentile, publish, trained_model  # noqa: E402
from tools.chat_client import HEADER  # noqa: E402
from tools.stack import Ports, Stack  # noqa: E402

# Guide questions and smalltalk a citizen would send. None of them asks for a person or says yes
# (after two misses the bot offers one, and a yes would queue the conversation for an agent).
QUESTIONS = (
    "你好",
    "开公司要带什么材料？",
    "公积金租房提取多久到账？",
    "身份证丢了怎么补办？",
    "护照办下来要多长时间？",
    "居住证到期了怎么续签？",
    "个税年度汇算在哪里办？",
    "失业金怎么申领？",
    "孩子上幼儿园报名要准备什么？",
    "结婚登记要带哪些证件？",
    "谢谢",
    "社保卡丢了补办要多少钱？",
    "新能源车牌怎么申请？",
    "看病的钱医保报销需要哪些材料？",
    "公司营业执照变更怎么办理？",
    "公积金贷款额度怎么算？",
    "港澳通行证续签在哪里办？",
    "你是机器人吗？",
    "公司注销的流程是怎样的？",
    "再见",
)
PATHS = ("rasa", "gateway")
LABELS = {"rasa": "Rasa REST channel", "gateway": "gateway `/api/chat`"}
PROCESSES = ("rasa", "actions", "gateway", "redis")
MACHINE = "machine"  # all CPUs' busy time, to see what else ran on the machine meanwhile
WARMUP_TURNS = 5
TARGET_P50_DELTA_MS = 5.0
TARGET_THROUGHPUT_RATIO = 0.90

Send = Callable[[str, str], Awaitable[None]]


@dataclass
class Samples:
    """Turn latencies (s) and wall time (s) pooled over the runs of one path at one concurrency."""

    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    runs_tps: list[float] = field(default_factory=list)
    runs_other_cpus: list[float] = field(default_factory=list)  # CPUs busy with anything else, per run
    cpu_s: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds over the runs

    @property
    def tps(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    def cpu_ms_per_turn(self, process: str) -> float:
        return self.cpu_s.get(process, 0.0) * 1000 / max(1, len(self.latencies))


def cpu_times(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each stack process, by this client and by the
    whole machine (Linux /proc; without it only the client's)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"bench client": time.process_time()}
    try:  # cpu  user nice system idle iowait irq softirq steal ...
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        used[MACHINE] = (sum(ticks) - ticks[3] - ticks[4]) / tick
    except (OSError, ValueError):
        pass
    for name in PROCESSES:
        proc = stack.procs.get(name)
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split() if proc else []
        except OSError:  # not Linux, or the process is gone
            continue
        if fields:  # utime, stime, cutime, cstime are fields 14-17; fields[0] is field 3
            used[name] = sum(int(x) for x in fields[11:15]) / tick
    return used


def message(conversation: int, turn: int) -> str:
    """The turn-th message of a conversation; conversations start at different questions."""
    return QUESTIONS[(conversation * 3 + turn) % len(QUESTIONS)]


class Paths:
    """The two ways of sending one turn, with one connection pool each."""

    def __init__(self, stack: Stack, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.gateway = httpx.AsyncClient(base_url=stack.gateway_url, timeout=120, limits=limits)
        # Each conversation's token, kept as a client of the contract keeps it (tools.chat_client's
        # TokenJar would parse every request's JSON again on the client's side of the timing).
        self.tokens: dict[str, str] = {}
        self.rasa = httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.ports.rasa}", timeout=120,
                                      limits=limits, params={"token": stack.rasa_token})
        self.outcomes: dict[str, int] = {}

    async def close(self) -> None:
        await self.gateway.aclose()
        await self.rasa.aclose()

    def sender(self, path: str) -> Send:
        return self.via_gateway if path == "gateway" else self.via_rasa

    async def via_rasa(self, sender_id: str, text: str) -> None:
        resp = await self.rasa.post("/webhooks/rest/webhook", json={"sender": sender_id, "message": text})
        resp.raise_for_status()
        if not resp.json():
            raise RuntimeError(f"Rasa answered {text!r} with no messages (sender {sender_id})")

    async def via_gateway(self, sender_id: str, text: str) -> None:
        token = self.tokens.get(sender_id)
        resp = await self.gateway.post("/api/chat", json={"sender_id": sender_id, "message": text,
                                                          "channel": "web"},
                                       headers={HEADER: token} if token else None)
        resp.raise_for_status()
        body = resp.json()
        if "conversation_token" in body:
            self.tokens[sender_id] = body["conversation_token"]
        turn = body["turn"]
        if turn["handoff"] != "none":  # a queued conversation no longer reaches Rasa
            raise RuntimeError(f"{text!r} handed {sender_id} off ({turn}); change QUESTIONS")
        self.outcomes[turn["outcome"]] = self.outcomes.get(turn["outcome"], 0) + 1


async def conversation(send: Send, sender_id: str, index: int, turns: int, out: list[float]) -> None:
    """A closed loop: each turn is sent as soon as the previous one is answered."""
    for turn in range(turns):
        started = time.perf_counter()
        await send(sender_id, message(index, turn))
        out.append(time.perf_counter() - started)


async def run(send: Send, prefix: str, concurrency: int, serial: int,
              turns: int) -> tuple[list[float], float]:
    """Latencies of every turn and the run's wall time: `serial` conversations one after another
    at concurrency 1, otherwise `concurrency` conversations at once."""
    latencies: list[float] = []
    started = time.perf_counter()
    if concurrency == 1:
        for i in range(serial):
            await conversation(send, f"{prefix}-{i}", i, turns, latencies)
    else:
        await asyncio.gather(*(conversation(send, f"{prefix}-{i}", i, turns, latencies)
                               for i in range(concurrency)))
    return latencies, time.perf_counter() - started


async def bench(stack: Stack, tag: str, turns: int, conversations: int, serial: int,
                rounds: int) -> tuple[dict[tuple[str, int], Samples], dict[str, int]]:
    paths = Paths(stack, connections=conversations * 2)
    levels = (1, conversations)
    results = {(path, level): Samples() for path in PATHS for level in levels}
    try:
        say("warming up both paths")
        for path in PATHS:
            send = paths.sender(path)
            await run(send, f"{tag}-warm-{path}-1", 1, 1, WARMUP_TURNS)
            await run(send, f"{tag}-warm-{path}-{conversations}", conversations, 1, 2)
        paths.outcomes.clear()
        for r in range(rounds):
            for level in levels:
                for path in PATHS if r % 2 == 0 else PATHS[::-1]:
                    before = cpu_times(stack)
                    latencies, wall = await run(paths.sender(path), f"{tag}-{path}-{level}-r{r}",
                                                level, serial, turns)
                    after = cpu_times(stack)
                    samples = results[(path, level)]
                    samples.latencies += latencies
                    samples.wall_s += wall
                    for name in after.keys() & before.keys():
                        samples.cpu_s[name] = samples.cpu_s.get(name, 0.0) + after[name] - before[name]
                    samples.runs_tps.append(len(latencies) / wall)
                    busy = {k: after[k] - before[k] for k in after.keys() & before.keys()}
                    if MACHINE in busy:
                        other = max(0.0, busy.pop(MACHINE) - sum(busy.values())) / wall
                        samples.runs_other_cpus.append(other)
                    say(f"round {r + 1}/{rounds} {path:>7} @ {level:>2}: {len(latencies)} turns, "
                        f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                        f"{len(latencies) / wall:.1f} turns/s, other processes used "
                        f"{samples.runs_other_cpus[-1] if samples.runs_other_cpus else 0:.2f} CPUs")
        return results, dict(paths.outcomes)
    finally:
        await paths.close()


def gateway_rasa_time(log: Path, tag: str, level: int) -> list[float]:
    """Seconds the gateway spent waiting on Rasa per measured turn, from its turn log."""
    prefix = f"{tag}-gateway-{level}-r"
    found: list[float] = []
    for line in log.read_text("utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            record: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        if record.get("msg") == "turn" and str(record.get("sender_id", "")).startswith(prefix):
            found.append(float(record["latency_ms"]) / 1000)
    return found


def say(msg: str) -> None:
    print(f"[bench_turn] {msg}", file=sys.stderr, flush=True)


def row(name: str, seconds: list[float], tps: float | None = None) -> str:
    """latency_row with a turns/second column."""
    return latency_row(name, seconds) + (f" {tps:.1f} |" if tps is not None else " – |")


def plural(level: int) -> str:
    return f"{level} conversation{'s' if level > 1 else ''}"


def latency_lines(results: dict[tuple[str, int], Samples], n: int, log: Path, tag: str) -> list[str]:
    """The latency and throughput table: both paths, then the gateway's own time in Rasa."""
    rows = [row(f"{LABELS[path]}, {plural(level)}", results[(path, level)].latencies,
                results[(path, level)].tps)
            for level in (1, n) for path in PATHS]
    for level in (1, n):
        inside = gateway_rasa_time(log, tag, level)
        if inside:
            rows.append(row(f"… of that, the gateway waiting on Rasa (its turn log), {plural(level)}",
                            inside))
    table = latency_table("path", rows)
    return [table[0] + " turns/s |", table[1] + " ---: |", *table[2:]]


def verdict_lines(results: dict[tuple[str, int], Samples], n: int) -> list[str]:
    """The two targets: latency added at 1 conversation, throughput kept at n."""
    delta_ms = (percentile(results[("gateway", 1)].latencies, 0.5)
                - percentile(results[("rasa", 1)].latencies, 0.5)) * 1000
    ratio = results[("gateway", n)].tps / results[("rasa", n)].tps

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    others = [x for samples in results.values() for x in samples.runs_other_cpus]
    quiet = ([f"- anything else on the machine kept {sum(others) / len(others):.2f} CPUs busy on average "
              f"during the runs (at most {max(others):.2f} in one run); only a quiet machine gives "
              "comparable numbers"] if others else [])
    return [*quiet,
            f"- gateway p50 − Rasa p50 at 1 conversation: **{delta_ms:.1f} ms** "
            f"(target ≤ {TARGET_P50_DELTA_MS:.0f} ms: {verdict(delta_ms <= TARGET_P50_DELTA_MS)})",
            f"- gateway / Rasa throughput at {n} conversations: **{ratio:.2f}** "
            f"(target ≥ {TARGET_THROUGHPUT_RATIO:.2f}: {verdict(ratio >= TARGET_THROUGHPUT_RATIO)})"]


def cpu_lines(results: dict[tuple[str, int], Samples], n: int) -> list[str]:
    """CPU milliseconds per turn of each process, for each path and concurrency."""
    names = [*PROCESSES, "bench client"]
    lines = [f"| path | {' | '.join(names)} | total | anything else on the machine |",
             "| --- |" + " ---: |" * (len(names) + 2)]
    for level in (1, n):
        for path in PATHS:
            samples = results[(path, level)]
            cells = [samples.cpu_ms_per_turn(name) for name in names]
            # /proc/stat and the per-process times are sampled apart: a small negative is noise.
            other = max(0.0, samples.cpu_ms_per_turn(MACHINE) - sum(cells))
            lines.append(f"| {LABELS[path]}, {plural(level)} | "
                         + " | ".join(f"{c:.1f}" for c in cells) + f" | {sum(cells):.1f} | {other:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=6, help="turns per conversation")
    parser.add_argument("--conversations", type=int, default=50, help="concurrent conversations")
    parser.add_argument("--serial", type=int, default=12,
                        help="conversations one after another at concurrency 1")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds, samples pooled")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.conversations < 2:
        parser.error("--conversations must be at least 2 (1 is always measured)")
    model = trained_model()
    stack = Stack(Ports.free(), Path(tempfile.mkdtemp(prefix="bench-turn-")), log_to_files=True,
                  extra_env={"XS_RATE_LIMITS": "off"})
    tag = f"bt-{uuid.uuid4().hex[:8]}"
    try:
        stack.start(model)
        results, outcomes = asyncio.run(
            bench(stack, tag, args.turns, args.conversations, args.serial, args.rounds))
    finally:
        stack.stop()
    say(f"gateway outcomes: {outcomes}")
    for (path, level), samples in results.items():
        say(f"{path} @ {level}: turns/s per run {[round(x, 1) for x in samples.runs_tps]}")

    n = args.conversations
    section = "\n".join([
        "## Gateway vs Rasa",
        "",
        f"`benchmarks/bench_turn.py`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; real stack, one gateway process, one Rasa process, "
        "the benchmark client on the same machine. The same conversations "
        f"({len(QUESTIONS)} guide questions and smalltalk, {args.turns} turns each, a closed loop "
        "without think time, fresh sender ids) sent through the gateway's `POST /api/chat` and "
        f"straight to Rasa's REST channel; at 1 conversation {args.serial} conversations one after "
        f"another, at {n} all at once; {args.rounds} interleaved rounds (which path goes first "
        "swapped each round), samples pooled, after a warm-up. *waiting on Rasa* is the gateway's own "
        "turn log (`latency_ms`: its one REST call); the rest of a gateway turn is Redis (turn lock, "
        "transcript, handoff state), HTTP and pydantic.",
        "",
        *latency_lines(results, n, stack.run_dir / "gateway.log", tag),
        "",
        *verdict_lines(results, n),
        "",
        "CPU time per turn (ms; user + system from /proc, over the same runs):",
        "",
        *cpu_lines(results, n),
        "",
    ])
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
