"""The guides of record on SQLite and PostgreSQL: seed, drafts, review, history, conflicts, audit.

What an editor and a reviewer rely on: a draft is not what citizens are answered with; nothing is
published without a second reviewer; a save made from an old version is refused with what changed
meanwhile; every version stays, with who, when and why; the audit log cannot be rewritten.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from knowledge_base.schema import Guide
from knowledge_base.store import load_guides
from records.db import Database
from records.guides import GuideConflict, GuideRecordError, SqlGuideRepository, digest, digest_text

GUIDES = {g.id: g for g in load_guides().guides}
ELDER = GUIDES["elder-allowance"]


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(database: Database, clock: Clock) -> SqlGuideRepository:
    r = SqlGuideRepository(database, clock)
    r.seed([ELDER, GUIDES["hpf-withdraw-rent"]])
    return r


def edited(guide: Guide, materials: str = "- 本人身份证\n- 户口簿", **changes: object) -> Guide:
    data = guide.model_dump(mode="json")
    data["sections"]["materials"] = materials
    data.update(changes)
    return Guide.model_validate(data)


def test_seeding_happens_once_and_publishes_version_one(repo: SqlGuideRepository) -> None:
    assert repo.seed(GUIDES.values()) == 0  # not empty any more: the shipped files are not re-read
    assert set(repo.published()) == {"elder-allowance", "hpf-withdraw-rent"}
    info = repo.get("elder-allowance")
    assert (info.status, info.published_number, info.head_number) == ("published", 1, 1)
    assert repo.history("elder-allowance")[0].note.startswith("初始导入")


def test_a_draft_is_seen_by_editors_only_until_a_second_reviewer_approves_it(
        repo: SqlGuideRepository) -> None:
    draft = repo.save_draft(edited(ELDER), author="ed", note="材料按新规调整", base=1)
    assert (draft.number, draft.state, draft.base_number) == (2, "draft", 1)
    assert repo.published()["elder-allowance"] == ELDER  # citizens still get version 1
    assert [v.number for v in repo.get("elder-allowance").open_versions] == [2]
    with pytest.raises(GuideRecordError) as not_yet:
        repo.approve("elder-allowance", 2, reviewer="rev")
    assert not_yet.value.code == "invalid_state"  # a draft must be submitted first
    repo.submit("elder-allowance", 2, by="ed")
    assert [v.number for v in repo.review_queue()] == [2]
    with pytest.raises(GuideRecordError) as own:
        repo.approve("elder-allowance", 2, reviewer="ed")
    assert own.value.code == "same_reviewer"
    done = repo.approve("elder-allowance", 2, reviewer="rev", comment="核对无误")
    assert done.state == "published" and done.reviewer == "rev"
    assert repo.published()["elder-allowance"].sections.materials == "- 本人身份证\n- 户口簿"
    states = {v.number: v.state for v in repo.history("elder-allowance")}
    assert states == {2: "published", 1: "superseded"}
    assert repo.review_queue() == []


def test_a_rejected_version_keeps_the_comment_and_changes_nothing(repo: SqlGuideRepository) -> None:
    repo.save_draft(edited(ELDER), author="ed", note="改材料", base=1)
    repo.submit("elder-allowance", 2, by="ed")
    with pytest.raises(GuideRecordError) as empty:
        repo.reject("elder-allowance", 2, reviewer="rev", comment="  ")
    assert empty.value.code == "note_required"
    out = repo.reject("elder-allowance", 2, reviewer="rev", comment="户口簿应写明原件")
    assert out.state == "rejected" and out.review_comment == "户口簿应写明原件"
    assert repo.published()["elder-allowance"] == ELDER


def test_a_save_from_an_old_version_is_a_conflict_showing_what_changed(repo: SqlGuideRepository) -> None:
    repo.save_draft(edited(ELDER, "- 身份证原件"), author="alice", note="改材料", base=1)
    with pytest.raises(GuideConflict) as conflict:
        repo.save_draft(edited(ELDER, "- 户口簿"), author="bob", note="我也改材料", base=1)
    err = conflict.value
    assert err.current == 2 and err.detail["changed_by"] == "alice"
    assert [c["label"] for c in err.changes] == ["办理材料"]
    assert err.changes[0]["after"] == "- 身份证原件"
    assert repo.version("elder-allowance", 2).guide.sections.materials == "- 身份证原件"  # not overwritten
    with pytest.raises(GuideRecordError) as unbased:
        repo.save_draft(edited(ELDER), author="bob", note="没有基准版本", base=None)
    assert unbased.value.code == "base_required"


def test_a_change_note_is_required(repo: SqlGuideRepository) -> None:
    with pytest.raises(GuideRecordError) as err:
        repo.save_draft(edited(ELDER), author="ed", note="", base=1)
    assert err.value.code == "note_required"
    assert repo.get("elder-allowance").head_number == 1


def test_a_brand_new_guide_is_drafted_then_published(repo: SqlGuideRepository) -> None:
    new = edited(ELDER, id="pet-license", title="犬只登记")
    repo.save_draft(new, author="ed", note="新增犬只登记指南", base=None)
    assert "pet-license" not in repo.published() and repo.get("pet-license").status == "new"
    repo.submit("pet-license", 1, by="ed")
    repo.approve("pet-license", 1, reviewer="rev")
    assert repo.published()["pet-license"].title == "犬只登记"


def test_the_diff_names_each_changed_part(repo: SqlGuideRepository) -> None:
    changed = edited(ELDER, aliases=[*ELDER.aliases, "高龄老人补贴测试别名"], title="老年综合津贴")
    repo.publish_now(changed, by="rev", note="新增别名", base=1)
    diff = {c["label"]: c for c in repo.diff("elder-allowance", 1, 2)}
    assert set(diff) == {"标题", "办理材料", "别名"}
    assert diff["别名"]["added"] == ["高龄老人补贴测试别名"] and diff["别名"]["removed"] == []
    assert diff["标题"]["before"] == ELDER.title and diff["标题"]["after"] == "老年综合津贴"


def test_rollback_publishes_an_old_text_as_a_new_version(repo: SqlGuideRepository) -> None:
    repo.publish_now(edited(ELDER), by="rev", note="改材料", base=1)
    back = repo.rollback("elder-allowance", 1, by="rev", note="新材料要求尚未生效")
    assert back.number == 3 and back.state == "published" and back.note.startswith("回滚到第 1 版")
    assert repo.published()["elder-allowance"] == ELDER
    assert [v.state for v in repo.history("elder-allowance")] == ["published", "superseded", "superseded"]


def test_unpublish_stops_answering_and_publishing_again_restores(repo: SqlGuideRepository) -> None:
    repo.unpublish("elder-allowance", by="rev", note="政策暂停")
    assert "elder-allowance" not in repo.published()
    assert repo.get("elder-allowance").status == "unpublished"
    with pytest.raises(GuideRecordError) as twice:
        repo.unpublish("elder-allowance", by="rev", note="again")
    assert twice.value.code == "not_published"
    repo.rollback("elder-allowance", 1, by="rev", note="恢复")
    assert "elder-allowance" in repo.published()


def test_a_scheduled_version_is_published_on_its_date(repo: SqlGuideRepository, clock: Clock) -> None:
    repo.save_draft(edited(ELDER), author="ed", note="明年 1 月 1 日起新标准", base=1)
    repo.submit("elder-allowance", 2, by="ed")
    effective = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    assert repo.approve("elder-allowance", 2, reviewer="rev", effective_at=effective).state == "scheduled"
    assert repo.publish_due() == [] and repo.published()["elder-allowance"] == ELDER
    clock.now = effective
    assert [v.number for v in repo.publish_due()] == [2]
    assert repo.published()["elder-allowance"].sections.materials.startswith("- 本人身份证")


def test_every_write_is_audited_and_the_log_cannot_be_rewritten(repo: SqlGuideRepository,
                                                                database: Database) -> None:
    repo.save_draft(edited(ELDER), author="ed", note="改材料", base=1)
    repo.record("ed", "login")
    actions = [(e["actor"], e["action"]) for e in repo.audit()]
    assert actions == [("seed", "seed"), ("ed", "draft"), ("ed", "login")]
    assert repo.audit()[1]["detail"]["note"] == "改材料"
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError), database.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(repo.audit()) == 3


def test_owner_department_and_review_interval_flag_a_stale_guide(repo: SqlGuideRepository) -> None:
    info = repo.set_owner("elder-allowance", by="rev", owner_department="市民政局", review_interval_days=30)
    assert info.owner_department == "市民政局"
    assert info.review_due() == ELDER.reviewed + dt.timedelta(days=30)
    assert info.stale(ELDER.reviewed + dt.timedelta(days=31)) and not info.stale(ELDER.reviewed)
    with pytest.raises(GuideRecordError):
        repo.set_owner("elder-allowance", by="rev", review_interval_days=0)


def test_the_weekly_digest_lists_overdue_and_soon_due_guides_by_owner(repo: SqlGuideRepository) -> None:
    repo.set_owner("elder-allowance", by="rev", owner_department="市民政局", review_interval_days=30)
    today = ELDER.reviewed + dt.timedelta(days=40)
    report = digest(repo.list_all(), today)
    items = report["by_owner"]["市民政局"]
    assert [i["id"] for i in items] == ["elder-allowance"] and items[0]["overdue_days"] == 10
    assert report["stale"] == 1
    text = digest_text(report)
    assert "【市民政局】" in text and "已超期 10 天" in text


def test_a_new_release_of_the_files_updates_the_guides_nobody_edited(repo: SqlGuideRepository) -> None:
    newer = edited(ELDER, "- 身份证\n- 新版材料清单")
    report = repo.release([newer, GUIDES["hpf-withdraw-rent"], GUIDES["birth-one-thing"]])
    assert (report.updated, report.added, report.offered) == (["elder-allowance"], ["birth-one-thing"], [])
    assert repo.published()["elder-allowance"] == newer  # citizens get the new release at once
    assert repo.published()["birth-one-thing"] == GUIDES["birth-one-thing"]
    info = repo.get("elder-allowance")
    assert info.seeded and (info.published_number, info.head_number) == (2, 2)  # still "from the files"
    assert repo.history("elder-allowance")[0].note.startswith("新版指南文件")
    assert not repo.release([newer, GUIDES["hpf-withdraw-rent"], GUIDES["birth-one-thing"]]).changed
    assert [e["action"] for e in repo.audit()] == ["seed", "release"]


def test_a_new_release_never_overwrites_an_editors_change_but_asks_a_reviewer(
        repo: SqlGuideRepository) -> None:
    repo.publish_now(edited(ELDER, "- 编辑改过的材料"), by="rev", note="按窗口反馈修改", base=1)
    newer = edited(ELDER, "- 文件里的新材料")
    report = repo.release([newer])
    assert report.offered == ["elder-allowance"] and not report.updated
    assert repo.published()["elder-allowance"].sections.materials == "- 编辑改过的材料"
    [offer] = repo.review_queue()
    assert (offer.number, offer.author, offer.guide) == (3, "release", newer)
    assert not repo.release([newer]).changed  # offered once, not at every start
    repo.approve("elder-allowance", 3, reviewer="rev", comment="采用新版文件")
    assert repo.published()["elder-allowance"] == newer


def test_a_release_keeps_what_a_reviewer_declined_and_lists_guides_it_no_longer_ships(
        repo: SqlGuideRepository) -> None:
    repo.unpublish("elder-allowance", by="rev", note="政策暂停")
    report = repo.release([edited(ELDER, "- 文件里的新材料")])
    assert report.offered == ["elder-allowance"] and report.missing == ["hpf-withdraw-rent"]
    repo.reject("elder-allowance", 2, reviewer="rev", comment="政策仍暂停")
    assert "elder-allowance" not in repo.published()
    assert "hpf-withdraw-rent" in repo.published()  # a guide no longer shipped is not taken away
    assert not repo.release([edited(ELDER, "- 文件里的新材料")]).changed
