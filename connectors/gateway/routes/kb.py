"""The knowledge editors' API (contract part): list, read, publish, delete, export and import guides.

The guides of record live in the database (records/guides.py: every version, who, when, why);
Redis is only the live channel to the action servers (knowledge_base.overlay), which answer with a
published change within about a second, without retraining. Reading needs the `editor` role; these
routes publish at once and need `reviewer` (admins hold every role); drafts and review have their
own routes (routes/kb_review.py). A write waits (up to KB_APPLY_WAIT_S) until the chat uses it and
says so in `live`. `ETag`/`If-Match` (the guide's newest version number) protect against
overwriting a colleague's change; `X-Change-Note` says why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from redis.exceptions import RedisError

from connectors.gateway.deps import EditorUser, ReviewerUser, StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.state import AppState
from knowledge_base import exchange
from knowledge_base.overlay import AsyncOverlay, seed_guides
from knowledge_base.schema import GUIDE_ID_PATTERN, Guide
from knowledge_base.validation import FieldError, parse_guide, parse_guides, summary
from records.guides import GuideConflict, GuideInfo, GuideRecordError

log = logging.getLogger("xiaoshen.kb")
router = APIRouter(prefix="/api/kb", tags=["knowledge editors"])

T = TypeVar("T")
IfMatch = Annotated[str | None, Header(alias="If-Match", description='the ETag read with GET, e.g. "12"')]


class GuideSummary(BaseModel):
    id: str
    title: str
    audience: str
    theme: str
    reviewed: str
    source: str
    origin: Literal["file", "edited"]  # file: still the shipped text (from the guide files)
    version: int  # the newest version number (send it back as If-Match / base)
    status: Literal["published", "unpublished", "new"]
    published_version: int | None
    open_drafts: int  # drafts and submitted versions
    owner_department: str
    review_due: str | None
    stale: bool  # past its review date
    updated_at: str | None
    updated_by: str | None

    @classmethod
    def of(cls, info: GuideInfo, today: dt.date) -> GuideSummary:
        g = info.published or info.head.guide
        seeded = info.seeded
        due = info.review_due()
        return cls(id=info.id, title=g.title, audience=g.audience, theme=g.theme,
                   reviewed=g.reviewed.isoformat(), source=g.source, origin="file" if seeded else "edited",
                   version=info.head_number, status=info.status,  # type: ignore[arg-type]
                   published_version=info.published_number, open_drafts=len(info.open_versions),
                   owner_department=info.owner_department, review_due=due.isoformat() if due else None,
                   stale=info.stale(today), updated_at=None if seeded else info.head.created_at.isoformat(),
                   updated_by=None if seeded else info.head.author)


class GuideList(BaseModel):
    guides: list[GuideSummary]
    count: int
    version: int | None  # the live channel's version, bumped by every publish (None: Redis down)
    live_version: int | None  # the version the chat answers with (None: Redis down)


class WriteOut(BaseModel):
    id: str
    op: Literal["created", "replaced", "deleted", "reverted", "unchanged"]
    version: int  # the guide's newest version number
    live: bool  # the chat already answers with this change


class ImportOut(BaseModel):
    created: list[str]
    replaced: list[str]
    deleted: list[str]
    unchanged: int
    version: int
    live: bool


def _overlay(state: AppState) -> AsyncOverlay:
    return AsyncOverlay(state.redis)


def _unavailable(exc: Exception) -> ApiError:
    log.warning("knowledge overlay unavailable: %s", exc)
    return ApiError(503, "redis_unavailable", "指南存储暂时不可用，未做任何修改 / "
                    "Guide storage (Redis) is unavailable; nothing was changed.")


def _not_found(guide_id: str) -> ApiError:
    return ApiError(404, "guide_not_found", f"没有 id 为 {guide_id} 的指南 / No guide with id {guide_id}.")


def _invalid(errors: list[FieldError], what: str = "指南") -> JSONResponse:
    body = {"error": {"code": "invalid_guide", "message": summary(errors, what),
                      "fields": [e.as_dict() for e in errors]}}
    return JSONResponse(body, status_code=422)


def _etag(version: int) -> str:
    return f'"{version}"'


def _expected(if_match: str | None) -> int | None:
    """The version an If-Match names (None: no precondition)."""
    if if_match is None or if_match.strip() == "*":
        return None
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise ApiError(400, "invalid_if_match", 'If-Match 应为 GET 返回的 ETag，如 "12" / '
                       'If-Match must be an ETag from GET, e.g. "12".') from None


def _precondition_failed(exc: GuideConflict) -> ApiError:
    return ApiError(412, "version_conflict",
                    f"指南已被他人修改（当前版本 {exc.current}），请重新读取后再改 / "
                    f"The guide was changed meanwhile (now version {exc.current}); reload it and retry.",
                    detail=exc.detail)


async def _db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A call into the guides of record, off the event loop (its errors map in errors.py)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def _check_live_channel(state: AppState) -> None:
    """Refuse a write before touching the database when the live channel is down."""
    try:
        await _overlay(state).applied()
    except RedisError as exc:
        raise _unavailable(exc) from exc


async def _go_live(state: AppState, by: str) -> tuple[int, bool]:
    """Mirror the published guides to the action servers and wait until the chat uses them."""
    version, changed = await state.sync_guides(by=by)
    if not changed:
        return version, True
    try:
        live = await _overlay(state).wait_applied(version, state.settings.kb_apply_wait_s)
    except RedisError:
        live = False
    return version, live


async def _raw_body(request: Request) -> bytes:
    """The body: 413 beyond the limit (also without a Content-Length)."""
    limit = request.app.state.xs.settings.kb_max_body_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"请求体过大（上限 {limit} 字节）/ Request body too large.")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request) -> Any:
    """The decoded body: 413 beyond the limit, 400 if not JSON."""
    raw = await _raw_body(request)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json",
                       "请求体不是有效的 JSON / The request body is not valid JSON.") from None


def _valid_id(guide_id: str) -> bool:
    return re.fullmatch(GUIDE_ID_PATTERN, guide_id) is not None


def _parsed(data: Any, guide_id: str) -> tuple[Guide | None, JSONResponse | None]:
    guide, errors = parse_guide(data, path_id=guide_id)
    if guide is None:
        if not _valid_id(guide_id) and not any(e.field == "id" for e in errors):
            errors.insert(0, FieldError("id", "id 只能用小写字母、数字和连字符 / invalid id in the URL"))
        return None, _invalid(errors)
    return guide, None


async def _info_or_none(state: AppState, guide_id: str) -> GuideInfo | None:
    try:
        return await _db(state.guides.get, guide_id)
    except GuideRecordError as exc:
        if exc.code == "guide_not_found":
            return None
        raise


@router.get("/guides", response_model=GuideList)
async def list_guides(state: StateDep, _: EditorUser) -> GuideList:
    """Every guide of record: published, unpublished or new, with drafts, owner and freshness."""
    infos = await _db(state.guides.list_all)
    version: int | None = None
    live: int | None = None
    try:
        overlay = _overlay(state)
        version, live = (await overlay.snapshot()).version, await overlay.applied()
    except RedisError as exc:  # the record is readable without the live channel
        log.warning("guide list without the live channel's version: %s", exc)
    today = dt.date.today()
    items = [GuideSummary.of(i, today) for i in infos]
    return GuideList(guides=items, count=len(items), version=version, live_version=live)


@router.get("/guides/{guide_id}")
async def get_guide(guide_id: str, state: StateDep, _: EditorUser) -> Response:
    """The published guide as the contract's JSON; its newest version number in the ETag header
    (send it back as If-Match). Unpublished and new guides: their versions under /history."""
    info = await _info_or_none(state, guide_id)
    if info is None or info.published is None:
        raise _not_found(guide_id)
    guide = info.published
    origin = "file" if info.seeded else "edited"
    return JSONResponse(guide.model_dump(mode="json"),
                        headers={"ETag": _etag(info.head_number), "X-Guide-Origin": origin,
                                 "X-Guide-Status": info.status})


@router.put("/guides/{guide_id}", response_model=WriteOut,
            responses={201: {"model": WriteOut}, 422: {"description": "invalid guide, each field named"}})
async def put_guide(guide_id: str, request: Request, state: StateDep, user: ReviewerUser,
                    if_match: IfMatch = None,
                    note: Annotated[str | None, Header(alias="X-Change-Note")] = None) -> Response:
    """Create or replace a guide and publish it at once (the body's id, if given, must match the URL)."""
    expected = _expected(if_match)
    guide, refused = _parsed(await _json_body(request), guide_id)
    if refused is not None:
        return refused
    assert guide is not None
    current = await _info_or_none(state, guide_id)
    if (current is not None and current.published == guide
            and expected in (None, current.head_number)):
        return JSONResponse(WriteOut(id=guide_id, op="unchanged", version=current.head_number,
                                     live=True).model_dump())
    await _check_live_channel(state)
    try:
        v = await _db(state.guides.publish_now, guide, by=user.username, note=note, base=expected)
    except GuideConflict as exc:
        raise _precondition_failed(exc) from exc
    _, live = await _go_live(state, user.username)
    op: Literal["created", "replaced"] = "replaced" if current is not None else "created"
    log.info("guide %s %s by %s (version %d, live %s)", guide_id, op, user.username, v.number, live)
    out = WriteOut(id=guide_id, op=op, version=v.number, live=live)
    return JSONResponse(out.model_dump(), status_code=201 if op == "created" else 200,
                        headers={"ETag": _etag(v.number)})


@router.delete("/guides/{guide_id}", response_model=WriteOut)
async def delete_guide(guide_id: str, state: StateDep, user: ReviewerUser, if_match: IfMatch = None,
                       note: Annotated[str | None, Header(alias="X-Change-Note")] = None) -> WriteOut:
    """Stop answering with a guide (unpublish: its versions are kept); 404 if none is published."""
    expected = _expected(if_match)
    await _check_live_channel(state)
    info = await _info_or_none(state, guide_id)
    if info is None or info.status != "published":
        raise _not_found(guide_id)
    try:
        after = await _db(state.guides.unpublish, guide_id, by=user.username,
                          note=note or "通过编辑接口删除（DELETE /api/kb/guides）", base=expected)
    except GuideConflict as exc:
        raise _precondition_failed(exc) from exc
    _, live = await _go_live(state, user.username)
    log.info("guide %s unpublished by %s (live %s)", guide_id, user.username, live)
    return WriteOut(id=guide_id, op="deleted", version=after.head_number, live=live)


@router.post("/guides/{guide_id}/revert", response_model=WriteOut)
async def revert_guide(guide_id: str, state: StateDep, user: ReviewerUser) -> WriteOut:
    """Publish the shipped text of a guide again (the text of its file in this release)."""
    await _check_live_channel(state)
    files = await asyncio.to_thread(seed_guides)
    info = await _info_or_none(state, guide_id)
    if guide_id not in files or info is None:
        raise ApiError(404, "guide_not_found",
                       f"没有 id 为 {guide_id} 的文件指南可恢复 / No file guide {guide_id} to revert to.")
    if info.status == "published" and info.published == files[guide_id]:
        return WriteOut(id=guide_id, op="unchanged", version=info.head_number, live=True)
    v = await _db(state.guides.publish_now, files[guide_id], by=user.username,
                  note="恢复为随版本发布的指南文件", base=None)
    _, live = await _go_live(state, user.username)
    log.info("guide %s reverted to its file by %s (version %d)", guide_id, user.username, v.number)
    return WriteOut(id=guide_id, op="reverted", version=v.number, live=live)


@router.get("/export")
async def export_guides(state: StateDep, _: EditorUser,
                        format: Annotated[exchange.Format, Query()] = "json") -> Response:
    """Every published guide, as a JSON array (the import format), YAML or a spreadsheet."""
    published = await _db(state.guides.published)
    body = await asyncio.to_thread(exchange.dump, [g for _, g in sorted(published.items())], format)
    return Response(body, media_type=exchange.MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="xiaoshen-guides.{format}"'})


@router.post("/import", response_model=ImportOut,
             responses={422: {"description": "invalid guides, each field named; nothing imported"}})
async def import_guides(request: Request, state: StateDep, user: ReviewerUser,
                        mode: Annotated[Literal["merge", "replace"], Query()] = "merge",
                        format: Annotated[exchange.Format | None, Query()] = None) -> Response:
    """Create or replace many guides at once, all or nothing; `mode=replace` also unpublishes the rest.

    The body is a JSON array, YAML or an .xlsx spreadsheet (by `format` or Content-Type; JSON if
    neither says); every bad row and field is reported and nothing is imported."""
    fmt = exchange.format_of(request.headers.get("content-type"), format) or "json"
    if fmt == "json":
        guides, errors = parse_guides(await _json_body(request))
    else:
        guides, errors = await asyncio.to_thread(exchange.load, await _raw_body(request), fmt)
    if errors:
        return _invalid(errors, "导入的指南")
    await _check_live_channel(state)
    published = await _db(state.guides.published)
    incoming = {g.id for g in guides}
    gone = sorted(set(published) - incoming) if mode == "replace" else []
    created, replaced, deleted = await _db(state.guides.publish_many, guides, gone, by=user.username,
                                           note=f"批量导入（{mode}，{len(guides)} 篇）")
    version, live = (0, True)
    if created or replaced or deleted:
        version, live = await _go_live(state, user.username)
    log.info("import by %s: %d created, %d replaced, %d deleted (version %d)", user.username,
             len(created), len(replaced), len(deleted), version)
    out = ImportOut(created=created, replaced=replaced, deleted=deleted,
                    unchanged=len(guides) - len(created) - len(replaced), version=version, live=live)
    return JSONResponse(out.model_dump())
