"""Content-Security-Policy pieces shared by the gateway's pages (widget, console, guide page)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

from starlette.requests import Request

_HOST: Final = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$")


def own_sockets(request: Request) -> str:
    """The page's own WebSocket origins (connect-src), not every ws:/wss: host in the world."""
    host = request.headers.get("host", "")
    return f"ws://{host} wss://{host}" if _HOST.match(host) else ""


def style_hash(css: str) -> str:
    """The CSP source allowing exactly this inline <style> (no 'unsafe-inline')."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return f"'sha256-{digest}'"
