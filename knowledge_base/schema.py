"""The guide schema: every guide is validated against it before it is indexed or stored."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from knowledge_base.constants import SECTIONS

GUIDE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"
_TAG = re.compile(r"<\s*/?\s*(script|iframe|object|embed|style)\b", re.IGNORECASE)

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SectionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class Sections(BaseModel):
    """The eight contract sections; each is required and non-empty."""

    model_config = ConfigDict(extra="forbid")

    overview: SectionText
    eligibility: SectionText
    materials: SectionText
    process: SectionText
    time_limit: SectionText
    fee: SectionText
    channel: SectionText
    contact: SectionText

    def get(self, section: str) -> str:
        """Text of one section by its contract name."""
        if section not in SECTIONS:
            raise KeyError(section)
        return str(getattr(self, section))


class Situation(BaseModel):
    """A 情形 in which materials or steps differ from the general case."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    materials: SectionText | None = None
    process: SectionText | None = None
    note: SectionText | None = None


class Guide(BaseModel):
    """One service guide (办事指南), as stored, indexed and exchanged with editors."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=GUIDE_ID_PATTERN)]
    title: ShortText
    audience: Literal["citizen", "enterprise"] = "citizen"
    theme: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] = ""
    sections: Sections
    aliases: list[ShortText] = Field(default_factory=list, max_length=50)
    sample_questions: list[ShortText] = Field(default_factory=list, max_length=200)
    situations: list[Situation] = Field(default_factory=list, max_length=30)
    source: ShortText
    reviewed: dt.date

    @field_validator("title", "aliases", "sample_questions", mode="after")
    @classmethod
    def _no_markup(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        for item in items:
            if _TAG.search(item):
                raise ValueError("HTML/script markup is not allowed / 不允许包含 HTML 或脚本标记")
        return value

    @field_validator("sections", mode="after")
    @classmethod
    def _no_script_in_sections(cls, value: Sections) -> Sections:
        for name in SECTIONS:
            if _TAG.search(value.get(name)):
                raise ValueError(f"{name}: HTML/script markup is not allowed / 不允许包含脚本标记")
        return value

    def section(self, name: str) -> str:
        """Text of one section."""
        return self.sections.get(name)
