"""GET /guides/{id} — the full guide as a plain, public web page (the widget card links here)."""

from __future__ import annotations

import asyncio
import html
import re

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from connectors.gateway.csp import style_hash
from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from knowledge_base.constants import SECTION_TITLES, SECTIONS
from knowledge_base.schema import GUIDE_ID_PATTERN, Guide
from records.guides import GuideRecordError

router = APIRouter(tags=["guides"])
_LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+[.、])\s+")
_STYLE = (
    'body{font:16px/1.7 system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:46rem;'
    'margin:0 auto;padding:1rem;color:#1d2733}h1{font-size:1.5rem}h2{font-size:1.15rem;'
    'border-left:4px solid #1565c0;padding-left:.5rem;margin-top:1.6rem}.aka,footer{color:#5a6470;'
    'font-size:.9rem}footer{margin-top:2rem;border-top:1px solid #ddd;padding-top:.8rem}'
)
# Only this page's own <style> (by its hash, no 'unsafe-inline'); never framed.
_CSP = (f"default-src 'none'; style-src {style_hash(_STYLE)}; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'")


def _text_block(text: str) -> str:
    """Markdown-ish section text as escaped HTML: list lines become a list, the rest paragraphs."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and all(_LIST_ITEM.match(line) for line in lines):
        ordered = bool(re.match(r"^\s*\d", lines[0]))
        tag = "ol" if ordered else "ul"
        items = "".join(f"<li>{html.escape(_LIST_ITEM.sub('', line))}</li>" for line in lines)
        return f"<{tag}>{items}</{tag}>"
    return "".join(f"<p>{html.escape(line.strip())}</p>" for line in lines)


def render_guide(guide: Guide, version: int | None = None) -> str:
    """The whole guide as a citizen reads it, as a standalone HTML page; every text is escaped.

    Its official title only: the aliases, abbreviations and typo variants that help search find it
    are not for reading."""
    parts = [f"<h1>{html.escape(guide.title)}</h1>"]
    for name in SECTIONS:
        parts.append(f"<section id='{name}'><h2>{SECTION_TITLES[name]}</h2>"
                     f"{_text_block(guide.section(name))}</section>")
    if guide.situations:
        parts.append("<section id='situations'><h2>不同情形</h2>")
        for sit in guide.situations:
            parts.append(f"<h3>{html.escape(sit.name)}</h3>")
            for label, text in (("材料", sit.materials), ("流程", sit.process), ("说明", sit.note)):
                if text:
                    parts.append(f"<h4>{label}</h4>{_text_block(text)}")
        parts.append("</section>")
    edition = f"第 {version} 版；" if version else ""
    parts.append(f"<footer>{edition}来源：{html.escape(guide.source)}；审核日期：{guide.reviewed.isoformat()}。"
                 "以受理部门最新公布为准，咨询请拨 12345。</footer>")
    body = "\n".join(parts)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(guide.title)} · 小申办事指南</title>
<style>{_STYLE}</style>
</head><body><main>{body}</main></body></html>"""


@router.get("/guides/{guide_id}", response_class=HTMLResponse)
async def guide_page(guide_id: str, state: StateDep) -> HTMLResponse:
    """The published guide of record, for citizens to read or print."""
    if not re.match(GUIDE_ID_PATTERN, guide_id):
        raise ApiError(404, "guide_not_found", "没有这份办事指南 / No such guide.")
    try:
        info = await asyncio.to_thread(state.guides.get, guide_id)
    except GuideRecordError:
        info = None
    if info is None or info.published is None:
        raise ApiError(404, "guide_not_found", "没有这份办事指南 / No such guide.")
    return HTMLResponse(render_guide(info.published, info.published_number),
                        headers={"Content-Security-Policy": _CSP})
