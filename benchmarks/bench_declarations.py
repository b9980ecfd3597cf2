"""Smart declarations: share of application fields pre-filled, questions asked, turn latency.

For each shipped declaration, a fictional person of the citizen-data stand-in (PERSONAS.md) fills
it in twice through the declaration service (the action server's logic, with a real SQLite
store): once consenting to pre-fill, once not. Answers the person must give come from the
declaration's first situation in tests/declarations/cases. Reports the pre-filled share of the
application's fields, the questions asked, and p50/p95 of one declaration turn (check, pre-fill,
save). Replaces the "## Smart declarations" section of docs/benchmarks.md with --write.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.declaration_service import DeclarationService
from benchmarks.report import percentile, publish, trained_model
from declarations.catalog import load_catalog
from declarations.interview import CONFIRM, CONSENT, Progress
from declarations.prefill import LocalCitizenData
from declarations.schema import Declaration
from records.db import Database
from records.declarations import SqlDeclarationStore
from tools.chat_client import with_tokens
from tools.stack import Ports, Stack

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "declarations" / "cases"
# Who fills in each declaration (name, 身份证号): fictional people of citizens.yaml.
PERSONAS = {
    "elder-allowance": ("王建国", "310101195205121074"),
    "birth-one-thing": ("张伟", "31011519920816149X"),
    "hpf-withdraw-rent": ("杨帆", "310113199704062199"),
    "residence-permit": ("钱宇", "410105199603282698"),
    "ent-setup": ("蒋涛", "310112198609093316"),
    "ent-individual": ("曹丽娟", "310110197706213183"),
}
# What a person types for a question the case table does not answer, by answer type.
FALLBACK = {"name": "张三丰", "id_number": "110105198001010016", "phone": "13900009999", "date": "2026-11-20",
            "district": "浦东新区", "address": "上海市浦东新区世纪大道100号1201室", "amount": "1000",
            "integer": "12", "uscc": "91310115MA1FL0A072", "text": "日常经营", "yes_no": "否"}


def _typed(decl: Declaration, field: str, answers: dict[str, str], persona: tuple[str, str],
           consent: bool) -> str:
    if field == CONSENT:
        return "同意授权" if consent else "不同意"
    if field == CONFIRM:
        return "确认提交"
    q = decl.question(field)
    assert q is not None
    if q.identifies == "applicant":
        return persona[0] if q.type == "name" else persona[1]
    stored = answers.get(field)
    if q.type == "choice":
        return next((o.label for o in q.options if o.value == stored), q.options[0].label)
    if q.type == "yes_no" and stored:
        return {"yes": "是", "no": "否"}[stored]
    return stored or FALLBACK[q.type]


def run_one(svc: DeclarationService, decl: Declaration, consent: bool,
            timings: list[float]) -> tuple[float, int, str]:
    table = yaml.safe_load((CASES / f"{decl.id}.yaml").read_text(encoding="utf-8"))
    situation = next(s for s in table["situations"] if not s.get("stop"))
    table_answers = {k: str(v) for k, v in situation["answers"].items()}
    persona = PERSONAS[decl.id]
    answers: dict[str, Any] = {}
    progress = Progress(id=decl.id)
    step = svc.begin(decl, answers, progress)
    asked = 0
    while step.asking is not None:
        field = step.asking
        said = _typed(decl, field, table_answers, persona, consent)
        started = time.perf_counter()
        step = svc.turn(decl, answers, progress, field, said, answers_guide=False)
        answers.update(step.changes)
        progress.draft_id = svc.save(step, answers, f"bench-{decl.id}-{consent}", progress.draft_id)
        timings.append(time.perf_counter() - started)
        asked += 1
        if asked > 60:
            raise RuntimeError(f"{decl.id}: the interview does not end (stuck at {field})")
    if progress.status != "submitting":
        return 0.0, asked, f"ended {progress.status}: {progress.reason}"
    record = svc.submit(decl, answers, progress, progress.draft_id, f"bench-{decl.id}-{consent}")
    return record.prefill_share, asked - 1, ""  # the confirmation is not a question


def through_stack(catalog_ids: list[str], rounds: int) -> list[float]:
    """Seconds per declaration turn over POST /api/chat on a started stack (the whole path: gateway,
    Rasa's form, the action server, the database), each declaration filled in `rounds` times."""
    import httpx

    model = trained_model()
    stack = Stack(Ports.free(), Path(tempfile.mkdtemp(prefix="bench-decl-")), log_to_files=True,
                  extra_env={"XS_RATE_LIMITS": "off"})
    catalog = load_catalog()
    seconds: list[float] = []
    try:
        stack.start(model)
        with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as client:
            for round_ in range(rounds):
                for decl_id in catalog_ids:
                    decl = catalog.get(decl_id)
                    assert decl is not None
                    table = yaml.safe_load((CASES / f"{decl_id}.yaml").read_text(encoding="utf-8"))
                    answers = {k: str(v) for k, v in
                               next(x for x in table["situations"] if not x.get("stop"))["answers"].items()}
                    sender = f"bench-{uuid.uuid4().hex[:8]}"
                    said = f"帮我申报{decl.title}"
                    for _ in range(60):
                        started = time.perf_counter()
                        reply = client.post("/api/chat", json={"sender_id": sender, "message": said}).json()
                        if round_:  # the first round warms every path up
                            seconds.append(time.perf_counter() - started)
                        block = reply["turn"].get("declaration") or {}
                        if block.get("status") not in ("asking", "confirming"):
                            break
                        field = block.get("field") or CONFIRM
                        said = _typed(decl, field, answers, PERSONAS[decl_id], True)
    finally:
        stack.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--stack", type=int, default=0, metavar="ROUNDS",
                        help="also time declaration turns through a started stack, ROUNDS times each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        svc = DeclarationService(load_catalog(), SqlDeclarationStore(db), LocalCitizenData())
        rows: list[str] = []
        timings: list[float] = []
        shares: list[float] = []
        for decl in sorted(svc.catalog.declarations.values(), key=lambda d: d.id):
            with_share, with_asked, note1 = run_one(svc, decl, True, timings)
            without_share, without_asked, note2 = run_one(svc, decl, False, timings)
            shares.append(with_share)
            note = "; ".join(n for n in (note1, note2) if n)
            rows.append(f"| {decl.title} (`{decl.id}`) | {PERSONAS[decl.id][0]} | {with_share:.0%} | "
                        f"{without_share:.0%} | {with_asked} | {without_asked} | {note} |")
        db.dispose()
    mean = sum(shares) / len(shares)
    section = "\n".join([
        "## Smart declarations",
        "",
        f"`python benchmarks/bench_declarations.py --write` on {platform.machine()}, "
        f"{platform.python_version()}: each declaration filled in by a fictional person of the citizen-data "
        "stand-in, with and without consent to pre-fill; other answers from the declaration's first "
        "situation in tests/declarations/cases. Target: ≥ 80% of application fields pre-filled with consent. "
        "Counted: the form's data fields; pre-filled means read from a record or derived "
        "(性别 from the 身份证号, 区 from an address, a field copied from an answer already "
        "given such as 股东 = 法定代表人). Services the applicant opts into "
        "(同步刻章, 社保卡申领) are their own choice, listed but not counted.",
        "",
        "| declaration | person | pre-filled (consent) | pre-filled (no consent) | questions (consent) "
        "| questions (no consent) | note |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        *rows,
        "",
        f"Mean pre-filled share with consent: {mean:.0%}. Without consent nothing is read; what is still "
        "counted there is derived from the user's own answers (性别、出生日期 from the 身份证号, 区 from the "
        "address).",
        "",
        f"One declaration turn in the action server (answer check, pre-fill lookup, saving the draft to "
        f"SQLite), {len(timings)} turns: p50 {percentile(timings, 0.5) * 1000:.1f} ms, "
        f"p95 {percentile(timings, 0.95) * 1000:.1f} ms.",
    ])
    if args.stack:
        ids = sorted(PERSONAS)
        stack_s = through_stack(ids, args.stack + 1)
        section += (f"\n\nThrough the whole stack (`--stack {args.stack}`: POST /api/chat → Rasa's form → "
                    "the action server → the database, one conversation at a time, after a warm-up round), "
                    f"{len(stack_s)} declaration turns: p50 {percentile(stack_s, 0.5) * 1000:.0f} ms, "
                    f"p95 {percentile(stack_s, 0.95) * 1000:.0f} ms.")
    section += "\n"
    publish(section, args.write)


if __name__ == "__main__":
    main()
