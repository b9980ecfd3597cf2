"""Masking personal data (身份证号, 手机号) before anything is logged."""

from __future__ import annotations

import re
from typing import Final

# 18-digit resident ID (the last may be X) or a 15-digit legacy ID; mainland mobile numbers.
_ID_CARD: Final = re.compile(r"(?<![\dA-Za-z])(\d{17}[\dXx]|\d{15})(?![\dA-Za-z])")
_MOBILE: Final = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")


def mask_pii(text: str) -> str:
    """The text with ID card numbers (3101**********1234) and mobiles (138****5678) masked."""
    text = _ID_CARD.sub(lambda m: m.group(1)[:4] + "*" * (len(m.group(1)) - 8) + m.group(1)[-4:], text)
    return _MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", text)
