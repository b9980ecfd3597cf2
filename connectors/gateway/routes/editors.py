"""The knowledge editors' workspace page (指南编辑工作台): static, over the /api/kb routes."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from connectors.gateway.errors import ApiError

router = APIRouter(tags=["knowledge editors"], include_in_schema=False)
STATIC: Final = Path(__file__).resolve().parent.parent / "static" / "editors"
FILES: Final = {"app.js": "text/javascript", "style.css": "text/css"}
# Only our own script and styles; the page talks to its own origin alone and cannot be framed.
CSP: Final = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
              "img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def _file(name: str, media_type: str) -> Response:
    return FileResponse(STATIC / name, media_type=media_type,
                        headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-cache", "X-Frame-Options": "DENY"})


@router.get("/editors")
async def editors_page(_: Request) -> Response:
    """The editors' workspace: guides, drafts, review, history, inbox, synonyms, import/export, audit."""
    return _file("index.html", "text/html; charset=utf-8")


@router.get("/editors/static/{name}")
async def editors_static(name: str) -> Response:
    if name not in FILES:
        raise ApiError(404, "not_found", "文件不存在 / Not found.")
    return _file(name, FILES[name])
