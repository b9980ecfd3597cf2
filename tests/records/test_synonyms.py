"""Synonym groups of record on SQLite and PostgreSQL: validation, one group per term, audit."""

from __future__ import annotations

import pytest

from records.db import Database
from records.guides import GuideRecordError, SqlGuideRepository
from records.synonyms import SqlSynonyms


@pytest.fixture
def synonyms(database: Database) -> SqlSynonyms:
    return SqlSynonyms(database)


def test_add_update_delete_and_every_change_audited(synonyms: SqlSynonyms, database: Database) -> None:
    group = synonyms.add([" 沪牌 ", "非营业性客车额度", "沪牌"], by="ed", note="市民常说沪牌")
    assert group.terms == ["沪牌", "非营业性客车额度"] and group.created_by == "ed"
    updated = synonyms.update(group.id, ["沪牌", "非营业性客车额度", "沪牌额度"], by="rev")
    assert updated.terms == ["沪牌", "非营业性客车额度", "沪牌额度"] and updated.note == "市民常说沪牌"
    assert synonyms.terms() == [["沪牌", "非营业性客车额度", "沪牌额度"]]
    synonyms.delete(group.id, by="rev")
    assert synonyms.all() == []
    audit = SqlGuideRepository(database).audit()
    assert [(e["actor"], e["action"]) for e in audit][-3:] == [
        ("ed", "synonyms_add"), ("rev", "synonyms_update"), ("rev", "synonyms_delete")]
    assert audit[-1]["detail"]["terms"] == ["沪牌", "非营业性客车额度", "沪牌额度"]


@pytest.mark.parametrize(("terms", "code"), [
    (["沪牌"], "invalid_synonyms"),
    (["沪牌", "沪牌"], "invalid_synonyms"),
    (["沪牌", "<script>alert(1)</script>"], "invalid_synonyms"),
    (["沪牌", "额" * 31], "invalid_synonyms"),
    (["沪牌", 3], "invalid_synonyms"),
    (["沪牌", "！！"], "invalid_synonyms"),
])
def test_bad_groups_are_refused_and_nothing_is_stored(synonyms: SqlSynonyms, terms: list[object],
                                                      code: str) -> None:
    with pytest.raises(GuideRecordError) as err:
        synonyms.add(terms, by="ed")
    assert err.value.code == code and " / " in err.value.message  # Chinese and English
    assert synonyms.all() == []


def test_a_term_belongs_to_one_group(synonyms: SqlSynonyms) -> None:
    first = synonyms.add(["沪牌", "非营业性客车额度"], by="ed")
    other = synonyms.add(["绿本", "机动车登记证书"], by="ed")
    with pytest.raises(GuideRecordError) as err:
        synonyms.add(["滬牌", "上海牌照"], by="ed")  # the same term in 繁体
    assert err.value.code == "synonym_conflict" and err.value.detail == {"group": first.id}
    with pytest.raises(GuideRecordError):
        synonyms.update(other.id, ["绿本", "沪牌"], by="ed")
    same = synonyms.update(first.id, ["沪牌", "非营业性客车额度"], by="ed")  # its own terms are fine
    assert same.terms == ["沪牌", "非营业性客车额度"]
    with pytest.raises(GuideRecordError) as missing:
        synonyms.delete(999, by="ed")
    assert missing.value.code == "synonyms_not_found"
