"""The knowledge editors' API: list, read, create or replace, delete, export and import guides.

Guides are the YAML files plus the editors' overlay in Redis (knowledge_base.overlay); a write is
published to the action server, which answers with it within about a second, without retraining.
Reading needs the `editor` role; writing publishes at once and needs `reviewer` (admins hold
every role; drafts and review come with the editors' workspace). A write waits (up to
KB_APPLY_WAIT_S) until the chat uses it and says so in `live`. `ETag`/`If-Match` protect against
overwriting a colleague's change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from redis.exceptions import RedisError

from connectors.gateway.deps import EditorUser, ReviewerUser, StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.state import AppState
from knowledge_base.overlay import AsyncOverlay, Entry, Snapshot, VersionConflict, seed_guides
from knowledge_base.schema import GUIDE_ID_PATTERN
from knowledge_base.validation import FieldError, parse_guide, parse_guides, summary

log = logging.getLogger("xiaoshen.kb")
router = APIRouter(prefix="/api/kb", tags=["knowledge editors"])

IfMatch = Annotated[str | None, Header(alias="If-Match", description='the ETag read with GET, e.g. "12"')]


class GuideSummary(BaseModel):
    id: str
    title: str
    audience: str
    theme: str
    reviewed: str
    source: str
    origin: Literal["file", "edited"]
    version: int
    updated_at: str | None
    updated_by: str | None

    @classmethod
    def of(cls, entry: Entry) -> GuideSummary:
        g, meta = entry.guide, entry.meta
        return cls(id=g.id, title=g.title, audience=g.audience, theme=g.theme,
                   reviewed=g.reviewed.isoformat(), source=g.source, origin=entry.origin,
                   version=meta.version, updated_at=meta.updated_at, updated_by=meta.updated_by)


class GuideList(BaseModel):
    guides: list[GuideSummary]
    count: int
    version: int  # the overlay's version: bumped by every write
    live_version: int  # the version the chat answers with


class WriteOut(BaseModel):
    id: str
    op: Literal["created", "replaced", "deleted", "reverted", "unchanged"]
    version: int
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


def _conflict(exc: VersionConflict) -> ApiError:
    return ApiError(412, "version_conflict",
                    f"指南已被他人修改（当前版本 {exc.current}），请重新读取后再改 / "
                    f"The guide was changed meanwhile (now version {exc.current}); reload it and retry.")


async def _view(state: AppState) -> tuple[Snapshot, dict[str, Entry]]:
    files = await asyncio.to_thread(seed_guides)  # parsed once per process
    try:
        snap = await _overlay(state).snapshot()
    except RedisError as exc:
        raise _unavailable(exc) from exc
    return snap, snap.merged(files)


async def _json_body(request: Request) -> Any:
    """The decoded body: 413 beyond the limit (also without a Content-Length), 400 if not JSON."""
    limit = request.app.state.xs.settings.kb_max_body_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"请求体过大（上限 {limit} 字节）/ Request body too large.")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json",
                       "请求体不是有效的 JSON / The request body is not valid JSON.") from None


async def _live(state: AppState, version: int) -> bool:
    try:
        return await _overlay(state).wait_applied(version, state.settings.kb_apply_wait_s)
    except RedisError:
        return False


def _valid_id(guide_id: str) -> bool:
    return re.fullmatch(GUIDE_ID_PATTERN, guide_id) is not None


@router.get("/guides", response_model=GuideList)
async def list_guides(state: StateDep, _: EditorUser) -> GuideList:
    """Every guide the chat answers from, with where it comes from (file or edited)."""
    snap, view = await _view(state)
    try:
        live = await _overlay(state).applied()
    except RedisError as exc:
        raise _unavailable(exc) from exc
    items = [GuideSummary.of(e) for e in view.values()]
    return GuideList(guides=items, count=len(items), version=snap.version, live_version=live)


@router.get("/guides/{guide_id}")
async def get_guide(guide_id: str, state: StateDep, _: EditorUser) -> Response:
    """One guide as the contract's JSON; its version in the ETag header (send it back as If-Match)."""
    view = (await _view(state))[1]
    entry = view.get(guide_id)
    if entry is None:
        raise _not_found(guide_id)
    return JSONResponse(entry.guide.model_dump(mode="json"),
                        headers={"ETag": _etag(entry.meta.version), "X-Guide-Origin": entry.origin})


@router.put("/guides/{guide_id}", response_model=WriteOut,
            responses={201: {"model": WriteOut}, 422: {"description": "invalid guide, each field named"}})
async def put_guide(guide_id: str, request: Request, state: StateDep, user: ReviewerUser,
                    if_match: IfMatch = None) -> Response:
    """Create or replace a guide (the body's id, if given, must match the URL)."""
    expected = _expected(if_match)
    data = await _json_body(request)
    guide, errors = parse_guide(data, path_id=guide_id)
    if guide is None:
        if not _valid_id(guide_id) and not any(e.field == "id" for e in errors):
            errors.insert(0, FieldError("id", "id 只能用小写字母、数字和连字符 / invalid id in the URL"))
        return _invalid(errors)
    _, view = await _view(state)
    current = view.get(guide_id)
    if current is not None and current.guide == guide and expected in (None, current.meta.version):
        return JSONResponse(WriteOut(id=guide_id, op="unchanged", version=current.meta.version,
                                     live=True).model_dump())
    try:
        version = await _overlay(state).write("upsert", guide_id, guide, by=user.username, expected=expected)
    except VersionConflict as exc:
        raise _conflict(exc) from exc
    except RedisError as exc:
        raise _unavailable(exc) from exc
    op: Literal["created", "replaced"] = "replaced" if current is not None else "created"
    live = await _live(state, version)
    log.info("guide %s %s by %s (version %d, live %s)", guide_id, op, user.username, version, live)
    out = WriteOut(id=guide_id, op=op, version=version, live=live)
    return JSONResponse(out.model_dump(), status_code=201 if op == "created" else 200,
                        headers={"ETag": _etag(version)})


@router.delete("/guides/{guide_id}", response_model=WriteOut)
async def delete_guide(guide_id: str, state: StateDep, user: ReviewerUser,
                       if_match: IfMatch = None) -> WriteOut:
    """Delete a guide (a file guide too: it stays hidden until reverted); 404 if there is none."""
    expected = _expected(if_match)
    _, view = await _view(state)
    if guide_id not in view:
        raise _not_found(guide_id)
    try:
        version = await _overlay(state).write("delete", guide_id, by=user.username, expected=expected)
    except VersionConflict as exc:
        raise _conflict(exc) from exc
    except RedisError as exc:
        raise _unavailable(exc) from exc
    live = await _live(state, version)
    log.info("guide %s deleted by %s (version %d, live %s)", guide_id, user.username, version, live)
    return WriteOut(id=guide_id, op="deleted", version=version, live=live)


@router.post("/guides/{guide_id}/revert", response_model=WriteOut)
async def revert_guide(guide_id: str, state: StateDep, user: ReviewerUser) -> WriteOut:
    """Undo the editors' changes to a file guide (or undelete it): the YAML version answers again."""
    files = await asyncio.to_thread(seed_guides)
    if guide_id not in files:
        raise ApiError(404, "guide_not_found",
                       f"没有 id 为 {guide_id} 的文件指南可恢复 / No file guide {guide_id} to revert to.")
    snap = (await _view(state))[0]
    if guide_id not in snap.guides and guide_id not in snap.deleted:
        return WriteOut(id=guide_id, op="unchanged", version=0, live=True)
    try:
        version = await _overlay(state).write("revert", guide_id, by=user.username)
    except RedisError as exc:
        raise _unavailable(exc) from exc
    live = await _live(state, version)
    log.info("guide %s reverted to its file by %s (version %d)", guide_id, user.username, version)
    return WriteOut(id=guide_id, op="reverted", version=version, live=live)


@router.get("/export")
async def export_guides(state: StateDep, _: EditorUser) -> Response:
    """Every guide as a JSON array (the import format)."""
    snap, view = await _view(state)
    body = [e.guide.model_dump(mode="json") for e in view.values()]
    return JSONResponse(body, headers={"ETag": _etag(snap.version),
                                       "Content-Disposition": 'attachment; filename="xiaoshen-guides.json"'})


@router.post("/import", response_model=ImportOut,
             responses={422: {"description": "invalid guides, each field named; nothing imported"}})
async def import_guides(request: Request, state: StateDep, user: ReviewerUser,
                        mode: Annotated[Literal["merge", "replace"], Query()] = "merge") -> Response:
    """Create or replace many guides at once, all or nothing; `mode=replace` also deletes the rest."""
    guides, errors = parse_guides(await _json_body(request))
    if errors:
        return _invalid(errors, "导入的指南")
    _, view = await _view(state)
    incoming = {g.id: g for g in guides}
    created = [g.id for g in guides if g.id not in view]
    replaced = [g.id for g in guides if g.id in view and view[g.id].guide != g]
    deleted = sorted(set(view) - set(incoming)) if mode == "replace" else []
    changes = [incoming[i] for i in created + replaced]
    version, live = 0, True
    if changes or deleted:
        try:
            version = await _overlay(state).bulk(changes, deleted, by=user.username)
        except RedisError as exc:
            raise _unavailable(exc) from exc
        live = await _live(state, version)
    log.info("import by %s: %d created, %d replaced, %d deleted (version %d)", user.username,
             len(created), len(replaced), len(deleted), version)
    out = ImportOut(created=created, replaced=replaced, deleted=deleted,
                    unchanged=len(guides) - len(changes), version=version, live=live)
    return JSONResponse(out.model_dump())
