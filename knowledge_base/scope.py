"""Questions that are not ours however well they match a guide: another place's version of a service.

Every guide is Shanghai's. "杭州开公司要啥材料" shares every content word with our 企业设立 guide,
so ranking alone answers it confidently and wrongly; naming another city or province (and not
Shanghai) is what tells it apart. A place named only as where someone comes from (老家安徽,
河南户口, 湖南人) or travelled to (出差在成都) does not count: people who moved here, or fell ill on a
trip, ask about Shanghai's services.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import yaml

from knowledge_base.constants import LEXICON_DIR
from knowledge_base.sections import fold

_SHANGHAI: Final = re.compile(r"上海|沪|本市|申城|shanghai")
# A place as someone's origin, not as where the service is wanted.
_ORIGIN_BEFORE: Final = re.compile(r"(?:老家|家乡|来自|籍贯|原籍)(?:是|在)?$")
# A place someone travelled to (出差在成都急诊, 回老家): the service asked about may still be ours.
_TRIP_BEFORE: Final = re.compile(r"(?:出差|旅游|旅行|出游|去|到|回|从)(?:在|到|去)?$")
_ORIGIN_AFTER: Final = re.compile(r"^(?:市|省)?(?:户口|户籍|籍|人|老家|来的|过来)")


@functools.lru_cache(maxsize=1)
def _places() -> re.Pattern[str]:
    data = yaml.safe_load((LEXICON_DIR / "places.yaml").read_text(encoding="utf-8")) or {}
    names = sorted((str(p).lower() for p in data.get("places", [])), key=len, reverse=True)
    return re.compile("|".join(re.escape(n) for n in names))


def elsewhere(text: str) -> str | None:
    """The other place a question asks about (its name as written), or None."""
    folded = fold(text)
    if _SHANGHAI.search(folded):
        return None
    for match in _places().finditer(folded):
        before, after = folded[: match.start()], folded[match.end():]
        if _ORIGIN_BEFORE.search(before) or _TRIP_BEFORE.search(before) or _ORIGIN_AFTER.match(after):
            continue
        if match.group(0).isascii() and not re.fullmatch(
                r"(?:^|.*[^a-z])" + re.escape(match.group(0)) + r"(?:[^a-z].*|$)", folded):
            continue  # "xian" inside another English word
        return match.group(0)
    return None
