"""`rasa data validate` over the domain and the training data `rasa train` gets (tools/stack.py)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.bot.rasa_cli import TRAINING_DATA, run_rasa
from tools.stack import ROOT

_WARNING = re.compile(r"UserWarning: (.*)")
_ERROR = re.compile(r"\b(ERROR|CRITICAL)\b|completed with errors")
_UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule\.")


def _sent_by_actions() -> set[str]:
    """Responses the actions send by name (utter_message(response=...)), which Rasa cannot see."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "actions").glob("*.py"))
    return set(re.findall(r"\butter_\w+", source))


def _problems(*extra_data: str) -> list[str]:
    """Errors and warnings of `rasa data validate`, less "unused" responses the actions send."""
    code, output = run_rasa(["data", "validate", "--domain", "var/domain",
                             "--data", *TRAINING_DATA, *extra_data, "--config", "config.yml"], 180)
    problems = [line for line in output.splitlines() if _ERROR.search(line)]
    if code != 0:
        problems.append(f"exit code {code}")
    sent = _sent_by_actions()
    for warning in (m.group(1).strip() for m in _WARNING.finditer(output)):
        unused = _UNUSED.fullmatch(warning)
        if not (unused and unused.group(1) in sent):
            problems.append(warning)
    return problems


def test_domain_and_training_data_are_valid() -> None:
    # Not --fail-on-warnings: Rasa warns that utter_greet etc. are unused, but action_smalltalk
    # and action_handoff send them by name; any other warning fails here.
    assert _problems() == []


def test_validation_reports_a_broken_rule(tmp_path: Path) -> None:
    """The check is not vacuous: a rule with an action missing from the domain fails it."""
    rules = tmp_path / "broken.yml"
    rules.write_text('version: "3.1"\nrules:\n  - rule: broken\n    steps:\n      - intent: greet\n'
                     "      - action: action_that_does_not_exist\n", encoding="utf-8")
    problems = _problems(str(rules))
    assert "exit code 1" in problems
    assert any("'action_that_does_not_exist'" in p for p in problems)
