"""Search benchmark: index build time and query latency of each backend, at two corpus sizes.

    PYTHONPATH=. python benchmarks/bench_search.py [--synthetic 10000] [--queries 200]
        [--decide-guides 1000 10000] [--es-url URL [--plain-json]] [--no-write]

Corpora: the real guides, and N synthetic guides made from them (sections, aliases and questions
shuffled between guides of the same theme, with random suffixes so no two are the same). The
Elasticsearch backend runs against a fresh in-memory osmem-server unless --es-url is given.
Prints a Markdown table and replaces the "## Search" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from actions.guide_service import Context, GuideService  # noqa: E402
from benchmarks.report import DOC, percentile, write_section  # noqa: E402
from knowledge_base.constants import SECTIONS  # noqa: E402
from knowledge_base.engine import KnowledgeBase  # noqa: E402
from knowledge_base.normalize import Segmenter  # noqa: E402
from knowledge_base.schema import Guide  # noqa: E402
from knowledge_base.search.base import SearchBackend  # noqa: E402
from knowledge_base.search.elastic import ElasticBackend  # noqa: E402
from knowledge_base.search.embedded import EmbeddedBackend  # noqa: E402
from knowledge_base.store import load_guides  # noqa: E402
from tools.osmem import start_osmem  # noqa: E402
from tools.questions import read_questions  # noqa: E402

QUESTIONS = ROOT / "tests" / "data" / "heldout_questions.jsonl"
NEAR_MISSES = ROOT / "tests" / "data" / "tune" / "near_miss_4.jsonl"  # questions the scope checks catch
FILLER = "申请办理材料窗口审核受理证明登记信息网上预约现场核验工作日内完成"


@dataclass
class Row:
    backend: str
    guides: int
    build_s: float
    p50_ms: float
    p95_ms: float


def synthetic_guides(real: Sequence[Guide], n: int, seed: int = 7) -> list[Guide]:
    """n distinct guides built by recombining the real ones."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        base = real[i % len(real)]
        donor = rng.choice(real)
        suffix = "".join(rng.choice(FILLER) for _ in range(3))
        sections = {
            name: _shuffle_lines(rng, (base if rng.random() < 0.7 else donor).section(name))
            for name in SECTIONS
        }
        out.append(
            base.model_copy(
                update={
                    "id": f"{base.id[:40]}-syn{i}",
                    "title": f"{base.title}{suffix}",
                    "aliases": rng.sample(base.aliases, k=max(1, len(base.aliases) // 2)),
                    "sample_questions": rng.sample(
                        base.sample_questions, k=max(1, len(base.sample_questions) // 2)
                    ),
                    "sections": base.sections.model_copy(update=sections),
                }
            )
        )
    return out


def _shuffle_lines(rng: random.Random, text: str) -> str:
    parts = [p for p in re.split(r"(?<=[。\n；])", text) if p.strip()]
    rng.shuffle(parts)
    return "".join(parts)


def measure(
    name: str,
    backend: SearchBackend,
    guides: Sequence[Guide],
    queries: list[str],
    progress: Callable[[str], None],
) -> Row:
    progress(f"{name}: indexing {len(guides)} guides ...")
    backend.segmenter.clear()
    started = time.perf_counter()
    backend.index(guides)
    build = time.perf_counter() - started
    for query in ("warm up", "预热"):
        backend.search(query)
    backend.segmenter.clear()  # latency includes tokenising each question
    latencies = []
    for query in queries:
        started = time.perf_counter()
        backend.search(query, k=10)
        latencies.append((time.perf_counter() - started) * 1000)
    progress(f"{name}: built in {build:.1f} s, p50 {statistics.median(latencies):.1f} ms")
    return Row(name, len(guides), build, percentile(latencies, 0.5), percentile(latencies, 0.95))


def measure_rank(guides: Sequence[Guide], queries: list[str]) -> Row:
    """KnowledgeBase.rank() (search + re-ranker + calibration) on the embedded backend."""
    kb = KnowledgeBase()
    started = time.perf_counter()
    kb.replace_all(guides)
    build = time.perf_counter() - started
    kb.segmenter.clear()
    latencies = []
    for query in queries:
        started = time.perf_counter()
        kb.rank(query)
        latencies.append((time.perf_counter() - started) * 1000)
    return Row(
        "KnowledgeBase.rank (embedded, incl. re-ranker)",
        len(guides),
        build,
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
    )


def measure_decide(guides: Sequence[Guide], queries: list[str]) -> Row:
    """GuideService.decide(): the knowledge-base part of a turn (ranking, the scope checks for other
    places, neighbours and disputes, the section reading and the decision), on questions in and out
    of the catalog."""
    kb = KnowledgeBase()
    started = time.perf_counter()
    kb.replace_all(guides)
    service = GuideService(kb)  # trains the section classifier, as the action server does at load
    build = time.perf_counter() - started
    kb.segmenter.clear()
    return _timed_decide("GuideService.decide (a turn's whole answering)", service, len(guides), build,
                         queries)


def _timed_decide(name: str, service: GuideService, guides: int, build: float, queries: list[str]) -> Row:
    latencies = []
    for query in queries:
        started = time.perf_counter()
        service.decide(query, Context())
        latencies.append((time.perf_counter() - started) * 1000)
    return Row(name, guides, build, percentile(latencies, 0.5), percentile(latencies, 0.95))


def measure_decide_synthetic(real: Sequence[Guide], n: int, queries: list[str],
                             progress: Callable[[str], None]) -> Row:
    """GuideService.decide() over n synthetic guides. The re-ranker's classifier is trained on all
    of them; the calibrator is the one fitted (k-fold) on the real guides, whose features (ratios,
    margins, coverage shares) do not grow with the catalog: a k-fold fit over thousands of guides
    would take hours and measure nothing a turn does."""
    real_kb = KnowledgeBase()
    real_kb.replace_all(real)
    fitted = (real_kb._ranker.calibrator, real_kb.calibration)
    synthetic = synthetic_guides(real, n)
    kb = KnowledgeBase()
    progress(f"GuideService.decide: training the classifier on {n:,} guides ...")
    started = time.perf_counter()
    with mock.patch("knowledge_base.engine.fit_calibrator_cached", lambda guides, backend: fitted):
        kb.replace_all(synthetic)
    service = GuideService(kb)
    build = time.perf_counter() - started
    service.decide("预热", Context())
    return _timed_decide("GuideService.decide (calibrator from the real guides)", service, n, build, queries)


def markdown(rows: list[Row], note: str) -> str:
    lines = [
        "## Search",
        "",
        note,
        "",
        "| backend | guides | index build (s) | search p50 (ms) | search p95 (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r.backend} | {r.guides:,} | {r.build_s:.2f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} |" for r in rows
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the search backends.")
    parser.add_argument("--synthetic", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--decide-guides", type=int, nargs="*", default=[1_000, 10_000],
                        help="also time GuideService.decide over these many synthetic guides (none: skip)")
    parser.add_argument("--es-url", default=None, help="a real cluster instead of osmem-server")
    parser.add_argument("--plain-json", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    real = load_guides().guides
    # One segmenter keeping the real guides' names whole (as their knowledge base's would) for both
    # backends: they differ only in how they score.
    segmenter = Segmenter()
    segmenter.add_guides(real)
    questions = [row["q"] for row in read_questions(QUESTIONS)]
    queries = (questions * (args.queries // len(questions) + 1))[: args.queries]
    synthetic = synthetic_guides(real, args.synthetic)

    proc = None
    es_url, plain, es_name = args.es_url, args.plain_json, "elasticsearch"
    if es_url is None:
        proc, es_url = start_osmem()
        plain, es_name = True, "elasticsearch API (osmem-server)"
    rows: list[Row] = []
    try:
        for corpus in (real, synthetic):
            rows.append(measure("embedded", EmbeddedBackend(segmenter), corpus, queries, progress))
            es = ElasticBackend(es_url, alias="xs-bench", plain_json=plain, request_timeout=120,
                                segmenter=segmenter)
            try:
                rows.append(measure(es_name, es, corpus, queries, progress))
            finally:
                es._client.indices.delete(index="xs-bench-v*", allow_no_indices=True)
                es.close()
        progress("KnowledgeBase.rank on the real guides ...")
        rows.append(measure_rank(real, queries))
        progress("GuideService.decide on the real guides ...")
        near = [row["q"] for row in read_questions(NEAR_MISSES)]
        near = near * (len(queries) // len(near) + 1)
        mixed = [q for pair in zip(queries, near, strict=False) for q in pair]
        rows.append(measure_decide(real, mixed[: len(queries)]))
        for size in args.decide_guides:
            rows.append(measure_decide_synthetic(real, size, mixed[: len(queries)], progress))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)

    note = (
        f"`benchmarks/bench_search.py`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {len(queries)} questions from "
        "tests/data/heldout_questions.jsonl, k=10. Build time includes tokenisation; the "
        "synthetic corpus recombines the real guides. KnowledgeBase build includes training "
        "and k-fold calibration of the re-ranker. GuideService.decide alternates those questions "
        "with near misses (tests/data/tune/near_miss_4.jsonl) so the scope checks run on both; long "
        "messages are ranked twice (whole and by their question clauses). The last rows train the "
        "classifier on that many synthetic guides (logistic regression up to 1,000 guides, "
        "nearest-centroid beyond) and reuse the calibrator fitted on the real ones."
    )
    section = markdown(rows, note)
    print(section)
    if not args.no_write:
        write_section(section)
        progress(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
