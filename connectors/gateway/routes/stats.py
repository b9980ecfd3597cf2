"""The service figures for the people who run 小申: /api/stats/* (JSON or CSV) and the page /dashboard.

Read-only, for the `supervisor` role (an admin holds it too). Every figure is computed by SQL from
the events of record for the period asked (records/stats.py, where the definitions are).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import FileResponse, JSONResponse, Response

from connectors.gateway.auth import Principal
from connectors.gateway.csv_export import csv_response
from connectors.gateway.deps import StateDep, require_role
from connectors.gateway.errors import ApiError
from connectors.gateway.routes.kb import _db  # off the event loop; a database outage maps to 503
from contract.pii import mask_pii
from records.stats import SHANGHAI, Grain, Period, csv_rows, period_of

router = APIRouter(prefix="/api/stats", tags=["stats"])
page_router = APIRouter(tags=["stats"], include_in_schema=False)
SupervisorUser = Annotated[Principal, Depends(require_role("supervisor"))]
STATIC = FilePath(__file__).resolve().parent.parent / "static" / "dashboard"
ECHARTS = FilePath(__file__).resolve().parents[2] / "dashboard" / "node_modules/echarts/dist/echarts.min.js"
FILES = {"app.js": "text/javascript", "style.css": "text/css"}
# Only our own scripts and styles; the page talks to its own origin alone and cannot be framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
MAX_DAYS = 400


PeriodQuery = Annotated[Grain, Query(description="day, week (Monday first) or month, Shanghai calendar")]
DayQuery = Annotated[dt.date | None, Query(description="a day inside the period (default: today)")]
StartQuery = Annotated[dt.date | None, Query(description="first day of a custom period")]
EndQuery = Annotated[dt.date | None, Query(description="last day of a custom period (inclusive)")]
ChannelQuery = Annotated[str | None, Query(max_length=32, description="web, wechat, … (default: all)")]
FormatQuery = Annotated[Literal["json", "csv"], Query(description="json, or csv for a spreadsheet")]


async def asked_period(
    grain: PeriodQuery = "day", day: DayQuery = None, start: StartQuery = None, end: EndQuery = None
) -> Period:
    """The period asked: `start`..`end` (Shanghai days, inclusive), else the grain around `day`
    (today by default)."""
    if start is not None or end is not None:
        if start is None or end is None or end < start:
            raise ApiError(
                422, "invalid_period", "起止日期不完整或颠倒 / Give both start and end, start first."
            )
        if (end - start).days >= MAX_DAYS:
            raise ApiError(422, "invalid_period", f"期间最长 {MAX_DAYS} 天 / At most {MAX_DAYS} days.")
        first, last = period_of("day", start), period_of("day", end)
        return Period(first.start, last.end, f"{start.isoformat()} 至 {end.isoformat()}")
    return period_of(grain, day or dt.datetime.now(SHANGHAI).date())


AskedPeriod = Annotated[Period, Depends(asked_period)]


async def fresh_period(
    state: StateDep, period: AskedPeriod, cache_control: Annotated[str | None, Header()] = None
) -> Period:
    """The period; with `Cache-Control: no-cache` its figures of today are computed this instant
    (otherwise they may be up to LIVE_TTL_S old, or a little older while refreshed behind)."""
    if cache_control and "no-cache" in cache_control.lower():
        await _db(state.stats.refresh, period)
    return period


PeriodDep = Annotated[Period, Depends(fresh_period)]


def _table(rows: list[dict[str, Any]], name: str, period: Period, format: str) -> Response:
    if format == "json":
        return JSONResponse({"period": period.as_dict(), "rows": rows})
    header, body = csv_rows(rows)
    return csv_response(
        header, body, f"xiaoshen-{name}-{period.start.astimezone(SHANGHAI).date().isoformat()}.csv"
    )


@router.get("/summary")
async def summary(
    state: StateDep, _: SupervisorUser, period: PeriodDep, channel: ChannelQuery = None
) -> JSONResponse:
    """Every headline figure of the period: 解决率, outcomes, handoff and first human response, 留言,
    好差评 and rectification, declarations and pre-fill, guides past review, the inbox's top groups."""
    figures = await _db(state.stats.summary, period, channel)
    guides = await _db(state.guides.list_all)
    today = dt.datetime.now(SHANGHAI).date()
    figures["guides"] = {"total": len(guides), "stale": sorted(g.id for g in guides if g.stale(today))}
    groups = await _db(state.inbox.groups, status="open")
    figures["inbox"] = [
        {"id": g.id, "example": g.example, "count": g.count, "last_seen": g.last_seen.isoformat()}
        for g in groups[:10]
    ]
    return JSONResponse(figures)


@router.get("/daily")
async def daily(
    state: StateDep,
    _: SupervisorUser,
    period: PeriodDep,
    channel: ChannelQuery = None,
    format: FormatQuery = "json",
) -> Response:
    """One row per day of the period (what the charts draw)."""
    return _table(await _db(state.stats.daily, period, channel), "daily", period, format)


@router.get("/channels")
async def channels(
    state: StateDep, _: SupervisorUser, period: PeriodDep, format: FormatQuery = "json"
) -> Response:
    return _table(await _db(state.stats.channels, period), "channels", period, format)


@router.get("/services")
async def services(
    state: StateDep,
    _: SupervisorUser,
    period: PeriodDep,
    channel: ChannelQuery = None,
    format: FormatQuery = "json",
) -> Response:
    """Per service: turns, conversations, answers, resolved conversations, with the guide's title."""
    rows = await _db(state.stats.services, period, channel)
    titles = {g.id: g.published.title for g in await _db(state.guides.list_all) if g.published is not None}
    return _table(
        [{"service_id": r["service_id"], "title": titles.get(r["service_id"], ""), **r} for r in rows],
        "services",
        period,
        format,
    )


@router.get("/agents")
async def agents(
    state: StateDep,
    _: SupervisorUser,
    period: PeriodDep,
    channel: ChannelQuery = None,
    format: FormatQuery = "json",
) -> Response:
    return _table(await _db(state.stats.agents, period, channel), "agents", period, format)


@router.get("/conversations")
async def conversations(
    state: StateDep,
    _: SupervisorUser,
    period: PeriodDep,
    channel: ChannelQuery = None,
    service_id: Annotated[str | None, Query(max_length=64)] = None,
    agent: Annotated[str | None, Query(max_length=64)] = None,
    format: FormatQuery = "json",
) -> Response:
    """Drill-down: the conversations of a service or an agent (ids and what the figures saw; each
    one's transcript, masked, at /api/stats/conversations/{id}/messages)."""
    rows = await _db(state.stats.conversations, period, service_id=service_id, agent=agent, channel=channel)
    return _table(rows, "conversations", period, format)


def _file(path: FilePath, media_type: str) -> Response:
    return FileResponse(
        path,
        media_type=media_type,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
            "X-Frame-Options": "DENY",
        },
    )


@router.get("/conversations/{sender_id}/messages")
async def conversation_messages(
    sender_id: Annotated[str, Path(max_length=128)], state: StateDep, _: SupervisorUser
) -> JSONResponse:
    """Drill-down to one conversation: its transcript with personal data masked (身份证号, 手机号,
    bank cards, e-mail, addresses), while it is kept (XS_RETENTION_DAYS)."""
    entries = await state.store.history(sender_id)  # Redis down: 503 from the error map
    if not entries:
        raise ApiError(
            404, "not_found", "该会话不存在或已过保留期 / No such conversation, or it is past its retention."
        )
    return JSONResponse(
        {
            "sender_id": sender_id,
            "messages": [
                {
                    "seq": e.get("seq"),
                    "ts": e.get("ts"),
                    "role": e.get("role"),
                    "author": e.get("author"),
                    "text": mask_pii(e.get("text") or ""),
                }
                for e in entries
            ],
        }
    )


@page_router.get("/dashboard")
async def dashboard_page() -> Response:
    """The service dashboard (static; it logs in and reads /api/stats/*)."""
    return _file(STATIC / "index.html", "text/html; charset=utf-8")


@page_router.get("/dashboard/static/{name}")
async def dashboard_static(name: str) -> Response:
    if name in FILES:
        return _file(STATIC / name, FILES[name])
    if name == "echarts.min.js":  # Apache ECharts from npm (scripts/setup.sh), served by us, no CDN
        return _file(ECHARTS, "text/javascript")
    raise ApiError(404, "not_found", "文件不存在 / Not found.")
