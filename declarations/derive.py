"""Values a declaration computes from an answer instead of asking (schema.DeriveFn)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from declarations.answers import SHANGHAI_DISTRICTS


def birth_date(id_number: str, _today: dt.date) -> str | None:
    digits = id_number[6:14]
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])).isoformat()
    except ValueError:
        return None


def age(id_number: str, today: dt.date) -> str | None:
    born = birth_date(id_number, today)
    if born is None:
        return None
    b = dt.date.fromisoformat(born)
    return str(today.year - b.year - ((today.month, today.day) < (b.month, b.day)))


def gender(id_number: str, _today: dt.date) -> str | None:
    # The 17th digit of a 居民身份证号 is odd for men and even for women (GB 11643).
    return ("男" if int(id_number[16]) % 2 else "女") if len(id_number) == 18 else None


def district_of(address: str, _today: dt.date) -> str | None:
    return next((d for d in SHANGHAI_DISTRICTS if d in address or d.removesuffix("区") in address), None)


DERIVE: dict[str, Callable[[str, dt.date], str | None]] = {
    "birth_date": birth_date, "age": age, "gender": gender, "district_of": district_of,
}
