"""The editors' inbox on SQLite and PostgreSQL: grouping by similar words, masking, merge, resolve."""

from __future__ import annotations

import pytest

from knowledge_base.normalize import tokenize
from records.db import Database
from records.guides import GuideRecordError
from records.inbox import SqlInbox


@pytest.fixture
def inbox(database: Database) -> SqlInbox:
    return SqlInbox(database, tokenize)


def test_the_same_question_in_other_words_joins_one_group(inbox: SqlInbox) -> None:
    a = inbox.record("出版物经营许可证怎么办理", "out_of_scope", channel="web", sender_id="u1")
    b = inbox.record("出版物经营许可证怎么办", "out_of_scope", channel="wechat", sender_id="u2")
    c = inbox.record("护照加急要多久", "low_confidence", channel="web", sender_id="u3")
    assert a == b != c
    groups = inbox.groups()
    assert [(g.id, g.count) for g in groups] == [(a, 2), (c, 1)]  # most frequent first
    assert groups[0].reasons == {"out_of_scope": 2}
    assert {e["channel"] for e in groups[0].examples} == {"web", "wechat"}


def test_personal_data_is_masked_before_it_is_stored(inbox: SqlInbox) -> None:
    gid = inbox.record("我的身份证110105198001010016手机13812345678，居住证怎么续", "clarify")
    text = inbox.group(gid).example
    assert "110105198001010016" not in text and "13812345678" not in text
    assert "居住证" in text


def test_merge_moves_questions_and_counts(inbox: SqlInbox) -> None:
    a = inbox.record("宠物狗怎么上户口", "out_of_scope")
    b = inbox.record("养狗要办什么证", "out_of_scope")
    assert a != b
    merged = inbox.merge(a, [b], by="ed")
    assert merged.count == 2 and set(inbox.questions(a)) == {"宠物狗怎么上户口", "养狗要办什么证"}
    assert inbox.group(b).status == "merged" and inbox.group(b).merged_into == a
    with pytest.raises(GuideRecordError) as err:
        inbox.resolve(b, "out_of_scope", by="ed")
    assert err.value.code == "inbox_merged"


def test_a_resolved_group_leaves_the_open_inbox_and_new_questions_start_a_new_one(inbox: SqlInbox) -> None:
    a = inbox.record("办理出版物经营许可证", "out_of_scope")
    inbox.resolve(a, "drafted", by="ed", guide_id="publication-license")
    assert inbox.groups() == [] and inbox.groups("drafted")[0].id == a
    assert inbox.record("办理出版物经营许可证", "out_of_scope") != a
    assert inbox.reopen(a, by="ed").status == "open"
    with pytest.raises(GuideRecordError):
        inbox.group(999)


def test_questions_marked_out_of_scope_are_the_bots_to_decline(inbox: SqlInbox) -> None:
    a = inbox.record("出版物经营许可证怎么办理", "out_of_scope")
    inbox.record("出版物经营许可证怎么办", "out_of_scope")
    inbox.record("护照加急要多久", "low_confidence")
    assert inbox.out_of_scope_questions() == []
    inbox.resolve(a, "out_of_scope", by="ed")
    assert inbox.out_of_scope_questions() == ["出版物经营许可证怎么办", "出版物经营许可证怎么办理"]
    # The same question again is counted in the marked group, not filed as a new open one.
    assert inbox.record("出版物经营许可证怎么办理啊", "out_of_scope") == a
    assert inbox.group(a).count == 3 and inbox.group(a).status == "out_of_scope"
    assert [g.example for g in inbox.groups()] == ["护照加急要多久"]
    inbox.reopen(a, by="ed")
    assert inbox.out_of_scope_questions() == []
