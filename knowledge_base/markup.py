"""HTML and script markup in text people write (guides, notes, 留言, canned replies), judged by a
real HTML parser (`nh3`, the Rust `ammonia` sanitiser) rather than a regular expression.

Everything we show is escaped on output, so markup is inert anyway; these rules keep it out of the
store: guide fields refuse it (an editor learns at once, with the field named), free text from
agents and citizens is neutralised to its plain text.
"""

from __future__ import annotations

import html
import re
from typing import Final

import nh3

# Markdown autolinks (<https://zwdt.sh.gov.cn>) are allowed in guides; nh3 would read them as tags.
_AUTOLINK: Final = re.compile(r"<(https?://[^\s<>\"']+)>")
# Script URLs, also entity-encoded (javascript&colon;) once unescaped, and data: link targets.
_SCRIPT_URL: Final = re.compile(r"(?:java|vb)script\s*:|\]\(\s*data\s*:", re.IGNORECASE)
MARKUP_MESSAGE: Final = "不允许包含 HTML 或脚本标记 / HTML or script markup is not allowed"


# What an HTML parser would not call a tag ("< script>") but a careless renderer might.
_SPACED_TAG: Final = re.compile(r"<\s+/?\s*(script|iframe|object|embed|style|svg|img|math)\b", re.IGNORECASE)


def has_markup(text: str) -> bool:
    """True when the text holds HTML (tags, comments), a script URL or a spaced-out dangerous tag."""
    bare = _AUTOLINK.sub(r"\1", text)
    return (nh3.is_html(bare) or bool(_SCRIPT_URL.search(html.unescape(bare)))
            or bool(_SPACED_TAG.search(bare)))


def plain_text(text: str) -> str:
    """The text with every tag removed (script and style content too) and script URLs defused;
    text without markup comes back unchanged."""
    if not has_markup(text):
        return text
    bare = _AUTOLINK.sub(r"\1", text)
    cleaned = html.unescape(nh3.clean(bare, tags=set())) if nh3.is_html(bare) else html.unescape(bare)
    cleaned = _SPACED_TAG.sub(lambda m: "＜" + m.group(0)[1:], cleaned)
    return _SCRIPT_URL.sub(lambda m: m.group(0).replace(":", "："), cleaned)
