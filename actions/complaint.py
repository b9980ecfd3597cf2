"""Telling a complaint: the one place that decides whether a message is angry or complaining."""

from __future__ import annotations

import re
from typing import Final

from actions.constants import INTENT_COMPLAIN

# Anger or complaint words. NLU's `complain` intent catches complaints worded otherwise; a message
# with either is first met with an apology and an offer of a person (and still gets its answer
# when it also asks a clear question).
_ANGRY: Final = re.compile(
    r"气死|垃圾|太差|真差|投诉|什么破|烦死|火大|无语|太过分|恶劣|耍人|踢皮球|推来推去|不满意|浪费时间"
    r"|一点用都没有|没有用|办个事这么难|terrible|useless|ridiculous"
)
_CLAUSES: Final = re.compile(r"[，,。.！!？?；;…\s]+")


def is_complaint(text: str, intent: str | None) -> bool:
    """True for an angry or complaining message."""
    return intent == INTENT_COMPLAIN or bool(_ANGRY.search(text.lower()))


def without_complaint(text: str) -> str:
    """The question in a message, without its angry clauses (they name no service and only
    lower the search's confidence); the whole text when nothing else is left."""
    parts = [part for part in _CLAUSES.split(text) if part]
    kept = [part for part in parts if not _ANGRY.search(part.lower())]
    if len(kept) == len(parts):
        return text  # nothing angry: the message as written (English words stay one sentence)
    return "，".join(kept) or text
