"""Tune the FallbackClassifier threshold on held-out NLU data (run in the Rasa environment).

Splits the NLU examples (bot/data/nlu + the generated var/nlu) 80/20 per intent, trains an NLU
model on the 80 %, parses the 20 % and, for each candidate threshold, counts wrong intents that
would be accepted and right ones that would fall back. A wrong accepted intent costs more than a
fallback (fallback turns still reach the knowledge base, which answers clear guide questions), so
the score is wrong + 0.3 × needless fallbacks. Usage: .venvs/rasa/bin/python -m tools.tune_fallback
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = [round(0.2 + 0.05 * i, 2) for i in range(13)]
FALLBACK_COST = 0.3


def examples() -> dict[str, list[str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for path in [*(ROOT / "bot/data/nlu").glob("*.yml"), *(ROOT / "var/nlu").glob("*.yml")]:
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip().removeprefix("- ").strip()
                if text:
                    by_intent[block["intent"]].append(text)
    return by_intent


Split = tuple[dict[str, list[str]], list[tuple[str, str]]]


def split(by_intent: dict[str, list[str]], seed: int = 7) -> Split:
    rng = random.Random(seed)
    train: dict[str, list[str]] = {}
    test: list[tuple[str, str]] = []
    for intent, texts in by_intent.items():
        texts = sorted(set(texts))
        rng.shuffle(texts)
        cut = max(1, len(texts) // 5)
        test += [(t, intent) for t in texts[:cut]]
        train[intent] = texts[cut:]
    return train, test


async def parse_all(model: Path, texts: list[str]) -> list[tuple[str, float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    out: list[tuple[str, float]] = []
    for text in texts:
        result = await agent.parse_message(text)
        ranking = [r for r in result.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
        if ranking:
            out.append((str(ranking[0]["name"]), float(ranking[0]["confidence"])))
        else:
            out.append(("nlu_fallback", 0.0))
    return out


def main() -> None:
    train, test = split(examples())
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "nlu.yml"
        doc = {"version": "3.1", "nlu": [{"intent": i, "examples": "".join(f"- {t}\n" for t in ts)}
                                         for i, ts in train.items()]}
        data.write_text(yaml.safe_dump(doc, allow_unicode=True, width=1000), encoding="utf-8")
        print(f"[tune] training NLU on {sum(map(len, train.values()))} examples, "
              f"testing on {len(test)}", file=sys.stderr)
        subprocess.run([str(ROOT / ".venvs/rasa/bin/rasa"), "train", "nlu", "--config", "config.yml",
                        "--nlu", str(data), "--out", tmp, "--fixed-model-name", "tune"],
                       cwd=ROOT, check=True)
        parsed = asyncio.run(parse_all(Path(tmp) / "tune.tar.gz", [t for t, _ in test]))
    print("| threshold | wrong accepted | needless fallback | cost |")
    print("| --- | --- | --- | --- |")
    pairs = [(gold, name, conf) for (_, gold), (name, conf) in zip(test, parsed, strict=True)]
    best: tuple[float, float] | None = None
    for threshold in THRESHOLDS:
        wrong = sum(1 for gold, name, conf in pairs if conf >= threshold and name != gold)
        needless = sum(1 for gold, name, conf in pairs if conf < threshold and name == gold)
        cost = wrong + FALLBACK_COST * needless
        print(f"| {threshold:.2f} | {wrong} | {needless} | {cost:.1f} |")
        if best is None or cost < best[1]:
            best = (threshold, cost)
    accuracy = sum(1 for gold, name, _ in pairs if name == gold) / len(pairs)
    chosen = best[0] if best else float("nan")
    print(f"\nheld-out intent accuracy (no fallback): {accuracy:.3f}; best threshold: {chosen:.2f}")


if __name__ == "__main__":
    main()
