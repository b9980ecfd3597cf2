"""The made-up 养犬登记证 guide that editors write in tests/integration/test_editors.py and in
benchmarks/bench_editor.py (a guide no seed file has)."""

from __future__ import annotations


def dog_license_sections(fee: str) -> dict[str, str]:
    """The guide's sections; `fee` is the text a replace changes, so chat can show which write it saw."""
    return {
        "overview": "在本市饲养犬只，应当向居住地派出所申请养犬登记，取得养犬登记证。",
        "eligibility": "具有完全民事行为能力的本市居民，每户限养一条犬。",
        "materials": "- 身份证\n- 犬只免疫证明\n- 犬只照片",
        "process": "1. 免疫\n2. 到派出所申请\n3. 领取登记证",
        "time_limit": "材料齐全当场办结，登记证有效期一年。",
        "fee": fee,
        "channel": "居住地派出所，或随申办「养犬登记」。",
        "contact": "12345 市民服务热线",
    }
