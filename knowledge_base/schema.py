"""The guide schema: every guide is validated against it before it is indexed or stored."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from knowledge_base.constants import SECTIONS
from knowledge_base.markup import MARKUP_MESSAGE, has_markup

GUIDE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"
# Guide text reaches web pages, the widget and WeChat: HTML (as nh3's parser sees it) and script
# URLs are refused (knowledge_base/markup.py); Markdown autolinks such as <https://…> are fine.


def _no_markup(value: str) -> str:
    if has_markup(value):
        raise ValueError(MARKUP_MESSAGE)
    return value


ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_markup)
]
SectionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), AfterValidator(_no_markup)
]


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
    theme: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=50), AfterValidator(_no_markup)
    ] = ""
    sections: Sections
    aliases: list[ShortText] = Field(default_factory=list, max_length=50)
    sample_questions: list[ShortText] = Field(default_factory=list, max_length=200)
    situations: list[Situation] = Field(default_factory=list, max_length=30)
    source: ShortText
    reviewed: dt.date

    def section(self, name: str) -> str:
        """Text of one section."""
        return self.sections.get(name)
