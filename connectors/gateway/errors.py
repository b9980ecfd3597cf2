"""One error hierarchy and one handler table: every 4xx/5xx we send is {"error": {"code", "message"}}.

Raise an `ApiError` (or a subclass) anywhere below a route; `install_error_handlers`, called once by
the app factory, maps it, FastAPI's own errors and outages of Redis or Rasa to the error shape.
Messages are Chinese, then English.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from records.guides import GuideRecordError

log = logging.getLogger(__name__)

_RETRY = "请稍后再试 / please retry shortly."
UNAVAILABLE_MESSAGES = {
    "redis": f"会话存储暂时不可用，{_RETRY} Conversation storage (Redis) is unavailable.",
    "rasa": f"对话引擎暂时不可用，{_RETRY} The dialogue engine (Rasa) is unavailable.",
    "actions": f"业务服务暂时不可用，{_RETRY} The action server is unavailable.",
    "knowledge_base": f"知识库暂时不可用，{_RETRY} The knowledge base is unavailable.",
    "database": f"数据库暂时不可用，未做任何修改，{_RETRY} The database of record is unavailable; nothing "
                "was changed.",
}
# A refused operation on the guides of record (records.guides) → its HTTP status.
GUIDE_RECORD_STATUS = {
    "guide_not_found": 404, "version_not_found": 404, "version_conflict": 409, "invalid_state": 409,
    "not_a_draft": 409, "not_published": 409, "same_reviewer": 403, "base_required": 428,
    "note_required": 422, "note_too_long": 422, "invalid_interval": 422,
    "inbox_not_found": 404, "inbox_merged": 409,
    "invalid_synonyms": 422, "synonym_conflict": 409, "synonyms_not_found": 404,
}


class ApiError(Exception):
    """The base of every error we answer: HTTP status, a stable code and a bilingual message."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers  # sent with the error (Retry-After on 429)
        self.extra = detail  # more for the client (a conflict's changes), sent as error.detail


class UpstreamError(ApiError):
    """A component behind the gateway (redis, rasa, actions, knowledge_base) did not answer: 503."""

    def __init__(self, component: str, detail: str) -> None:
        super().__init__(503, f"{component}_unavailable",
                         UNAVAILABLE_MESSAGES.get(component, UNAVAILABLE_MESSAGES["rasa"]))
        self.component = component
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.component}: {self.detail}"


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   detail: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if detail:
        body["detail"] = detail
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _describe(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "invalid_json", "请求体不是有效的 JSON / The request body is not valid JSON."
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        kind = err.get("type", "")
        if kind == "missing":
            parts.append(f"缺少字段 {loc} / missing field {loc}")
        elif kind in ("string_type", "model_attributes_type", "dict_type", "literal_error"):
            parts.append(f"字段 {loc} 类型或取值错误 / wrong type or value for {loc}")
        elif kind in ("string_pattern_mismatch", "string_too_short", "string_too_long"):
            parts.append(f"字段 {loc} 为空或格式不对 / {loc} is empty or malformed")
        elif kind in ("too_short", "too_long"):
            parts.append(f"字段 {loc} 的条目数不对 / {loc} has too few or too many items")
        else:
            parts.append(f"字段 {loc} 不符合要求 / {loc}: {err.get('msg', 'invalid')}")
    code = "missing_field" if all(e.get("type") == "missing" for e in errors) else "invalid_request"
    return 422, code, "; ".join(parts)


# Which component is really down when a turn failed (Rasa fails when its Redis stores do, say).
OutageProbe = Callable[[Request, UpstreamError], Awaitable[UpstreamError]]


async def _as_is(_: Request, exc: UpstreamError) -> UpstreamError:
    return exc


def install_error_handlers(app: FastAPI, probe: OutageProbe = _as_is) -> None:
    """The one handler table: our errors, outages, validation, HTTP errors and crashes."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.headers, exc.extra)

    async def upstream(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UpstreamError)
        log.warning("outage: %s", exc)
        named = await probe(request, exc)
        return error_response(named.status, named.code, named.message, {"Retry-After": "5"})

    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        return await upstream(request, UpstreamError("redis", f"{type(exc).__name__}: {exc}"))

    async def guide_record(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GuideRecordError)
        return error_response(GUIDE_RECORD_STATUS.get(exc.code, 409), exc.code, exc.message,
                              detail=exc.detail or None)

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        return await upstream(request, UpstreamError("database", f"{type(exc).__name__}: {exc}"))

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(*_describe(exc))

    async def http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    async def crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error",
                              "服务内部错误，请稍后再试 / Internal error, please retry.")

    table: dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]] = {
        UpstreamError: upstream,
        ApiError: api_error,
        RedisError: redis_down,
        GuideRecordError: guide_record,
        SQLAlchemyError: database_down,
        RequestValidationError: validation,
        StarletteHTTPException: http,
        Exception: crash,
    }
    for kind, handler in table.items():
        app.add_exception_handler(kind, handler)

