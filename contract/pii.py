"""Masking personal data before anything is logged, shown in an inbox or exported.

Standard library only: the gateway, the action server and Rasa (its own environment, through
`config/rasa_logging.yml`) all format their log lines with `MaskingFormatter`.

Masked: 身份证号 (18 digits, last may be X, also written with spaces or dashes, a lower-case x or
full-width digits; and the 15-digit legacy number), bank card numbers (16–19 digits, grouped or
not), mainland mobile numbers (+86, spaces, dashes), landlines with an area code (021-12345678,
(021) 1234 5678) and e-mail addresses. Short service numbers (12345, 12329) are not personal data.
"""

from __future__ import annotations

import logging
import re
from typing import Final

_D: Final = "[0-9０-９]"  # a digit, ASCII or full-width
_X: Final = "[0-9０-９XxＸｘ]"  # the ID card's last character
_SEP: Final = r"[ \-－‐]?"  # a space or dash between groups
_NOT_BEFORE: Final = r"(?<![0-9０-９A-Za-z])"
_NOT_AFTER: Final = r"(?![0-9０-９A-Za-z])"

_EMAIL: Final = re.compile(
    r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*(@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
_ID_CARD: Final = re.compile(
    _NOT_BEFORE + f"({_D}{{6}}{_SEP}{_D}{{4}}{_SEP}?{_D}{{4}}{_SEP}{_D}{{3}}{_X}|{_D}{{15}})" + _NOT_AFTER)
_BANK_CARD: Final = re.compile(
    _NOT_BEFORE + f"({_D}{{4}}(?:{_SEP}{_D}{{4}}){{3}}(?:{_SEP}?{_D}{{1,3}})?|{_D}{{16,19}})" + _NOT_AFTER)
_MOBILE: Final = re.compile(
    r"(?<![0-9０-９])((?:\+|＋)?(?:86|８６)[ \-]?)?(1[3-9]" + _D + r"|１[３-９]" + _D + ")"
    + _SEP + f"({_D}{{4}})" + _SEP + f"({_D}{{4}})" + r"(?![0-9０-９])")
_LANDLINE: Final = re.compile(
    r"(?<![0-9０-９])(\(?0" + _D + r"{2,3}\)?)[ \-－]?(" + _D + r"{3,4})[ \-－]?(" + _D + r"{4})"
    r"(?![0-9０-９])")


def _keep_ends(value: str, head: int, tail: int) -> str:
    chars = [c for c in value if c not in " -－‐"]
    return "".join(chars[:head]) + "*" * max(0, len(chars) - head - tail) + "".join(chars[-tail:])


def mask_pii(text: str) -> str:
    """The text with personal numbers and addresses masked (3101**********1234, 138****5678)."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)
    text = _ID_CARD.sub(lambda m: _keep_ends(m.group(1), 4, 4), text)
    text = _BANK_CARD.sub(lambda m: _keep_ends(m.group(1), 4, 4), text)
    text = _MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)


class MaskingFormatter(logging.Formatter):
    """A formatter whose every line (message, arguments, exceptions) has personal data masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_pii(super().format(record))
