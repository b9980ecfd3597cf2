"""Smart declarations' records: GET /api/declarations/{ref} and the print-friendly checklist page.

A record is shown only to the conversation that made it (its X-Conversation-Token) or to a signed-in
agent; the page at /declarations/{ref} holds no data itself: its script reads the widget's stored
token and asks the API, so the record never sits in a URL or a cache.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from connectors.gateway.deps import ConversationToken, StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.owners import forbidden
from connectors.gateway.routes.widget import STATIC

router = APIRouter(tags=["declarations"])
PAGES = STATIC.parent / "declarations"

Ref = Annotated[str, Path(pattern=r"^XS\d{8}-[A-Za-z0-9]{6}$",
                          description="申报编号, e.g. XS20261202-7KQ2MD")]
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class DeclarationOut(BaseModel):
    ref: str
    declaration_id: str
    service_id: str
    title: str
    status: str
    checklist: list[dict[str, Any]]
    application_form: str
    application: list[dict[str, Any]]
    prefill_share: float
    submit: dict[str, Any] | None
    submitted_at: dt.datetime | None


def _not_found() -> ApiError:
    return ApiError(404, "declaration_not_found",
                    "没有这个申报编号 / No declaration with this reference number.")


@router.get("/api/declarations/{ref}", response_model=DeclarationOut)
async def get_declaration(ref: Ref, state: StateDep, token: ConversationToken = None,
                          authorization: Annotated[str | None, Header(
                              description="an agent's `Bearer <token>` instead of the conversation's",
                          )] = None) -> DeclarationOut:
    """A finished declaration (checklist, pre-filled application with provenance, next step).

    Send the conversation's `X-Conversation-Token`, or an agent's bearer token; anyone else gets 403.
    """
    record = await asyncio.to_thread(state.declarations.by_ref, ref)
    if record is None or record.ref is None:
        raise _not_found()
    scheme, _, bearer = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and bearer:
        user = await state.handoff.accounts.principal(bearer.strip())
        if user is None or not user.has("agent"):
            raise forbidden()
    else:
        await state.owners.check(record.sender_id, token)
    decl = state.declaration_catalog.get(record.declaration_id)
    return DeclarationOut(
        ref=record.ref, declaration_id=record.declaration_id, service_id=record.service_id,
        title=decl.title if decl else record.declaration_id, status=record.status,
        checklist=record.checklist, application_form=decl.application_form if decl else "申请表",
        application=record.application, prefill_share=record.prefill_share,
        submit=decl.submit.model_dump() if decl else None, submitted_at=record.submitted_at)


@router.get("/declarations/{ref}", include_in_schema=False)
async def print_page(ref: Ref, request: Request) -> FileResponse:
    """The checklist to print (its script fetches the record with the conversation's token)."""
    return FileResponse(PAGES / "print.html", media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-store"})


@router.get("/declarations/static/{name}", include_in_schema=False)
async def print_asset(name: str) -> FileResponse:
    media = {"print.js": "application/javascript; charset=utf-8", "print.css": "text/css; charset=utf-8"}
    if name not in media:
        raise ApiError(404, "not_found", "没有这个文件 / No such file.")
    return FileResponse(PAGES / name, media_type=media[name],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})
