"""The shipped declarations load, cover the services the issue names, and bad files are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from declarations.catalog import DeclarationFileError, load_catalog, load_file
from knowledge_base.store import load_guides

SHIPPED = {"ent-setup", "ent-individual", "birth-one-thing", "hpf-withdraw-rent", "residence-permit",
           "elder-allowance"}
EXAMPLE = Path(__file__).resolve().parents[2] / "declarations" / "data" / "elder-allowance.yaml"


def test_every_shipped_declaration_loads_and_belongs_to_a_guide() -> None:
    catalog = load_catalog()
    assert SHIPPED <= set(catalog.declarations)
    guides = {g.id for g in load_guides().guides}
    for decl in catalog.declarations.values():
        assert decl.service_id in guides, decl.id
        assert catalog.for_service(decl.service_id) is decl


@pytest.mark.parametrize(("change", "named"), [
    (("type: address", "type: street"), "questions.5.type"),
    (("field: elder_name", "field: Elder Name"), "questions.1.field"),
    (("source: elder_id_number}", "source: nowhere}"), "derived"),
    (("when: {field: hukou_shanghai, is: \"yes\"}", "when: {field: later_field, is: \"yes\"}"),
     "questions[5].when"),
])
def test_a_bad_file_is_refused_naming_file_and_field(tmp_path: Path, change: tuple[str, str],
                                                      named: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert change[0] in text
    bad = tmp_path / "elder-allowance.yaml"
    bad.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(DeclarationFileError) as err:
        load_file(bad)
    assert "elder-allowance.yaml" in str(err.value) and named in str(err.value)


def test_a_file_whose_id_is_not_its_name_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "other.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(DeclarationFileError, match="must match the file name"):
        load_file(bad)


def test_broken_yaml_is_refused_with_the_file_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(DeclarationFileError, match=r"x\.yaml: not valid YAML"):
        load_file(bad)
