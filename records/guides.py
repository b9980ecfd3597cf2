"""Guides of record: every version of every guide, drafts and review, and the audit log.

A guide has a numbered chain of versions (1, 2, 3 …), kept for ever. An editor's save appends a
`draft` written from the newest version they saw (`base`): if someone saved meanwhile, the save is
refused with what changed (optimistic locking; nothing overwritten silently). A draft is
`submitted` for review; a reviewer other than its author `approve`s it — published at once, or
`scheduled` for its 生效日期 — or `reject`s it with a comment. Publishing supersedes the version
citizens were answered with. `publish_now` is the contract's PUT (a reviewer publishes directly);
`unpublish` stops answering with a guide; `rollback` republishes an old version as a new one.
Every write appends to the audit log in the same transaction; the log refuses UPDATE and DELETE
(database triggers, migration 0002).

The shipped guide files seed an empty database once (`seed`); from then on the database is the
record and Redis only the live channel to the action servers (knowledge_base.overlay). A new release
of the files is taken in at start (`release`): a guide still carrying shipped text is updated to the
new file, a guide an editor changed keeps its text and gets the file's version in the review queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from knowledge_base.diff import guide_diff
from knowledge_base.schema import Guide
from records.db import Database, utcnow
from records.events import PUBLISH
from records.models import AuditRow, EventRow, GuideRow, GuideVersionRow

DRAFTING: Final = ("draft", "submitted")  # versions still being worked on
MAX_NOTE: Final = 500
SHIPPED: Final = ("seed", "release")  # authors of versions taken from the shipped guide files


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


class GuideRecordError(Exception):
    """A refused operation on the guides of record: a stable code and a bilingual message."""

    def __init__(self, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or {}


class GuideConflict(GuideRecordError):
    """The guide changed since the version the editor started from; `changes` says how."""

    def __init__(self, guide_id: str, base: int | None, current: int, changes: list[dict[str, Any]],
                 by: str | None) -> None:
        who = f"（{by} 修改）" if by else ""
        super().__init__(
            "version_conflict",
            f"指南 {guide_id} 在您编辑期间已更新到第 {current} 版{who}，请查看改动后在新版本上重新修改 / "
            f"Guide {guide_id} was changed meanwhile (now version {current}); review the changes and redo "
            "yours on the new version.",
            {"base": base, "current": current, "changes": changes, "changed_by": by})
        self.current = current
        self.changes = changes


def _not_found(guide_id: str, number: int | None = None) -> GuideRecordError:
    if number is None:
        return GuideRecordError("guide_not_found", f"没有 id 为 {guide_id} 的指南 / No guide {guide_id}.")
    return GuideRecordError("version_not_found",
                            f"指南 {guide_id} 没有第 {number} 版 / Guide {guide_id} has no version {number}.")


def _note(note: str | None, what: str = "修改说明") -> str:
    text = (note or "").strip()
    if not text:
        raise GuideRecordError("note_required", f"请填写{what} / A note saying why is required.")
    if len(text) > MAX_NOTE:
        raise GuideRecordError("note_too_long", f"{what}不能超过 {MAX_NOTE} 字 / The note is too long.")
    return text


@dataclass(frozen=True)
class VersionInfo:
    guide_id: str
    number: int
    state: str
    guide: Guide
    base_number: int | None
    author: str
    note: str
    created_at: dt.datetime
    reviewer: str | None
    reviewed_at: dt.datetime | None
    review_comment: str | None
    effective_at: dt.datetime | None
    published_at: dt.datetime | None

    @classmethod
    def of(cls, row: GuideVersionRow) -> VersionInfo:
        return cls(row.guide_id, row.number, row.state, Guide.model_validate(row.body), row.base_number,
                   row.author, row.note, _utc(row.created_at) or utcnow(), row.reviewer,
                   _utc(row.reviewed_at), row.review_comment, _utc(row.effective_at), _utc(row.published_at))

    def summary(self) -> dict[str, Any]:
        """The version without its text, as history lists show it."""
        return {"number": self.number, "state": self.state, "title": self.guide.title,
                "base_number": self.base_number, "author": self.author, "note": self.note,
                "created_at": self.created_at.isoformat(), "reviewer": self.reviewer,
                "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
                "review_comment": self.review_comment,
                "effective_at": self.effective_at.isoformat() if self.effective_at else None,
                "published_at": self.published_at.isoformat() if self.published_at else None}


@dataclass(frozen=True)
class GuideInfo:
    id: str
    status: str  # published | unpublished | new (never published)
    published_number: int | None
    head_number: int
    owner_department: str
    review_interval_days: int
    updated_at: dt.datetime
    published: Guide | None  # the text citizens are answered with
    head: VersionInfo  # the newest version of any state
    open_versions: list[VersionInfo] = field(default_factory=list)  # drafts and submitted ones

    @property
    def seeded(self) -> bool:
        """Still the shipped text: the newest version is the published one, taken from the files."""
        return self.published_number == self.head_number and self.head.author in SHIPPED

    def review_due(self) -> dt.date | None:
        """When the published text must be reviewed again (its `reviewed` date + the interval)."""
        if self.published is None:
            return None
        return self.published.reviewed + dt.timedelta(days=self.review_interval_days)

    def stale(self, today: dt.date) -> bool:
        due = self.review_due()
        return due is not None and due < today


@dataclass(frozen=True)
class ReleaseReport:
    """What taking in a release of the guide files did, by guide id."""
    updated: list[str] = field(default_factory=list)  # shipped text replaced by the new file
    added: list[str] = field(default_factory=list)  # new in the files, published
    offered: list[str] = field(default_factory=list)  # edited here: the file's version awaits review
    missing: list[str] = field(default_factory=list)  # in the database, no longer in the files

    @property
    def changed(self) -> bool:
        return bool(self.updated or self.added or self.offered)


def digest(infos: Sequence[GuideInfo], today: dt.date, *, soon_days: int = 30) -> dict[str, Any]:
    """The weekly freshness digest: published guides past their review date, and those due within
    `soon_days`, grouped by owner department (unassigned last)."""
    rows = []
    for info in infos:
        due = info.review_due()
        if info.published is None or due is None or due > today + dt.timedelta(days=soon_days):
            continue
        rows.append({"id": info.id, "title": info.published.title, "owner_department": info.owner_department,
                     "reviewed": info.published.reviewed.isoformat(), "review_due": due.isoformat(),
                     "overdue_days": max((today - due).days, 0), "stale": due < today})
    rows.sort(key=lambda r: (r["owner_department"] == "", r["owner_department"], r["review_due"]))
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r["owner_department"]) or "（未指定部门）", []).append(r)
    return {"date": today.isoformat(), "stale": sum(r["stale"] for r in rows),
            "due_soon": sum(not r["stale"] for r in rows), "by_owner": groups}


def digest_text(report: dict[str, Any]) -> str:
    """The digest as a short Chinese text (mail or chat), one line per guide."""
    lines = [f"小申办事指南复核周报（{report['date']}）：已过复核期 {report['stale']} 篇，"
             f"30 天内到期 {report['due_soon']} 篇。"]
    for owner, items in report["by_owner"].items():
        lines.append(f"【{owner}】")
        for r in items:
            state = f"已超期 {r['overdue_days']} 天" if r["stale"] else f"{r['review_due']} 到期"
            lines.append(f"- {r['title']}（{r['id']}）：上次审核 {r['reviewed']}，{state}")
    return "\n".join(lines)


class SqlGuideRepository:
    """The guides of record in the database (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    # -- reading -----------------------------------------------------------------------------
    def count(self) -> int:
        with self.db.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(GuideRow)) or 0)

    def published(self) -> dict[str, Guide]:
        """What citizens are answered with: every published guide's published version."""
        with self.db.sessions() as s:
            return {gid: Guide.model_validate(body) for gid, body in self._published_bodies(s).items()}

    def list_all(self) -> list[GuideInfo]:
        with self.db.sessions() as s:
            rows = s.scalars(select(GuideRow).order_by(GuideRow.id)).all()
            versions = s.scalars(select(GuideVersionRow).where(
                (GuideVersionRow.state.in_(DRAFTING))
                | (GuideVersionRow.number == select(GuideRow.head_number)
                   .where(GuideRow.id == GuideVersionRow.guide_id).scalar_subquery())
                | (GuideVersionRow.number == select(GuideRow.published_number)
                   .where(GuideRow.id == GuideVersionRow.guide_id).scalar_subquery()))).all()
            by_guide: dict[str, list[GuideVersionRow]] = {}
            for v in versions:
                by_guide.setdefault(v.guide_id, []).append(v)
            return [self._info(r, by_guide.get(r.id, [])) for r in rows]

    def get(self, guide_id: str) -> GuideInfo:
        with self.db.sessions() as s:
            row = s.get(GuideRow, guide_id)
            if row is None:
                raise _not_found(guide_id)
            versions = s.scalars(select(GuideVersionRow).where(
                GuideVersionRow.guide_id == guide_id,
                GuideVersionRow.state.in_(DRAFTING)
                | GuideVersionRow.number.in_([row.head_number, row.published_number or 0]))).all()
            return self._info(row, list(versions))

    def version(self, guide_id: str, number: int) -> VersionInfo:
        with self.db.sessions() as s:
            return VersionInfo.of(self._version_row(s, guide_id, number))

    def history(self, guide_id: str) -> list[VersionInfo]:
        """Every version, newest first."""
        with self.db.sessions() as s:
            if s.get(GuideRow, guide_id) is None:
                raise _not_found(guide_id)
            rows = s.scalars(select(GuideVersionRow).where(GuideVersionRow.guide_id == guide_id)
                             .order_by(GuideVersionRow.number.desc())).all()
            return [VersionInfo.of(r) for r in rows]

    def diff(self, guide_id: str, old: int | None, new: int) -> list[dict[str, Any]]:
        """What changed from version `old` (None: nothing) to version `new`, part by part."""
        with self.db.sessions() as s:
            after = Guide.model_validate(self._version_row(s, guide_id, new).body)
            before = Guide.model_validate(self._version_row(s, guide_id, old).body) if old else None
        return guide_diff(before, after)

    def review_queue(self) -> list[VersionInfo]:
        """Versions waiting for a reviewer, oldest first."""
        with self.db.sessions() as s:
            rows = s.scalars(select(GuideVersionRow).where(GuideVersionRow.state == "submitted")
                             .order_by(GuideVersionRow.created_at)).all()
            return [VersionInfo.of(r) for r in rows]

    def audit(self, *, since: dt.datetime | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        """The audit log, oldest first."""
        with self.db.sessions() as s:
            q = select(AuditRow).order_by(AuditRow.pk)
            if since is not None:
                q = q.where(AuditRow.at >= since)
            return [{"at": (_utc(r.at) or utcnow()).isoformat(), "actor": r.actor, "action": r.action,
                     "target": r.target, "detail": r.detail} for r in s.scalars(q.limit(limit))]

    # -- writing -----------------------------------------------------------------------------
    def record(self, actor: str, action: str, target: str = "", **detail: Any) -> None:
        """An audit entry on its own (a login, an export)."""
        with self.db.sessions.begin() as s:
            self._audit(s, actor, action, target, detail)

    def seed(self, guides: Iterable[Guide], *, by: str = "seed",
             progress: Callable[[int, int], None] | None = None) -> int:
        """Fill an empty database with the shipped guides, each version 1, published; else nothing."""
        items = list(guides)
        try:
            return self._seed(items, by, progress)
        except IntegrityError:  # another gateway seeded the same empty database at the same moment
            return 0

    def _seed(self, items: list[Guide], by: str, progress: Callable[[int, int], None] | None) -> int:
        with self.db.sessions.begin() as s:
            if s.scalar(select(func.count()).select_from(GuideRow)):
                return 0
            now = self.clock()
            for i, guide in enumerate(items, start=1):
                s.add(GuideRow(id=guide.id, status="published", published_number=1, head_number=1,
                               owner_department="", review_interval_days=365))
                s.add(GuideVersionRow(guide_id=guide.id, number=1, state="published",
                                      body=guide.model_dump(mode="json"), base_number=None, author=by,
                                      note=f"初始导入：knowledge_base/guides/{guide.id}.yaml",
                                      created_at=now, published_at=now))
                if progress is not None:
                    progress(i, len(items))
            self._audit(s, by, "seed", "", {"guides": len(items)})
        return len(items)

    def release(self, files: Iterable[Guide], *, by: str = "release") -> ReleaseReport:
        """Take in a new release of the shipped guide files. A guide whose newest version is still
        shipped text is published at the file's text; one an editor changed (or unpublished) keeps
        its text, and the file's text, if it differs from the last one taken in, is submitted for
        review, so a reviewer decides; a new file is published. Running it again changes nothing."""
        try:
            return self._release(list(files), by)
        except IntegrityError:  # another gateway took the same release in at the same moment
            return ReleaseReport()

    def _release(self, files: list[Guide], by: str) -> ReleaseReport:
        report = ReleaseReport()
        with self.db.sessions.begin() as s:
            now = self.clock()
            rows = {r.id: r for r in s.scalars(select(GuideRow))}
            shipped: dict[str, GuideVersionRow] = {}  # the newest version from the files, per guide
            for v in s.scalars(select(GuideVersionRow).where(GuideVersionRow.author.in_(SHIPPED))
                               .order_by(GuideVersionRow.number)):
                shipped[v.guide_id] = v
            for guide in files:
                body, row = guide.model_dump(mode="json"), rows.get(guide.id)
                note = f"新版指南文件：knowledge_base/guides/{guide.id}.yaml"
                if row is None:
                    self._publish_direct(s, self._new_row(s, guide.id), guide, by, note, now)
                    report.added.append(guide.id)
                    continue
                last = shipped.get(guide.id)
                if last is not None and last.body == body:
                    continue  # this release's text is already in (published, edited or declined)
                untouched = (last is not None and row.status == "published"
                             and row.head_number == row.published_number == last.number)
                if untouched:
                    self._publish_direct(s, row, guide, by, note, now)
                    report.updated.append(guide.id)
                else:
                    why = "与编辑修改不同，请审核：通过则采用文件版本，退回则保留现有版本"
                    v = self._append(s, row, guide, "submitted", by, f"{note}（{why}）", now)
                    report.offered.append(guide.id)
                    self._audit(s, by, "release_offer", guide.id, {"number": v.number})
            names = {g.id for g in files}
            report.missing.extend(sorted(gid for gid in shipped if gid not in names))
            if report.changed:
                self._audit(s, by, "release", "", {"updated": report.updated, "added": report.added,
                                                   "offered": report.offered})
        return report

    def save_draft(self, guide: Guide, *, author: str, note: str | None, base: int | None) -> VersionInfo:
        """A new draft of `guide` written from version `base` (None: a brand-new guide)."""
        text = _note(note)

        def change(s: Session, row: GuideRow | None, now: dt.datetime) -> GuideVersionRow:
            if row is not None and base is None:
                raise GuideRecordError("base_required", f"指南 {guide.id} 已存在：请说明基于哪一版修改 / "
                                       f"Guide {guide.id} exists: say which version the draft is based on.",
                                       {"current": row.head_number})
            row = row or self._new_row(s, guide.id)
            return self._append(s, row, guide, "draft", author, text, now)

        return self._write(guide.id, base, author, "draft", change)

    def update_draft(self, guide: Guide, number: int, *, author: str, note: str | None,
                     base: int | None) -> VersionInfo:
        """Save over an open draft (the newest version): its text and note change, its number stays."""
        text = _note(note)

        def change(s: Session, row: GuideRow | None, now: dt.datetime) -> GuideVersionRow:
            assert row is not None
            v = self._version_row(s, guide.id, number)
            if v.state != "draft" or number != row.head_number:
                raise GuideRecordError("not_a_draft", f"第 {number} 版不是可修改的草稿 / Version {number} "
                                       "is not an open draft.")
            v.body, v.note, v.author, v.created_at = guide.model_dump(mode="json"), text, author, now
            row.updated_at = now
            return v

        return self._write(guide.id, base, author, "update_draft", change, must_exist=True)

    def submit(self, guide_id: str, number: int, *, by: str) -> VersionInfo:
        """Send a draft for review."""
        def change(s: Session, row: GuideRow | None, now: dt.datetime) -> GuideVersionRow:
            v = self._version_row(s, guide_id, number)
            self._expect_state(v, ("draft",), "提交审核")
            v.state = "submitted"
            return v

        return self._write(guide_id, None, by, "submit", change, must_exist=True)

    def approve(self, guide_id: str, number: int, *, reviewer: str, comment: str | None = None,
                effective_at: dt.datetime | None = None) -> VersionInfo:
        """A second pair of eyes publishes a submitted version, now or on its 生效日期."""
        def change(s: Session, row: GuideRow | None, now: dt.datetime) -> GuideVersionRow:
            assert row is not None
            v = self._version_row(s, guide_id, number)
            self._expect_state(v, ("submitted",), "审核通过")
            if v.author == reviewer:
                raise GuideRecordError("same_reviewer", "不能审核自己写的版本，请另一位审核人审核 / "
                                       "You cannot approve your own version; another reviewer must.")
            v.reviewer, v.reviewed_at, v.review_comment = reviewer, now, (comment or "").strip() or None
            when = effective_at.astimezone(dt.timezone.utc) if effective_at else None
            if when is not None and when > now:
                v.state, v.effective_at = "scheduled", when
            else:
                self._publish(s, row, v, now)
            return v

        return self._write(guide_id, None, reviewer, "approve", change, must_exist=True)

    def reject(self, guide_id: str, number: int, *, reviewer: str, comment: str | None) -> VersionInfo:
        """Send a submitted version back with the reviewer's comment (required)."""
        text = _note(comment, "退回意见")

        def change(s: Session, row: GuideRow | None, now: dt.datetime) -> GuideVersionRow:
            v = self._version_row(s, guide_id, number)
            self._expect_state(v, ("submitted", "scheduled"), "退回")
            v.state, v.reviewer, v.reviewed_at, v.review_comment = "rejected", reviewer, now, text
            return v

        return self._write(guide_id, None, reviewer, "reject", change, must_exist=True)

    def publish_now(self, guide: Guide, *, by: str, note: str | None, base: int | None) -> VersionInfo:
        """The contract's PUT: a reviewer publishes a version at once (created if new)."""
        text = (note or "").strip() or "通过编辑接口直接发布（PUT /api/kb/guides）"

        def change(s: Session, row: GuideRow | None, now: dt.datetime) -> GuideVersionRow:
            return self._publish_direct(s, row or self._new_row(s, guide.id), guide, by, text, now)

        return self._write(guide.id, base, by, "publish", change)

    def publish_many(self, guides: Sequence[Guide], unpublish: Sequence[str] = (), *, by: str,
                     note: str) -> tuple[list[str], list[str], list[str]]:
        """An import, all or nothing: publish each guide whose text differs, unpublish the others
        named. Returns (created, replaced, unpublished) ids."""
        created: list[str] = []
        replaced: list[str] = []
        removed: list[str] = []
        with self.db.sessions.begin() as s:
            now = self.clock()
            published = self._published_bodies(s)
            for guide in guides:
                if published.get(guide.id) == guide.model_dump(mode="json"):
                    continue
                row = s.get(GuideRow, guide.id)
                (replaced if row is not None and row.status == "published" else created).append(guide.id)
                self._publish_direct(s, row or self._new_row(s, guide.id), guide, by, note, now)
            for guide_id in unpublish:
                row = s.get(GuideRow, guide_id)
                if row is None or row.status != "published":
                    continue
                self._unpublish(s, row, now)
                removed.append(guide_id)
            self._audit(s, by, "import", "", {"created": created, "replaced": replaced,
                                              "unpublished": removed, "note": note})
        return created, replaced, removed

    @staticmethod
    def _published_bodies(s: Session) -> dict[str, dict[str, Any]]:
        rows = s.execute(
            select(GuideVersionRow.guide_id, GuideVersionRow.body)
            .join(GuideRow, GuideRow.id == GuideVersionRow.guide_id)
            .where(GuideRow.status == "published", GuideVersionRow.number == GuideRow.published_number))
        return {gid: body for gid, body in rows}

    def unpublish(self, guide_id: str, *, by: str, note: str | None, base: int | None = None) -> GuideInfo:
        """Stop answering with a guide; its versions stay and it can be published again."""
        text = _note(note, "下线原因")

        def change(s: Session, row: GuideRow | None, now: dt.datetime) -> GuideVersionRow:
            assert row is not None
            if row.status != "published" or row.published_number is None:
                raise GuideRecordError("not_published", f"指南 {guide_id} 当前未发布 / Guide {guide_id} "
                                       "is not published.")
            return self._unpublish(s, row, now)

        self._write(guide_id, base, by, "unpublish", change, must_exist=True, detail={"note": text})
        return self.get(guide_id)

    def rollback(self, guide_id: str, number: int, *, by: str, note: str | None) -> VersionInfo:
        """Publish the text of an old version again, as a new version."""
        text = _note(note, "回滚原因")

        def change(s: Session, row: GuideRow | None, now: dt.datetime) -> GuideVersionRow:
            assert row is not None
            old = Guide.model_validate(self._version_row(s, guide_id, number).body)
            return self._publish_direct(s, row, old, by, f"回滚到第 {number} 版：{text}", now)

        return self._write(guide_id, None, by, "rollback", change, must_exist=True)

    def set_owner(self, guide_id: str, *, by: str, owner_department: str | None = None,
                  review_interval_days: int | None = None) -> GuideInfo:
        with self.db.sessions.begin() as s:
            row = s.get(GuideRow, guide_id)
            if row is None:
                raise _not_found(guide_id)
            if owner_department is not None:
                row.owner_department = owner_department.strip()[:100]
            if review_interval_days is not None:
                if not 1 <= review_interval_days <= 3650:
                    raise GuideRecordError("invalid_interval", "复核周期应为 1—3650 天 / The review interval "
                                           "must be 1-3650 days.")
                row.review_interval_days = review_interval_days
            self._audit(s, by, "set_owner", guide_id, {"owner_department": row.owner_department,
                                                      "review_interval_days": row.review_interval_days})
        return self.get(guide_id)

    def publish_due(self, *, by: str = "scheduler") -> list[VersionInfo]:
        """Publish every scheduled version whose 生效日期 has come (newest per guide wins)."""
        now = self.clock()
        done: list[VersionInfo] = []
        with self.db.sessions.begin() as s:
            due = s.scalars(select(GuideVersionRow).where(GuideVersionRow.state == "scheduled",
                                                          GuideVersionRow.effective_at <= now)
                            .order_by(GuideVersionRow.guide_id, GuideVersionRow.number)).all()
            for v in due:
                row = s.get(GuideRow, v.guide_id)
                assert row is not None
                if row.published_number is not None and row.published_number > v.number:
                    v.state = "superseded"  # a newer version was published meanwhile
                    continue
                self._publish(s, row, v, now)
                self._audit(s, by, "scheduled_publish", v.guide_id, {"number": v.number})
                done.append(VersionInfo.of(v))
        return done

    # -- inside a transaction ------------------------------------------------------------------
    def _write(self, guide_id: str, base: int | None, actor: str, action: str,
               change: Callable[[Session, GuideRow | None, dt.datetime], GuideVersionRow],
               *, must_exist: bool = False, detail: dict[str, Any] | None = None) -> VersionInfo:
        """One write: check the base version, change, audit, commit; a lost race is a conflict."""
        try:
            with self.db.sessions.begin() as s:
                row = s.get(GuideRow, guide_id)
                if row is None and must_exist:
                    raise _not_found(guide_id)
                if row is not None and base is not None and base != row.head_number:
                    raise self._conflict(s, row, base)
                if row is None and base not in (None, 0):
                    raise _not_found(guide_id)
                v = change(s, row, self.clock())
                s.flush()
                self._audit(s, actor, action, guide_id,
                            {"number": v.number, "state": v.state, "note": v.note, **(detail or {})})
                info = VersionInfo.of(v)
        except (StaleDataError, IntegrityError):
            with self.db.sessions() as s:
                row = s.get(GuideRow, guide_id)
                if row is None:
                    raise
                raise self._conflict(s, row, base) from None
        return info

    def _conflict(self, s: Session, row: GuideRow, base: int | None) -> GuideConflict:
        head = self._version_row(s, row.id, row.head_number)
        before = Guide.model_validate(self._version_row(s, row.id, base).body) if base else None
        return GuideConflict(row.id, base, row.head_number,
                             guide_diff(before, Guide.model_validate(head.body)), head.author)

    @staticmethod
    def _new_row(s: Session, guide_id: str) -> GuideRow:
        row = GuideRow(id=guide_id, status="new", published_number=None, head_number=0,
                       owner_department="", review_interval_days=365)
        s.add(row)
        return row

    @staticmethod
    def _append(s: Session, row: GuideRow, guide: Guide, state: str, author: str, note: str,
                now: dt.datetime) -> GuideVersionRow:
        base = row.head_number or None
        row.head_number += 1
        row.updated_at = now
        v = GuideVersionRow(guide_id=row.id, number=row.head_number, state=state,
                            body=guide.model_dump(mode="json"), base_number=base, author=author,
                            note=note, created_at=now)
        s.add(v)
        return v

    def _publish_direct(self, s: Session, row: GuideRow, guide: Guide, by: str, note: str,
                        now: dt.datetime) -> GuideVersionRow:
        """A new version published by the reviewer who wrote it (PUT, rollback, import)."""
        v = self._append(s, row, guide, "published", by, note[:MAX_NOTE], now)
        v.reviewer, v.reviewed_at = by, now
        self._publish(s, row, v, now)
        return v

    def _unpublish(self, s: Session, row: GuideRow, now: dt.datetime) -> GuideVersionRow:
        v = self._version_row(s, row.id, row.published_number)
        v.state, row.status, row.updated_at = "unpublished", "unpublished", now
        s.add(EventRow(at=now, kind=PUBLISH, service_id=row.id, outcome="unpublished", ref=str(v.number)))
        return v

    @staticmethod
    def _publish(s: Session, row: GuideRow, v: GuideVersionRow, now: dt.datetime) -> None:
        # The publish as an event of record (the service figures), in the same transaction.
        s.add(EventRow(at=now, kind=PUBLISH, service_id=row.id, agent=(v.reviewer or v.author)[:64],
                       outcome="new" if row.published_number is None else "changed", ref=str(v.number)))
        if row.published_number is not None and row.published_number != v.number:
            old = s.scalar(select(GuideVersionRow).where(GuideVersionRow.guide_id == row.id,
                                                         GuideVersionRow.number == row.published_number))
            if old is not None and old.state in ("published", "unpublished"):
                old.state = "superseded"
        v.state, v.published_at = "published", now
        row.published_number, row.status, row.updated_at = v.number, "published", now

    @staticmethod
    def _expect_state(v: GuideVersionRow, states: Sequence[str], doing: str) -> None:
        if v.state not in states:
            raise GuideRecordError("invalid_state", f"第 {v.number} 版当前为“{v.state}”，不能{doing} / "
                                   f"Version {v.number} is {v.state}: it cannot be {doing}.",
                                   {"state": v.state})

    @staticmethod
    def _version_row(s: Session, guide_id: str, number: int | None) -> GuideVersionRow:
        v = s.scalar(select(GuideVersionRow).where(GuideVersionRow.guide_id == guide_id,
                                                   GuideVersionRow.number == number)) if number else None
        if v is None:
            if s.get(GuideRow, guide_id) is None:
                raise _not_found(guide_id)
            raise _not_found(guide_id, number)
        return v

    def _audit(self, s: Session, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        s.add(AuditRow(at=self.clock(), actor=actor[:64], action=action[:32], target=target[:128],
                       detail=detail))

    @staticmethod
    def _info(row: GuideRow, versions: Sequence[GuideVersionRow]) -> GuideInfo:
        by_number = {v.number: v for v in versions}
        published = by_number.get(row.published_number or -1) if row.status == "published" else None
        head = by_number[row.head_number]
        open_versions = [VersionInfo.of(v) for v in sorted(versions, key=lambda v: v.number)
                         if v.state in DRAFTING]
        return GuideInfo(row.id, row.status, row.published_number, row.head_number, row.owner_department,
                         row.review_interval_days, _utc(row.updated_at) or utcnow(),
                         Guide.model_validate(published.body) if published is not None else None,
                         VersionInfo.of(head), open_versions)
