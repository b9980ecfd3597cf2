"""The staff pages' shared sign-in script (static/staff/staff.js), loaded before each page's own."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

router = APIRouter(tags=["staff pages"], include_in_schema=False)
SCRIPT: Final = Path(__file__).resolve().parent.parent / "static" / "staff" / "staff.js"


@router.get("/staff/static/staff.js")
async def staff_script() -> Response:
    return FileResponse(SCRIPT, media_type="text/javascript",
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})
