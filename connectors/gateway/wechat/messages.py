"""WeChat push bodies (XML or JSON) in, and rich bot answers degraded to WeChat text out."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

MAX_TEXT_CHARS = 600  # one customer-service text; longer answers are cut with a pointer onwards
_BULLET = re.compile(r"^\s*[-*•]\s+")
_NUMBERED = re.compile(r"^\s*\d+[.、)]\s*")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_HEADING = re.compile(r"^\s*#{1,6}\s+")


class BadMessage(ValueError):
    """A body that is neither a WeChat XML nor a JSON push."""


def parse_body(raw: bytes | str) -> tuple[dict[str, str], str]:
    """The push's fields as strings and its format ("xml" or "json")."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise BadMessage("the body is not UTF-8") from exc
    text = text.strip()
    if text.startswith("<"):
        if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
            raise BadMessage("DTDs are not accepted")
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise BadMessage(f"bad XML: {exc}") from exc
        return {child.tag: (child.text or "") for child in root}, "xml"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadMessage(f"bad JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadMessage("the push must be an object")
    return {str(k): "" if v is None else str(v) for k, v in data.items()}, "json"


def _plain_lines(text: str) -> list[str]:
    """Markdown lists as numbered lines, emphasis and headings stripped."""
    out: list[str] = []
    number = 0
    for line in text.splitlines():
        line = _EMPHASIS.sub("", _HEADING.sub("", line)).rstrip()
        if _BULLET.match(line) or _NUMBERED.match(line):
            number += 1
            item = _NUMBERED.sub("", _BULLET.sub("", line))
            out.append(f"{number}. {item}")
        else:
            if line.strip():
                number = 0
            out.append(line)
    return out


def degrade(messages: Iterable[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """One WeChat text for a turn's messages, and the payloads that "回复 1 / 2 / 3" pick.

    Buttons of every message become one numbered menu at the end (WeChat allows 5 messages per
    48 h, so a turn is sent as one message).
    """
    parts: list[str] = []
    choices: list[tuple[str, str]] = []
    for message in messages:
        text = message.get("text")
        custom = message.get("custom") or {}
        if text:
            parts.append("\n".join(_plain_lines(str(text))).strip())
        handoff = custom.get("handoff") if isinstance(custom, dict) else None
        if isinstance(handoff, dict) and not text:
            if handoff.get("status") == "queued" and handoff.get("position"):
                parts.append(f"正在为您转接人工客服，您前面还有 {handoff['position']} 位。")
            elif handoff.get("status") == "agent":
                parts.append(f"人工客服{handoff.get('agent') or ''}已接入，请直接输入您的问题。")
        rating = custom.get("rating") if isinstance(custom, dict) else None
        if isinstance(rating, dict) and not message.get("buttons"):
            options = rating.get("options") or [1, 2, 3, 4, 5]
            if not text:
                parts.append("请为本次服务评价：")
            for index, option in enumerate(options, start=1):
                score = index if not isinstance(option, (int, float)) else int(option)
                label = option if isinstance(option, str) else f"{score} 分"
                choices.append((str(label), f'/rate{{"score": {score}}}'))
        for button in message.get("buttons") or []:
            choices.append((str(button.get("title", "")), str(button.get("payload", ""))))
    body = "\n\n".join(p for p in parts if p)
    if len(body) > MAX_TEXT_CHARS:
        cut = body.rfind("\n", 0, MAX_TEXT_CHARS)
        body = body[: cut if cut > MAX_TEXT_CHARS // 2 else MAX_TEXT_CHARS].rstrip() + "\n……"
    if choices:
        menu = "\n".join(f"{i}. {title}" for i, (title, _) in enumerate(choices, start=1))
        hint = " / ".join(str(i) for i in range(1, min(len(choices), 3) + 1))
        body = f"{body}\n\n{menu}\n（回复 {hint}{' …' if len(choices) > 3 else ''} 选择）".strip()
    return body, [payload for _, payload in choices]
