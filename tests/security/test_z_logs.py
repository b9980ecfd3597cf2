"""Last of the suite on purpose (pytest runs files in name order, and tests/security is the last
directory with stack tests): every log line the stack's processes wrote during the whole test run
— gateway, action server, Rasa, Redis — holds no personal number or address in clear."""

from __future__ import annotations

from pathlib import Path

from contract.pii import mask_pii
from tools.stack import Stack


def test_no_log_of_the_whole_run_shows_personal_data_in_clear(stack: Stack) -> None:
    logs = sorted(Path(stack.run_dir).glob("*.log"))
    assert {p.stem for p in logs} >= {"gateway", "actions", "rasa"}
    lines = [line for p in logs for line in p.read_text(encoding="utf-8", errors="replace").splitlines()]
    assert any("xiaoshen.turn" in line for line in lines), "the run was logged"
    unmasked = [line[:200] for line in lines if mask_pii(line) != line]
    assert unmasked == []
