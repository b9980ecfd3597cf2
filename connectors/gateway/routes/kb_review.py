"""Drafts, review, history and audit of the guides of record (the editors' workspace API).

An `editor` writes drafts (seen only in these routes, never by citizens) and submits them; a
`reviewer` other than the author approves — published at once, or on its 生效日期 — or rejects with
a comment, unpublishes, rolls back to any version. Every version is kept with who, when and why;
`/diff` shows what changed section by section; a draft written from an outdated version is refused
with 409 and what changed meanwhile. Every write and login is in the audit log (`/audit`, JSON or
CSV). Errors of the records layer map to HTTP in errors.py (GUIDE_RECORD_STATUS).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from connectors.gateway.csv_export import csv_response
from connectors.gateway.deps import EditorUser, ReviewerUser, StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.routes.kb import _check_live_channel, _db, _go_live, _invalid, _json_body, log
from knowledge_base.schema import Guide
from knowledge_base.validation import FieldError, parse_guide
from records.guides import GuideRecordError, VersionInfo, digest, digest_text

router = APIRouter(prefix="/api/kb", tags=["knowledge editors: drafts and review"])
Note = Annotated[str, Field(max_length=500, description="why (required: rejects, rollbacks, unpublishing)")]


MAX_VERSION = 1_000_000
VersionNo = Annotated[int, Path(ge=1, le=MAX_VERSION, description="a version number of the guide")]
OlderVersion = Annotated[int | None, Query(alias="from", ge=1, le=MAX_VERSION, description="older version")]


class VersionOut(BaseModel):
    guide_id: str
    number: int
    state: str
    title: str
    base_number: int | None
    author: str
    note: str
    created_at: str
    reviewer: str | None
    reviewed_at: str | None
    review_comment: str | None
    effective_at: str | None
    published_at: str | None
    live: bool | None = None  # after a publish: the chat already answers with it

    @classmethod
    def of(cls, v: VersionInfo, live: bool | None = None) -> VersionOut:
        return cls(guide_id=v.guide_id, live=live, **v.summary())


class Review(BaseModel):
    comment: Note | None = None
    effective_at: dt.datetime | None = Field(
        default=None, description="生效日期: publish on this date and time (ISO 8601), not now")


class Reason(BaseModel):
    comment: Note | None = None
    note: Note | None = None


class Rollback(BaseModel):
    number: int = Field(ge=1, le=1_000_000)
    note: Note


class Owner(BaseModel):
    owner_department: Annotated[str, Field(max_length=100)] | None = None
    review_interval_days: Annotated[int, Field(ge=1, le=3650)] | None = None


async def _draft_body(request: Request, guide_id: str) -> tuple[Guide, str | None, int | None]:
    """{"guide": {...}, "note": "...", "base": N}: the guide checked field by field (422 naming each)."""
    data = await _json_body(request)
    if not isinstance(data, dict) or not isinstance(data.get("guide"), dict):
        raise ApiError(422, "invalid_draft", '草稿应为 {"guide": {…}, "note": "修改说明", "base": 版本号} / '
                       'A draft is {"guide": {...}, "note": "...", "base": N}.')
    guide, errors = parse_guide(data["guide"], path_id=guide_id, prefix="guide")
    note, base = data.get("note"), data.get("base")
    if note is not None and not isinstance(note, str):
        errors.append(FieldError("note", "修改说明应为文字 / note must be text"))
    if base is not None and (not isinstance(base, int) or isinstance(base, bool) or base < 0):
        errors.append(FieldError("base", "base 应为草稿所基于的版本号 / base must be a version number"))
    if guide is None or errors:
        raise _Refused(errors)
    return guide, note, base


class _Refused(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors


async def _guarded(coro: Any) -> Any:
    try:
        return await coro
    except _Refused as exc:
        return _invalid(exc.errors, "草稿")


@router.post("/guides/{guide_id}/drafts", response_model=VersionOut, status_code=201,
             responses={409: {"description": "written from an outdated version: error.detail.changes"}})
async def create_draft(guide_id: str, request: Request, state: StateDep, user: EditorUser) -> Response:
    """A new draft (of a new guide, or of an existing one from version `base`)."""
    async def run() -> Response:
        guide, note, base = await _draft_body(request, guide_id)
        v = await _db(state.guides.save_draft, guide, author=user.username, note=note, base=base)
        return JSONResponse(VersionOut.of(v).model_dump(), status_code=201)
    return await _guarded(run())  # type: ignore[no-any-return]


@router.put("/guides/{guide_id}/drafts/{number}", response_model=VersionOut)
async def update_draft(guide_id: str, number: VersionNo, request: Request, state: StateDep,
                       user: EditorUser) -> Response:
    """Save over an open draft (it must still be the newest version; `base` = its number)."""
    async def run() -> Response:
        guide, note, base = await _draft_body(request, guide_id)
        v = await _db(state.guides.update_draft, guide, number, author=user.username, note=note,
                      base=base if base is not None else number)
        return JSONResponse(VersionOut.of(v).model_dump())
    return await _guarded(run())  # type: ignore[no-any-return]


@router.post("/guides/{guide_id}/versions/{number}/submit", response_model=VersionOut)
async def submit_version(guide_id: str, number: VersionNo, state: StateDep, user: EditorUser) -> VersionOut:
    """Send a draft for review."""
    return VersionOut.of(await _db(state.guides.submit, guide_id, number, by=user.username))


@router.post("/guides/{guide_id}/versions/{number}/approve", response_model=VersionOut)
async def approve_version(guide_id: str, number: VersionNo, body: Review, state: StateDep,
                          user: ReviewerUser) -> VersionOut:
    """Publish a submitted version (another person than its author), now or on `effective_at`."""
    when = body.effective_at
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Shanghai wall-clock time
    await _check_live_channel(state)
    v = await _db(state.guides.approve, guide_id, number, reviewer=user.username, comment=body.comment,
                  effective_at=when)
    live = None
    if v.state == "published":
        _, live = await _go_live(state, user.username)
    log.info("guide %s version %d %s by %s", guide_id, number, v.state, user.username)
    return VersionOut.of(v, live)


@router.post("/guides/{guide_id}/versions/{number}/reject", response_model=VersionOut)
async def reject_version(guide_id: str, number: VersionNo, body: Reason, state: StateDep,
                         user: ReviewerUser) -> VersionOut:
    """Send a submitted (or scheduled) version back with a comment (required)."""
    return VersionOut.of(await _db(state.guides.reject, guide_id, number, reviewer=user.username,
                                   comment=body.comment or body.note))


@router.post("/guides/{guide_id}/rollback", response_model=VersionOut)
async def rollback_guide(guide_id: str, body: Rollback, state: StateDep, user: ReviewerUser) -> VersionOut:
    """Publish the text of version `number` again, as a new version."""
    await _check_live_channel(state)
    v = await _db(state.guides.rollback, guide_id, body.number, by=user.username, note=body.note)
    _, live = await _go_live(state, user.username)
    return VersionOut.of(v, live)


@router.post("/guides/{guide_id}/unpublish")
async def unpublish_guide(guide_id: str, body: Reason, state: StateDep, user: ReviewerUser) -> dict[str, Any]:
    """Stop answering with a guide (its versions stay; publish one again to bring it back)."""
    await _check_live_channel(state)
    info = await _db(state.guides.unpublish, guide_id, by=user.username, note=body.note or body.comment)
    _, live = await _go_live(state, user.username)
    return {"id": guide_id, "status": info.status, "live": live}


@router.patch("/guides/{guide_id}/owner")
async def set_owner(guide_id: str, body: Owner, state: StateDep, user: ReviewerUser) -> dict[str, Any]:
    """Who keeps the guide and how often it must be reviewed."""
    info = await _db(state.guides.set_owner, guide_id, by=user.username,
                     owner_department=body.owner_department, review_interval_days=body.review_interval_days)
    due = info.review_due()
    return {"id": guide_id, "owner_department": info.owner_department,
            "review_interval_days": info.review_interval_days,
            "review_due": due.isoformat() if due else None, "stale": info.stale(dt.date.today())}


@router.get("/guides/{guide_id}/history", response_model=list[VersionOut])
async def guide_history(guide_id: str, state: StateDep, _: EditorUser) -> list[VersionOut]:
    """Every version, newest first, with who, when, why and its review."""
    return [VersionOut.of(v) for v in await _db(state.guides.history, guide_id)]


@router.get("/guides/{guide_id}/versions/{number}")
async def guide_version(guide_id: str, number: VersionNo, state: StateDep, _: EditorUser) -> dict[str, Any]:
    """One version with its text."""
    v = await _db(state.guides.version, guide_id, number)
    return {**VersionOut.of(v).model_dump(), "guide": v.guide.model_dump(mode="json")}


@router.get("/guides/{guide_id}/diff")
async def guide_diff(guide_id: str, state: StateDep, _: EditorUser,
                     to: Annotated[int, Query(ge=1, le=MAX_VERSION, description="the newer version")],
                     from_: OlderVersion = None) -> dict[str, Any]:
    """What changed between two versions, section by section."""
    old = from_ if from_ is not None else (to - 1 or None)
    changes = await _db(state.guides.diff, guide_id, old, to)
    return {"id": guide_id, "from": old, "to": to, "changes": changes}


class Attach(BaseModel):
    guide_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]


class Resolve(BaseModel):
    guide_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")] | None = None


class Merge(BaseModel):
    into: int = Field(ge=1)
    groups: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=100)


InboxId = Annotated[int, Path(ge=1, le=2**31 - 1, description="an inbox group")]


@router.get("/inbox")
async def inbox(state: StateDep, _: EditorUser,
                status: Annotated[Literal["open", "attached", "out_of_scope", "drafted", "merged", "all"],
                                  Query()] = "open",
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Questions 小申 could not answer well, grouped, most frequent first (personal data masked)."""
    groups = await _db(state.inbox.groups, None if status == "all" else status, limit)
    return {"count": len(groups), "groups": [g.as_dict() for g in groups]}


@router.get("/inbox/{group_id}")
async def inbox_group(group_id: InboxId, state: StateDep, _: EditorUser) -> dict[str, Any]:
    group = await _db(state.inbox.group, group_id)
    return {**group.as_dict(), "questions": await _db(state.inbox.questions, group_id)}


@router.post("/inbox/{group_id}/attach")
async def inbox_attach(group_id: InboxId, body: Attach, state: StateDep, user: EditorUser) -> dict[str, Any]:
    """Add the group's questions to a guide's sample questions: published at once (sample questions
    steer search only; the text citizens read does not change), as a new version, audited."""
    await _check_live_channel(state)
    questions = await _db(state.inbox.questions, group_id)
    info = await _db(state.guides.get, body.guide_id)
    if info.published is None:
        raise ApiError(409, "not_published",
                       "只能加入已发布的指南 / Only a published guide takes sample questions.")
    have = set(info.published.sample_questions)
    added = [q for q in questions if q not in have][: max(0, 200 - len(have))]
    v = None
    live = True
    if added:
        samples = [*info.published.sample_questions, *added]
        guide = Guide.model_validate({**info.published.model_dump(), "sample_questions": samples})
        v = await _db(state.guides.publish_now, guide, by=user.username,
                      note=f"收件箱问题组 {group_id}：加入 {len(added)} 条示例问题", base=info.head_number)
        _, live = await _go_live(state, user.username)
    group = await _db(state.inbox.resolve, group_id, "attached", by=user.username, guide_id=body.guide_id)
    await _db(state.guides.record, user.username, "inbox_attach", body.guide_id, group=group_id,
              added=len(added))
    return {**group.as_dict(), "added": added, "version": v.number if v else info.head_number, "live": live}


@router.post("/inbox/{group_id}/out-of-scope")
async def inbox_out_of_scope(group_id: InboxId, state: StateDep, user: EditorUser) -> dict[str, Any]:
    """Not a service of ours: the group leaves the open inbox, and from now on 小申 answers its
    questions (and ones nearly the same) with a plain "not a service I can answer"."""
    await _check_live_channel(state)
    group = await _db(state.inbox.resolve, group_id, "out_of_scope", by=user.username)
    await _db(state.guides.record, user.username, "inbox_out_of_scope", "", group=group_id)
    _, live = await _go_live(state, user.username)
    return {**group.as_dict(), "live": live}


@router.post("/inbox/{group_id}/drafted")
async def inbox_drafted(group_id: InboxId, body: Resolve, state: StateDep,
                        user: EditorUser) -> dict[str, Any]:
    """A new guide is being drafted for the group (its id given): it leaves the open inbox."""
    group = await _db(state.inbox.resolve, group_id, "drafted", by=user.username, guide_id=body.guide_id)
    await _db(state.guides.record, user.username, "inbox_drafted", body.guide_id or "", group=group_id)
    return group.as_dict()


@router.post("/inbox/{group_id}/reopen")
async def inbox_reopen(group_id: InboxId, state: StateDep, user: EditorUser) -> dict[str, Any]:
    await _check_live_channel(state)  # reopening lifts an out-of-scope mark on the live channel
    group = await _db(state.inbox.reopen, group_id, by=user.username)
    await _db(state.guides.record, user.username, "inbox_reopen", "", group=group_id)
    _, live = await _go_live(state, user.username)  # an out-of-scope mark is lifted
    return {**group.as_dict(), "live": live}


@router.post("/inbox/merge")
async def inbox_merge(body: Merge, state: StateDep, user: EditorUser) -> dict[str, Any]:
    """Merge groups that ask the same thing into one."""
    group = await _db(state.inbox.merge, body.into, body.groups, by=user.username)
    await _db(state.guides.record, user.username, "inbox_merge", "", into=body.into, groups=body.groups)
    return group.as_dict()


@router.get("/digest")
async def freshness_digest(state: StateDep, _: EditorUser,
                           format: Annotated[Literal["json", "text"], Query()] = "json") -> Response:
    """The weekly freshness digest: guides past their review date or due within 30 days, by owner."""
    report = digest(await _db(state.guides.list_all), dt.date.today())
    if format == "text":
        return Response(digest_text(report), media_type="text/plain; charset=utf-8")
    return JSONResponse(report)


@router.get("/review")
async def review_queue(state: StateDep, _: EditorUser) -> dict[str, Any]:
    """Versions waiting for a reviewer, oldest first, each with what it changes."""
    queue = await _db(state.guides.review_queue)
    items = []
    for v in queue:
        try:
            info = await _db(state.guides.get, v.guide_id)
            old = info.published_number
        except GuideRecordError:
            old = None
        changes = await _db(state.guides.diff, v.guide_id, old, v.number)
        items.append({**VersionOut.of(v).model_dump(), "against": old, "changes": changes})
    return {"count": len(items), "items": items}


@router.get("/audit")
async def audit_log(state: StateDep, _: ReviewerUser,
                    format: Annotated[Literal["json", "csv"], Query()] = "json",
                    since: Annotated[dt.datetime | None, Query()] = None) -> Response:
    """The append-only audit log of every write and login, as JSON or a CSV download."""
    entries = await _db(state.guides.audit, since=since)
    if format == "json":
        return JSONResponse({"count": len(entries), "entries": entries})
    return csv_response(["时间 at", "操作人 actor", "操作 action", "对象 target", "详情 detail"],
                        ([e["at"], e["actor"], e["action"], e["target"], e["detail"]] for e in entries),
                        "xiaoshen-audit.csv")
