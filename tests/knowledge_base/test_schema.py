"""Bad guide files are refused with the file and the field named; the rest still load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from knowledge_base.store import load_guides

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "guides"


@pytest.fixture
def guides_dir(tmp_path: Path) -> Path:
    target = tmp_path / "guides"
    shutil.copytree(FIXTURES, target)
    return target


def _edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text("utf-8"))
    for dotted, value in changes.items():
        keys = dotted.split("__")
        node = data
        for key in keys[:-1]:
            node = node[key]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sections__fee": None}, "sections.fee"),
        ({"sections__materials": "   "}, "sections.materials"),
        ({"title": ""}, "title"),
        ({"audience": "alien"}, "audience"),
        ({"reviewed": "not a date"}, "reviewed"),
        ({"aliases": ["<script>alert(1)</script>"]}, "aliases"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_guide_is_refused_by_file_and_field_while_the_rest_load(
    guides_dir: Path, changes: dict[str, object], field: str
) -> None:
    _edit(guides_dir / "fx-passport.yaml", **changes)
    result = load_guides(guides_dir)
    assert sorted(g.id for g in result.guides) == sorted(
        p.stem for p in FIXTURES.glob("*.yaml") if p.stem != "fx-passport"
    )
    assert result.errors, "the bad guide must be reported"
    assert all(e.path == "fx-passport.yaml" for e in result.errors)
    assert any(e.field.startswith(field) for e in result.errors), result.errors


def test_an_id_that_does_not_match_the_file_name_is_refused(guides_dir: Path) -> None:
    _edit(guides_dir / "fx-marriage.yaml", id="fx-wedding")
    result = load_guides(guides_dir)
    assert "fx-wedding" not in {g.id for g in result.guides}
    assert [e.path for e in result.errors] == ["fx-marriage.yaml"]


def test_unparseable_yaml_is_refused(guides_dir: Path) -> None:
    (guides_dir / "fx-broken.yaml").write_text("id: [unclosed\n", "utf-8")
    result = load_guides(guides_dir)
    assert len(result.guides) == len(list(FIXTURES.glob("*.yaml")))
    assert [e.path for e in result.errors] == ["fx-broken.yaml"]
