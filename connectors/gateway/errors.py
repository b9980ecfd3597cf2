"""The contract's error shape, {"error": {"code", "message"}}, for every 4xx/5xx we send."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered with the contract's JSON shape; messages are Chinese then English."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


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
        else:
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    code = "missing_field" if all(e.get("type") == "missing" for e in errors) else "invalid_request"
    return 422, code, "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Make validation errors, HTTP errors and crashes all use the error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _describe(exc)
        return error_response(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        code = codes.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error",
                              "服务内部错误，请稍后再试 / Internal error, please retry.")

