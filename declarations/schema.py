"""The declaration schema: one YAML file per smart declaration (智能申报), validated at load.

A declaration is data, not code: the questions that decide a citizen's situation (办理情形), how
each answer is checked, conditions that skip or add questions, the rules that turn answers into
materials (each with why, and which are exempt because they are checked online), the application
form's fields and where each value comes from, and the next step. `declarations/README.md` shows an
editor how to write one; `load_declarations` names the file and the field of every error.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

FIELD_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"

FieldName = Annotated[str, Field(pattern=FIELD_PATTERN)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]

# How an answer is read and checked (declarations/answers.py has one reader per type).
AnswerType = Literal[
    "choice",  # one of `options` (by label, alias, value or its number)
    "yes_no",  # 是/否 and their many spellings; stored as "yes" / "no"
    "text",  # free text within min/max length
    "name",  # a person's or company's name: 2-40 characters, no digits
    "id_number",  # 居民身份证号码: 18 characters with a valid check digit (python-stdnum cn.ric)
    "uscc",  # 统一社会信用代码 with a valid check digit (python-stdnum cn.uscc)
    "phone",  # 中国大陆手机号
    "date",  # 2024-05-01, 2024/5/1, 2024年5月1日; `not_future` / `not_past`
    "district",  # one of Shanghai's 16 districts (浦东 → 浦东新区)
    "address",  # a street address in Shanghai or elsewhere, 6-120 characters
    "amount",  # money in 元 (万 understood), within min/max
    "integer",  # a count (years, months, people), within min/max
]

# Values a declaration may compute from others instead of asking (declarations/derive.py).
DeriveFn = Literal["birth_date", "age", "gender", "district_of"]

# Where a value came from, recorded for every field of the application.
Provenance = Literal["user", "prefill", "derived"]


class Condition(BaseModel):
    """When a question is asked, a material needed, a stop applies: one test or a combination.

    `{field: x, is: v}`, `{field: x, in: [v, w]}`, `{field: x, at_least: n}`, `{field: x, at_most: n}`,
    `{field: x, filled: true}`; or `{all: [...]}`, `{any: [...]}`, `{not: {...}}`.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    field: FieldName | None = None
    is_: str | None = Field(default=None, alias="is")
    in_: list[str] | None = Field(default=None, alias="in")
    at_least: float | None = None
    at_most: float | None = None
    filled: bool | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        tests = [t for t in (self.is_, self.in_, self.at_least, self.at_most, self.filled) if t is not None]
        combos = [c for c in (self.all, self.any, self.not_) if c is not None]
        if self.field is not None:
            if not tests or combos:
                raise ValueError("a condition on a field needs a test (is, in, at_least, at_most, filled) "
                                 "and no all/any/not")
        elif len(combos) != 1 or tests:
            raise ValueError("a condition is either {field: …, is/in/at_least/at_most/filled: …} "
                             "or exactly one of all / any / not")
        return self

    def fields(self) -> set[str]:
        """Every field this condition reads."""
        names = {self.field} if self.field else set()
        for part in [*(self.all or []), *(self.any or []), *([self.not_] if self.not_ else [])]:
            names |= part.fields()
        return names

    def holds(self, values: dict[str, Any]) -> bool:
        """Whether it holds for these answers (an unanswered field fails every test but `filled`)."""
        if self.all is not None:
            return all(c.holds(values) for c in self.all)
        if self.any is not None:
            return any(c.holds(values) for c in self.any)
        if self.not_ is not None:
            return not self.not_.holds(values)
        value = values.get(self.field or "")
        if self.filled is not None:
            return (value not in (None, "")) == self.filled
        if value is None:
            return False
        if self.is_ is not None and str(value) != self.is_:
            return False
        if self.in_ is not None and str(value) not in self.in_:
            return False
        try:
            number = float(value) if (self.at_least is not None or self.at_most is not None) else 0.0
        except (TypeError, ValueError):
            return False
        if self.at_least is not None and number < self.at_least:
            return False
        return not (self.at_most is not None and number > self.at_most)


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,30}$")]
    label: Label
    aliases: list[Label] = Field(default_factory=list)


class Question(BaseModel):
    """One question of the interview; its answer is the Rasa slot `dq_<field>`."""

    model_config = ConfigDict(extra="forbid")

    field: FieldName
    label: Label  # short name used in the summary and in "改一下<label>"
    ask: Text
    type: AnswerType
    options: list[Option] = Field(default_factory=list, max_length=12)
    hint: Text | None = None
    required: bool = True  # False: the user may skip it (跳过)
    when: Condition | None = None  # asked only when this holds
    # where a consented value comes from, e.g. applicant.hukou.address (declarations/prefill.py)
    prefill: Annotated[str, Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$")] | None = None
    # a record's wording → this question's answer, e.g. {已婚: "yes", 未婚: "no"} (others: not pre-filled)
    prefill_map: dict[str, str] | None = None
    # how a record's value becomes the answer: months_since turns a date (registered_since) into the
    # whole months until today
    prefill_fn: Literal["months_since"] | None = None
    user_only: bool = False  # the user must state it themselves: never pre-filled
    # applicant: the name / id_number the pre-fill lookup checks together; company: a 统一社会信用代码
    # whose register entry the `company.*` pre-fill paths read.
    identifies: Literal["applicant", "company"] | None = None
    min: float | None = None
    max: float | None = None
    not_future: bool = False
    not_past: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.type == "choice" and len(self.options) < 2:
            raise ValueError("a choice question needs at least two options")
        if self.type != "choice" and self.options:
            raise ValueError("only a choice question has options")
        if self.prefill and self.user_only:
            raise ValueError("a user_only question cannot be pre-filled")
        if self.prefill_fn is not None and not self.prefill:
            raise ValueError("prefill_fn needs a prefill path")
        if self.prefill_map is not None and not self.prefill:
            raise ValueError("prefill_map needs a prefill path")
        if self.identifies == "applicant" and self.type not in ("name", "id_number"):
            raise ValueError("only a name or id_number question identifies the applicant")
        if self.identifies == "company" and self.type != "uscc":
            raise ValueError("only a uscc question identifies a company")
        return self


class Derived(BaseModel):
    """A value computed from an answer (age from the 身份证号), never asked."""

    model_config = ConfigDict(extra="forbid")

    field: FieldName
    label: Label
    fn: DeriveFn
    source: FieldName


class Stop(BaseModel):
    """An answer that rules the application out: the interview ends and says why."""

    model_config = ConfigDict(extra="forbid")

    when: Condition
    reason: Text


class Material(BaseModel):
    """One item of the checklist: needed when `when` holds, with the reason it is needed."""

    model_config = ConfigDict(extra="forbid")

    name: Text
    why: Text
    when: Condition | None = None
    # Exempt (免交) when the pre-fill source holds this record for the applicant, e.g. applicant.hukou:
    # the office checks it online.
    exempt_if_record: Annotated[str, Field(pattern=r"^[a-z_]+(\.[a-z_]+)*$")] | None = None
    online_record: Label | None = None  # what the office checks online instead (电子证照 name)


class ApplicationField(BaseModel):
    """A field of the application form, filled from a question or a derived value."""

    model_config = ConfigDict(extra="forbid")

    key: FieldName
    label: Label
    source: FieldName  # a question's or derived value's field
    when: Condition | None = None
    # A service the applicant opts into with the application (同步刻章, 申领社保卡): their own choice,
    # listed with the application but not a data field, so not counted in the pre-filled share.
    service: bool = False


class Consent(BaseModel):
    """The consent question asked before anything is read from the citizen-data service."""

    model_config = ConfigDict(extra="forbid")

    ask: Text
    records: list[Label] = Field(min_length=1)  # what will be read, as the user is told


class Submit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Text  # where to submit
    next_step: Text  # what happens next
    time_limit: Text | None = None


class Declaration(BaseModel):
    """One smart declaration, as an editor writes it in declarations/data/<id>.yaml."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    service_id: Annotated[str, Field(pattern=ID_PATTERN)]  # the guide it belongs to
    title: Label
    intro: Text
    aliases: list[Label] = Field(default_factory=list)  # how people name it (开公司, 居住证)
    consent: Consent | None = None
    questions: list[Question] = Field(min_length=1, max_length=40)
    derived: list[Derived] = Field(default_factory=list)
    stops: list[Stop] = Field(default_factory=list)
    materials: list[Material] = Field(min_length=1)
    application_form: Label
    application: list[ApplicationField] = Field(min_length=1)
    submit: Submit
    source: Text
    reviewed: dt.date

    @model_validator(mode="after")
    def _references(self) -> Declaration:
        asked = [q.field for q in self.questions]
        if len(set(asked)) != len(asked):
            raise ValueError(f"questions: duplicate field {sorted({f for f in asked if asked.count(f) > 1})}")
        if "confirm" in asked or "consent" in asked:
            raise ValueError("questions: 'confirm' and 'consent' are built in and cannot be asked")
        known = set(asked) | {d.field for d in self.derived} | {"consent"}
        if len(known) != len(asked) + len(self.derived) + 1:
            raise ValueError("derived: a derived field has the name of a question")
        for i, q in enumerate(self.questions):
            earlier = set(asked[:i]) | {"consent"} | {d.field for d in self.derived}
            _check_refs(f"questions[{i}].when", q.when, earlier)
        for i, d in enumerate(self.derived):
            if d.source not in asked:
                raise ValueError(f"derived[{i}].source: '{d.source}' is not a question")
        conditions: list[tuple[str, Condition | None]] = [
            *((f"stops[{i}].when", s.when) for i, s in enumerate(self.stops)),
            *((f"materials[{i}].when", m.when) for i, m in enumerate(self.materials)),
            *((f"application[{i}].when", a.when) for i, a in enumerate(self.application)),
        ]
        for where, cond in conditions:
            _check_refs(where, cond, known)
        for i, app in enumerate(self.application):
            if app.source not in known - {"consent"}:
                raise ValueError(f"application[{i}].source: '{app.source}' is neither a question nor derived")
        if any(q.prefill for q in self.questions) and self.consent is None:
            raise ValueError("consent: a declaration that pre-fills must ask for consent")
        if self.consent is not None:
            ids = {q.type for q in self.questions if q.identifies == "applicant"}
            if ids != {"name", "id_number"}:
                raise ValueError("questions: pre-fill needs a name and an id_number question with "
                                 "identifies: applicant")
        return self

    def question(self, field: str) -> Question | None:
        return next((q for q in self.questions if q.field == field), None)


def _check_refs(where: str, cond: Condition | None, known: set[str]) -> None:
    if cond is None:
        return
    unknown = cond.fields() - known
    if unknown:
        raise ValueError(f"{where}: unknown or later field(s) {sorted(unknown)}")
