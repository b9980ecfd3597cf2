"""Replicas benchmark: saturation throughput with one replica of each service against two.

    PYTHONPATH=. python benchmarks/bench_replicas.py [--seconds 20] [--no-write]

Starts the real stack twice on free ports (a trained model must exist): once with one gateway, one
Rasa server and one action server, once with two of each behind haproxy (`Stack(replicas=2)`, as
`make replicas` runs it), each sharing one Redis and one database of record. In each, the closed loop
of benchmarks/bench_load.py (the same conversations, workers sending turns back to back through the
public gateway port) runs at 2, 4, 8 and 16 workers, `--seconds` each; the best throughput is the
layout's saturation. Reports both, their ratio, and each process's CPU, and replaces the
"## Replicas" section of docs/benchmarks.md. On a machine whose cores one replica already keeps
busy, a second replica can only share them: the ratio says what a second copy costs or gains here.
"""

from __future__ import annotations

import argparse
import asyncio
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

from benchmarks.bench_load import HttpCitizen, closed_loop, row, scripts  # noqa: E402
from benchmarks.report import publish, trained_model  # noqa: E402
from tools.stack import Ports, Stack  # noqa: E402

WORKERS = (2, 4, 8, 16)


async def saturate(stack: Stack, seconds: float, label: str) -> tuple[float, list[str]]:
    """The best closed-loop throughput through the stack's public port, and a table row per run."""
    pool = scripts()
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:  # warm every replica up
        for _ in range(4 * stack.replicas):
            await HttpCitizen(client).say("你好")
    best, rows = 0.0, []
    for workers in WORKERS:
        tally, summary = await closed_loop(stack, workers, seconds, pool, direct=False)
        rows.append(row(f"{label}, {workers} workers", tally, seconds, summary))
        print(rows[-1], flush=True)
        best = max(best, tally.turns / seconds)
    return best, rows


def run_layout(model: Path, replicas: int, seconds: float) -> tuple[float, list[str]]:
    stack = Stack(Ports.free(), Path(tempfile.mkdtemp(prefix=f"bench-replicas-{replicas}-")),
                  log_to_files=True, extra_env={"XS_RATE_LIMITS": "off"}, replicas=replicas)
    label = "one of each" if replicas == 1 else f"{replicas} of each behind haproxy"
    try:
        stack.start(model)
        return asyncio.run(saturate(stack, seconds, label))
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    model = trained_model()
    one, one_rows = run_layout(model, 1, args.seconds)
    two, two_rows = run_layout(model, 2, args.seconds)
    ratio = two / one if one else float("nan")
    section = "\n".join([
        "## Replicas",
        "",
        f"`benchmarks/bench_replicas.py`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; the closed loop of the load benchmark (the same conversations, "
        f"workers sending turns back to back through the public port, {args.seconds:.0f} s a run) "
        "against one gateway, Rasa server and action server, then against two of each behind haproxy; "
        "one Redis and one SQLite database of record either way; the load generator on the same "
        "machine. CPU is % of one core, averaged.",
        "",
        "| layout, workers | turns | turns/s | p50 (ms) | p95 (ms) | p99 (ms) | errors | CPU and memory |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *one_rows,
        *two_rows,
        "",
        f"Saturation: one of each {one:.1f} turns/s, two of each {two:.1f} turns/s: **×{ratio:.2f}**.",
    ])
    publish(section, not args.no_write)


if __name__ == "__main__":
    main()
