"""Guides to and from JSON, YAML and a spreadsheet (.xlsx, openpyxl), for bulk export and import.

Every format carries the same guide objects (the contract's "Guides as JSON"). The spreadsheet has
one row per guide on the sheet 指南: the columns of COLUMNS, lists one item per line, situations as
JSON; a second sheet 说明 explains the columns. On import each row becomes a guide checked like any
other, and every bad field is reported with its row ("第 3 行.sections.fee"). Texts are written as
text, never as formulas (a cell starting with "=" stays a string); formulas are refused on import.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable
from typing import Any, Final, Literal

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from knowledge_base.constants import SECTIONS
from knowledge_base.schema import Guide
from knowledge_base.validation import FieldError, parse_guides

Format = Literal["json", "yaml", "xlsx"]
MEDIA_TYPES: Final[dict[str, str]] = {
    "json": "application/json",
    "yaml": "application/yaml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SHEET: Final = "指南"
# (column key, header shown) — the key is what import reads.
COLUMNS: Final[list[tuple[str, str]]] = [
    ("id", "id（编号）"), ("title", "title（名称）"), ("audience", "audience（citizen/enterprise）"),
    ("theme", "theme（主题）"),
    *((f"sections.{s}", f"sections.{s}") for s in SECTIONS),
    ("aliases", "aliases（别名，每行一个）"),
    ("sample_questions", "sample_questions（示例问题，每行一个）"),
    ("situations", "situations（情形，JSON）"), ("source", "source（来源）"),
    ("reviewed", "reviewed（审核日期）"),
]
_LISTS: Final = ("aliases", "sample_questions")


def format_of(content_type: str | None, name: str | None = None) -> Format | None:
    """The format a Content-Type (or a ?format= value) names, else None."""
    value = (name or content_type or "").split(";")[0].strip().lower()
    if value in ("json", "application/json"):
        return "json"
    if value in ("yaml", "yml", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"):
        return "yaml"
    if value in ("xlsx", MEDIA_TYPES["xlsx"]):
        return "xlsx"
    return None


def dump(guides: Iterable[Guide], fmt: Format) -> bytes:
    data = [g.model_dump(mode="json") for g in guides]
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2).encode()
    if fmt == "yaml":
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120).encode()
    return _xlsx(data)


def _xlsx(data: list[dict[str, Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    ws.append([header for _, header in COLUMNS])
    for guide in data:
        row = []
        for key, _ in COLUMNS:
            if key.startswith("sections."):
                value: Any = guide["sections"][key.split(".", 1)[1]]
            elif key in _LISTS:
                value = "\n".join(guide[key])
            elif key == "situations":
                value = json.dumps(guide["situations"], ensure_ascii=False) if guide["situations"] else ""
            else:
                value = guide[key]
            row.append(value)
        ws.append(row)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, not a formula
    notes = wb.create_sheet("说明")
    notes.append(["列 column", "说明 meaning"])
    for key, header in COLUMNS:
        notes.append([key, header])
    notes.append(["", "每行一篇指南；导入时逐行校验，任何一行有错则全部不导入。"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def load(body: bytes, fmt: Format) -> tuple[list[Guide], list[FieldError]]:
    """Guides from an uploaded body, all valid, or every error (nothing is half-read)."""
    if fmt == "json":
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return [], [FieldError("(file)", "不是有效的 JSON / not valid JSON")]
        return parse_guides(data)
    if fmt == "yaml":
        try:
            data = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"第 {mark.line + 1} 行 / line {mark.line + 1}: " if mark is not None else ""
            return [], [FieldError("(file)", f"{where}不是有效的 YAML / not valid YAML")]
        return parse_guides(_plain(data))
    return _from_xlsx(body)


def _plain(value: Any) -> Any:
    """YAML reads 2026-11-21 as a date: give it back as the text JSON would carry."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _from_xlsx(body: bytes) -> tuple[list[Guide], list[FieldError]]:
    try:
        wb = load_workbook(io.BytesIO(body), read_only=True, data_only=False)
    except (InvalidFileException, OSError, KeyError, ValueError, Exception):  # a zip that is not xlsx
        return [], [FieldError("(file)", "不是有效的 .xlsx 表格 / not a valid .xlsx spreadsheet")]
    if SHEET not in wb.sheetnames:
        return [], [FieldError("(file)", f"缺少工作表“{SHEET}” / the sheet {SHEET} is missing")]
    rows = list(wb[SHEET].iter_rows(values_only=True))
    wb.close()
    if not rows:
        return [], [FieldError("(file)", "表格为空 / the sheet is empty")]
    header = [str(h or "").split("（")[0].strip() for h in rows[0]]
    known = {k for k, _ in COLUMNS}
    errors = [FieldError(f"第 1 行.{h}", "未知的列 / unknown column") for h in header if h and h not in known]
    missing = [k for k, _ in COLUMNS if k not in header and k not in ("situations", "theme")]
    errors += [FieldError(f"第 1 行.{k}", "缺少这一列 / missing column") for k in missing]
    if errors:
        return [], errors
    items: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, row in enumerate(rows[1:], start=2):
        if all(v in (None, "") for v in row):
            continue
        cells = dict(zip(header, row, strict=False))
        formula = [k for k, v in cells.items() if isinstance(v, str) and v.startswith("=") and k]
        if formula:
            errors += [FieldError(f"第 {number} 行.{k}", "不接受公式，请填写文字 / formulas are not accepted")
                       for k in formula]
            continue
        item: dict[str, Any] = {"sections": {}}
        for key, value in cells.items():
            if not key:
                continue
            if isinstance(value, dt.datetime | dt.date):
                text = value.isoformat()[:10]
            else:
                text = "" if value is None else str(value)
            if key.startswith("sections."):
                item["sections"][key.split(".", 1)[1]] = text
            elif key in _LISTS:
                item[key] = [line.strip() for line in text.splitlines() if line.strip()]
            elif key == "situations":
                try:
                    item[key] = json.loads(text) if text.strip() else []
                except ValueError:
                    errors.append(FieldError(f"第 {number} 行.situations",
                                             "应为 JSON 数组 / must be a JSON array"))
                    item[key] = []
            else:
                item[key] = text
        items.append(item)
        lines.append(number)
    if not items:
        return [], errors or [FieldError("(file)", "没有指南行 / no rows")]
    guides, parsed_errors = parse_guides(items)
    for err in parsed_errors:  # "[3].sections.fee" → "第 5 行.sections.fee"
        field = err.field
        if field.startswith("["):
            index, _, rest = field[1:].partition("]")
            if index.isdigit() and int(index) < len(lines):
                field = f"第 {lines[int(index)]} 行{rest}"
        errors.append(FieldError(field, err.message))
    return ([], errors) if errors else (guides, [])
