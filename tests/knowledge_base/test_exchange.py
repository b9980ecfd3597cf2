"""Guides to and from JSON, YAML and .xlsx: round trips, and every bad row and field named."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from knowledge_base import exchange
from knowledge_base.schema import Guide
from knowledge_base.store import load_guides

GUIDES = sorted(load_guides().guides, key=lambda g: g.id)[:5]


@pytest.mark.parametrize("fmt", ["json", "yaml", "xlsx"])
def test_every_format_round_trips_exactly(fmt: exchange.Format) -> None:
    back, errors = exchange.load(exchange.dump(GUIDES, fmt), fmt)
    assert errors == [] and back == GUIDES


def _sheet_with(edit: dict[tuple[int, str], object]) -> bytes:
    wb = load_workbook(io.BytesIO(exchange.dump(GUIDES, "xlsx")))
    ws = wb[exchange.SHEET]
    header = [str(c.value).split("（")[0] for c in ws[1]]
    for (row, key), value in edit.items():
        ws.cell(row=row, column=header.index(key) + 1, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_spreadsheet_with_bad_rows_names_each_row_and_field_and_imports_nothing() -> None:
    body = _sheet_with({(3, "sections.fee"): "", (5, "reviewed"): "下周"})
    guides, errors = exchange.load(body, "xlsx")
    assert guides == []
    assert {e.field for e in errors} == {"第 3 行.sections.fee", "第 5 行.reviewed"}


def test_formulas_are_refused_on_import_and_never_written_on_export() -> None:
    guides, errors = exchange.load(_sheet_with({(2, "title"): "=HYPERLINK(\"http://x\")"}), "xlsx")
    assert guides == [] and [e.field for e in errors] == ["第 2 行.title"]
    data = GUIDES[0].model_dump(mode="json")
    data["sections"]["fee"] = "=免费"
    ws = load_workbook(io.BytesIO(exchange.dump([Guide.model_validate(data)], "xlsx")))[exchange.SHEET]
    fee = next(c for c in ws[2] if c.value == "=免费")
    assert fee.data_type == "s"  # text: a spreadsheet shows it, never runs it


@pytest.mark.parametrize(("body", "fmt", "field"), [
    (b"- id: [unclosed", "yaml", "(file)"), (b"not a zip", "xlsx", "(file)"), (b"{", "json", "(file)"),
])
def test_a_broken_file_is_one_clear_error(body: bytes, fmt: exchange.Format, field: str) -> None:
    guides, errors = exchange.load(body, fmt)
    assert guides == [] and [e.field for e in errors] == [field]
    assert "/" in errors[0].message  # Chinese / English


def test_an_unknown_or_missing_column_is_reported() -> None:
    wb = load_workbook(io.BytesIO(exchange.dump(GUIDES, "xlsx")))
    ws = wb[exchange.SHEET]
    ws.cell(row=1, column=2, value="名称随便写")
    out = io.BytesIO()
    wb.save(out)
    _, errors = exchange.load(out.getvalue(), "xlsx")
    assert {e.field for e in errors} == {"第 1 行.名称随便写", "第 1 行.title"}
