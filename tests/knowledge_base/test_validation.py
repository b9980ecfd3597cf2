"""Guides arriving as JSON: markup refused wherever it is, ordinary text and Markdown accepted."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge_base.schema import Guide
from knowledge_base.validation import parse_guide, parse_guides


def as_json(guide: Guide) -> dict[str, Any]:
    return guide.model_dump(mode="json")


@pytest.mark.parametrize("text", [
    "年龄<60岁，月收入>3000元的可以申请",
    "详见 <https://zwdt.sh.gov.cn> 或拨打 12345",
    "- 身份证\n- **户口簿**（原件）\n1. 第一步 → 第二步",
    "a < b > c",
])
def test_ordinary_text_and_markdown_are_accepted(fixture_guides: list[Guide], text: str) -> None:
    body = as_json(fixture_guides[0])
    body["sections"]["materials"] = text
    guide, errors = parse_guide(body)
    assert errors == [] and guide is not None and guide.sections.materials == text


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "< SCRIPT src=x>", '<img src=x onerror="alert(1)">', "<b>粗体</b>",
    "[点我](javascript:alert(1))", "<iframe src=//evil></iframe>",
])
@pytest.mark.parametrize("where", ["sections.fee", "title", "situations.0.note", "theme"])
def test_markup_is_refused_in_every_text_field(fixture_guides: list[Guide], text: str, where: str) -> None:
    body = as_json(fixture_guides[0])
    if where.startswith("situations"):
        body["situations"] = [{"name": "代办", "note": text}]
    elif "." in where:
        body["sections"]["fee"] = text
    else:
        body[where] = text[:50]
    guide, errors = parse_guide(body)
    assert guide is None
    assert [e.field for e in errors] == [where]
    assert "HTML" in errors[0].message and "脚本" in errors[0].message


def test_an_import_names_the_guide_and_field(fixture_guides: list[Guide]) -> None:
    good, bad = as_json(fixture_guides[0]), as_json(fixture_guides[1])
    del bad["sections"]["fee"]
    bad["reviewed"] = "2026-13-40"
    guides, errors = parse_guides([good, bad])
    assert guides == []
    assert {e.field for e in errors} == {"[1].sections.fee", "[1].reviewed"}
    assert parse_guides([good])[0][0].id == good["id"]
