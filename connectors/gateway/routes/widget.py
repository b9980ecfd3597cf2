"""/widget — our embeddable widget, its demo page, and the rasa-webchat compatibility demo.

Every file is served from this machine: our own static files, and two browser bundles from the
npm packages pinned in connectors/widget/package-lock.json (installed by `make setup`). Only the
files named here are served, never node_modules as a directory.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse

from connectors.gateway.csp import own_sockets
from connectors.gateway.errors import ApiError

router = APIRouter(prefix="/widget", tags=["widget"])

STATIC = Path(__file__).resolve().parent.parent / "static" / "widget"
NODE_MODULES = Path(__file__).resolve().parents[2] / "widget" / "node_modules"

# Pages may run only our own scripts and styles and talk only to us (plus our own socket.io
# websocket, filled in per request: {sockets}); they may be framed only by our own pages.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self' {sockets}; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'"
)
# rasa-webchat's React bundle injects <style> elements (so 'unsafe-inline' for styles stays) and
# asks Google Fonts; the font fails offline.
WEBCHAT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' {sockets}; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)

_OWN = {
    "xiaoshen.js": "application/javascript; charset=utf-8",
    "xiaoshen.css": "text/css; charset=utf-8",
    "rasa-webchat-init.js": "application/javascript; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
}
_VENDOR = {
    "socket.io.min.js": NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js",
    "rasa-webchat.js": NODE_MODULES / "rasa-webchat" / "lib" / "index.js",
}


def _page(name: str, csp: str, request: Request) -> FileResponse:
    return FileResponse(
        STATIC / name,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": csp.format(sockets=own_sockets(request)),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


@router.get("", include_in_schema=False)
async def widget_root() -> RedirectResponse:
    return RedirectResponse("/widget/")


@router.get("/", include_in_schema=False)
async def demo(request: Request) -> FileResponse:
    """The demo page: our widget embedded with one <script>."""
    return _page("index.html", PAGE_CSP, request)


@router.get("/rasa-webchat/", include_in_schema=False)
async def webchat_demo(request: Request) -> FileResponse:
    """The npm rasa-webchat@1.0.1 bundle talking to this gateway's socket.io endpoint."""
    return _page("rasa-webchat.html", WEBCHAT_CSP, request)


@router.get("/vendor/{name}", include_in_schema=False)
async def vendor(name: str) -> FileResponse:
    path = _VENDOR.get(name)
    if path is None:
        raise ApiError(404, "not_found", "没有这个文件 / No such file.")
    if not path.is_file():
        raise ApiError(
            503,
            "widget_assets_missing",
            "前端依赖未安装，请运行 make setup / Browser bundles missing: run `make setup`.",
        )
    return FileResponse(
        path,
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{name}", include_in_schema=False)
async def own_file(name: str) -> FileResponse:
    """xiaoshen.js (the one script to embed) and its stylesheet."""
    media = _OWN.get(name)
    if media is None:
        raise ApiError(404, "not_found", "没有这个文件 / No such file.")
    return FileResponse(
        STATIC / name,
        media_type=media,
        headers={
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Allow-Origin": "*",
        },
    )
