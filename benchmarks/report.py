"""What the benchmarks share: percentiles, latency table rows, and their sections of docs/benchmarks.md."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tools.stack import model_path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"


def trained_model() -> Path:
    """The model the benchmark's stack serves; exits with a hint when it has not been trained."""
    model = model_path()
    if not model.exists():
        raise SystemExit("no trained model for the current data: run `make prepare` first")
    return model


def percentile(values: list[float], q: float) -> float:
    """The value at quantile q (0..1) of values: nearest rank, no interpolation."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_row(name: str, seconds: list[float]) -> str:
    """A Markdown table row: name, samples, p50, p95 and max in milliseconds of durations in seconds."""
    return (f"| {name} | {len(seconds)} | {percentile(seconds, 0.5) * 1000:.0f} | "
            f"{percentile(seconds, 0.95) * 1000:.0f} | {max(seconds) * 1000:.0f} |")


def write_section(section: str, doc: Path = DOC) -> None:
    """Replace (or append) the section of doc whose heading is section's first line ("## Name")."""
    heading = section.split("\n", 1)[0]
    text = doc.read_text("utf-8") if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text.rstrip("\n") + "\n", "utf-8")


def latency_table(first_column: str, rows: list[str]) -> list[str]:
    """The header lines of a latency table (as latency_row writes rows) followed by the rows."""
    return [f"| {first_column} | samples | p50 (ms) | p95 (ms) | max (ms) |",
            "| --- | ---: | ---: | ---: | ---: |", *rows]


def publish(section: str, write: bool, doc: Path = DOC) -> None:
    """Print a benchmark's section and, when asked, put it into docs/benchmarks.md."""
    print(section)
    if write:
        write_section(section, doc)
        print(f"updated {doc}", file=sys.stderr)
