"""Words of ours typed with the wrong character of the same sound (拼音输入法选错字).

People type Chinese by pinyin and pick the wrong one of several characters that sound alike:
食品精营许可证 (经营), 企业年包 (年报), 咨询电化 (电话), 燃其 (燃气), 小升出 (小升初). Such a word
is not in our dictionary, so the search, the classifier and the scope checks all see an unknown
word, and the scope checks may even take it for another service's name. typos.yaml lists the
common ones by hand; this finds the rest: a run of 2–6 characters that is not a word of ours and
sounds (toneless pinyin) exactly like one word of ours and no other, and differs from it in one
character, is that word — unless it is a word of jieba's dictionary itself (公正, 截肢), a real word
begins inside it (身份证和医保卡: 和医 sounds like 合一, but 医保卡 starts at 医), or it involves one of
the commonest characters (不, 没, 里 …).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from pypinyin import Style, lazy_pinyin, pinyin

MIN_LEN: Final[int] = 2
MAX_LEN: Final[int] = 6
_FUNCTION: Final = frozenset(
    "了是在和有不的也就这都还个那可里没么吗呢吧啊把被给跟从对说很太又再才只我你他她它们来到得地着过之办辦找"
    "伐侬阿拉啥勿伊")
"""Characters typed so often that they are neither slipped into nor part of one: 可以不办 is not a
slip for 补办, 微信里 not for 心里, 没欠钱 not for 没钱."""
_CJK_RUN: Final = re.compile(r"[\u4e00-\u9fff]{2,}")


@functools.lru_cache(maxsize=16384)
def reading(char: str) -> str:
    """The character's usual toneless pinyin (what a slip shares with the word meant). Every
    reading of a character with several (限 has a rare "wen") would make 有问 sound like 有限."""
    return pinyin(char, style=Style.NORMAL)[0][0]


def sound(text: str) -> tuple[str, ...]:
    return tuple(reading(c) for c in text)


class Homophones:
    """Our words by sound, and the correction of a text's runs that sound like one of them."""

    def __init__(self, words: Iterable[str], frequency: Mapping[str, int],
                 cut: Callable[[str], Iterable[str]], others: Iterable[str] = ()) -> None:
        """`words`: our vocabulary (Chinese, 2+ characters); `frequency`: word counts of the
        language (jieba's dictionary), which tell a real word from a slip; `cut`: segmentation of a
        run of Chinese (our dictionary's, without guessing unknown words); `others`: words of the
        services next to ours, corrected to only where they share no sound with a word of ours (a
        neighbour's 保管 must not make 报官 stop meaning 报关)."""
        self._cut = cut
        self._frequency = frequency
        self._by_sound = self._unique(words)
        for key, word in self._unique(others).items():
            self._by_sound.setdefault(key, word)

    @staticmethod
    def _unique(words: Iterable[str]) -> dict[tuple[str, ...], str]:
        by_sound: dict[tuple[str, ...], set[str]] = {}
        for word in sorted({w for w in words if MIN_LEN <= len(w) <= MAX_LEN and _CJK_RUN.fullmatch(w)}):
            # Each character's usual reading, and the word's own (长护险's 长 read in context).
            for key in {sound(word), tuple(lazy_pinyin(word, style=Style.NORMAL))}:
                by_sound.setdefault(key, set()).add(word)
        # A sound shared by two words (公示 / 公式) says nothing about which was meant.
        return {key: next(iter(ws)) for key, ws in by_sound.items() if len(ws) == 1}

    def correct(self, text: str) -> str:
        """The text with every slip replaced by the word it sounds like."""
        if not self._by_sound:
            return text
        return _CJK_RUN.sub(lambda m: self._run(m.group(0)), text)

    @staticmethod
    def _one_slip(typed: str, word: str) -> bool:
        slips = [i for i, (a, b) in enumerate(zip(typed, word, strict=True)) if a != b]
        return len(slips) == 1 and not any(c in _FUNCTION for c in typed + word)

    def _run(self, run: str) -> str:
        """Slips are looked for only among the characters that segmentation leaves single (精/营 of
        食品精营许可证): a run of words (多大年纪能) holds none, and a window across a word would
        take 年纪's 纪 for part of a slip."""
        out: list[str] = []
        single: list[str] = []
        for token in [*self._cut(run), ""]:
            if len(token) == 1:
                single.append(token)
                continue
            out.append(self._span("".join(single)))
            single = []
            out.append(token)
        return "".join(out)

    def _span(self, span: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(span):
            fixed = None
            for n in range(min(MAX_LEN, len(span) - i), MIN_LEN - 1, -1):
                typed = span[i : i + n]
                word = self._by_sound.get(sound(typed))
                if word is not None and self._one_slip(typed, word) and not self._frequency.get(typed):
                    fixed = (n, word)
                    break
            if fixed is not None:
                out.append(fixed[1])
                i += fixed[0]
            else:
                out.append(span[i])
                i += 1
        return "".join(out)
