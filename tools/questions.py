"""Question files and the per-section accuracy table the evaluation scripts print.

A question file has one JSON object per line: {"q": str, "service": id, "section": str}.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path


def read_questions(path: Path) -> list[dict[str, str]]:
    """Every non-blank line of a question file, parsed."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


class SectionTally:
    """Per expected section: the questions, those answered with the right service, and those with the
    right section too."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, section: str, ok_service: bool, ok_section: bool) -> None:
        """Count one question whose expected section is `section`."""
        stats = self.counts[section]
        stats["n"] += 1
        stats["service"] += ok_service
        stats["section"] += ok_section

    def shares(self) -> dict[str, dict[str, float]]:
        """Section → {"n": questions, "service": share right, "section": share right}, sorted by section."""
        return {s: {"n": c["n"], "service": c["service"] / c["n"], "section": c["section"] / c["n"]}
                for s, c in sorted(self.counts.items())}


def print_section_table(shares: dict[str, dict[str, float]], service_label: str = "service") -> None:
    """The Markdown table of SectionTally.shares(); `service_label` heads the service column."""
    print(f"| section | n | {service_label} | section |")
    print("| --- | --- | --- | --- |")
    for name, s in shares.items():
        print(f"| {name} | {int(s['n'])} | {s['service']:.3f} | {s['section']:.3f} |")
