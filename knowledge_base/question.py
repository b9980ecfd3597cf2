"""The question inside a long message: the clauses that ask something, without the background.

People write "我老家是安徽的，在上海工作交社保三年了，一直用老家的社保卡看病，挺麻烦的。外地户口可以
申领上海的社保卡吗？": the story dilutes every ranking signal (coverage, the classifier's
probability), so a clear question reads as an unsure one. The clauses with a question cue
(吗, 怎么, 多久, 哪里, 伐, 收不收 …, or a question mark after it) are what a clerk would answer;
the engine ranks them too and keeps the higher confidence when both readings agree on the guide
(KnowledgeBase.rank).
"""

from __future__ import annotations

import re
from typing import Final

# A clause ends at sentence or clause punctuation (full- or half-width) or a line break.
_CLAUSE_END: Final = re.compile(r"[，。！？!?；;、\n]+|[,.](?=\s|$)")
# Words that make a clause a question (Mandarin, Shanghainese, English).
_CUE: Final = re.compile(
    r"怎么|怎样|咋|如何|哪能|吗|嘛|(?<!什)么|伐|哦\W*$|呢|什么(?![都也])|啥|哪|多少|(?<![十好这前过])几|多久|多长|能否|可否|是否|可以|能不能"
    r"|要不要|有没有|是不是|([\u4e00-\u9fff])[不没]\1|[?？]"
    r"|\b(how|what|where|which|when|who|can|could|do|does|is|are|should)\b",
    re.IGNORECASE,
)
_QUESTION_MARK: Final = re.compile(r"[?？]")
# Shorter than this, a message has no background worth leaving out.
MIN_CHARS: Final = 25


def question_clauses(text: str) -> str | None:
    """The clauses of a long message that ask something, joined; None when that is the whole
    message (short, one clause, or no clause asks anything)."""
    if len(text) < MIN_CHARS:
        return None
    clauses: list[tuple[str, bool]] = []  # (clause, ends with a question mark)
    start = 0
    for end in [*_CLAUSE_END.finditer(text), None]:
        clause = text[start : end.start() if end else len(text)].strip()
        if clause:
            clauses.append((clause, bool(end and _QUESTION_MARK.search(end.group(0)))))
        start = end.end() if end else len(text)
    if len(clauses) < 2:
        return None
    asking = [c for c, marked in clauses if marked or _CUE.search(c)]
    if not asking or len(asking) == len(clauses):
        return None
    return "，".join(asking)
