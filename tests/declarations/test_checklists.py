"""Per declaration, a table of situations: the checklist differs exactly as the guide's 情形 say.

The tables are tests/declarations/cases/<id>.yaml (answers as stored, no consent).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from declarations import interview as iv
from declarations.answers import Valid, check_answer
from declarations.catalog import load_catalog

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
CATALOG = load_catalog()


def _situations() -> list[Any]:
    params = []
    for path in CASES:
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
        for sit in table["situations"]:
            name = f"{table['declaration']}: {sit['name']}"
            params.append(pytest.param(table["declaration"], sit, id=name))
    return params


def test_every_shipped_declaration_has_a_table_of_at_least_two_situations() -> None:
    tabled = {yaml.safe_load(p.read_text(encoding="utf-8"))["declaration"]: p for p in CASES}
    for decl_id in CATALOG.declarations:
        assert decl_id in tabled, f"no case table for {decl_id}"
        table = yaml.safe_load(tabled[decl_id].read_text(encoding="utf-8"))
        assert len([s for s in table["situations"] if not s.get("stop")]) >= 2


@pytest.mark.parametrize(("decl_id", "situation"), _situations())
def test_checklist_of_a_situation(decl_id: str, situation: dict[str, Any]) -> None:
    decl = CATALOG.get(decl_id)
    assert decl is not None
    answers = {k: str(v) for k, v in situation["answers"].items()}
    for field, value in answers.items():  # every answer of the table is one the interview accepts
        q = decl.question(field)
        assert q is not None, f"{field} is not a question of {decl_id}"
        if q.type not in ("choice", "yes_no"):
            assert isinstance(check_answer(q, value), Valid), (field, value)
        else:
            assert value in ({o.value for o in q.options} or {"yes", "no"}), (field, value)
    if situation.get("stop"):
        assert iv.stop_reason(decl, answers) is not None
        return
    assert iv.stop_reason(decl, answers) is None
    assert iv.next_question(decl, {**answers, iv.CONSENT: "no"}) is None, "the table leaves a question open"
    names = {m["name"] for m in iv.checklist(decl, answers, iv.Progress(id=decl_id))}
    missing = set(situation.get("materials_include", [])) - names
    extra = set(situation.get("materials_exclude", [])) & names
    assert not missing, f"missing from the checklist: {missing}"
    assert not extra, f"should not be on the checklist: {extra}"
