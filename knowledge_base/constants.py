"""Names shared by the knowledge base, the action server and the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

SECTIONS: Final[tuple[str, ...]] = (
    "overview",
    "eligibility",
    "materials",
    "process",
    "time_limit",
    "fee",
    "channel",
    "contact",
)
Section = Literal[
    "overview", "eligibility", "materials", "process", "time_limit", "fee", "channel", "contact"
]

SECTION_TITLES: Final[dict[str, str]] = {
    "overview": "办理概述",
    "eligibility": "申请条件",
    "materials": "所需材料",
    "process": "办理流程",
    "time_limit": "办理时限",
    "fee": "收费标准",
    "channel": "办理渠道",
    "contact": "咨询电话",
}

PACKAGE_DIR: Final[Path] = Path(__file__).resolve().parent
GUIDES_DIR: Final[Path] = PACKAGE_DIR / "guides"
LEXICON_DIR: Final[Path] = PACKAGE_DIR / "lexicon"
