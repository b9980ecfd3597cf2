"""The interview over one declaration's data: what to ask next, pre-fill, checklist, application.

Channel- and Rasa-neutral: answers are a dict field → value (the form's `dq_<field>` slots), and
`Progress` is the rest of the interview's state (the `declaration` slot, and the stored draft).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from declarations.derive import DERIVE
from declarations.prefill import Lookup, PrefillSource
from declarations.schema import Declaration, Question

SKIPPED: Final = "__skipped__"  # an optional question the user skipped (the slot is filled)
CONSENT: Final = "consent"
CONFIRM: Final = "confirm"
# Unambiguous letters and digits (no 0/O, 1/I/L): the resume code (续办码) and the random part of
# the 申报编号 (records/declarations.py), both read aloud or typed by people.
CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

Status = Literal["asking", "confirming", "submitting", "done", "cancelled", "paused"]


def new_resume_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


@dataclass
class Progress:
    """Where an interview stands besides its answers (kept in the `declaration` slot and the draft)."""

    id: str
    status: Status = "asking"
    resume_code: str = field(default_factory=new_resume_code)
    provenance: dict[str, dict[str, str | None]] = field(default_factory=dict)  # field → source, record
    records: dict[str, bool] = field(default_factory=dict)  # exempt_if_record path → record found
    looked_up: bool = False  # the consented lookup ran (once per identity)
    lookup_found: bool = False
    asked: list[str] = field(default_factory=list)  # fields in the order answered (for 上一步)
    ref: str | None = None
    reason: str | None = None  # why it ended early (a stop's reason) or paused (handoff)
    draft_id: str | None = None  # its row in the database of record

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Progress | None:
        if not data or "id" not in data:
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def consent_question(decl: Declaration) -> Question | None:
    if decl.consent is None:
        return None
    records = "、".join(decl.consent.records)
    return Question(field=CONSENT, label="授权预填", type="yes_no",
                    ask=f"{decl.consent.ask}（将读取：{records}）",
                    options=[], hint="回复“同意”授权，或“不同意”自己填写")


def questions(decl: Declaration) -> list[Question]:
    """The interview's questions in order, the built-in consent question first."""
    first = consent_question(decl)
    return ([first] if first else []) + list(decl.questions)


def values(decl: Declaration, answers: dict[str, Any], today: dt.date | None = None) -> dict[str, Any]:
    """Answers (skipped ones as None) with the derived values, as conditions and rules read them."""
    today = today or dt.date.today()
    out: dict[str, Any] = {k: (None if v == SKIPPED else v) for k, v in answers.items() if v is not None}
    for d in decl.derived:
        source = out.get(d.source)
        if source:
            computed = DERIVE[d.fn](str(source), today)
            if computed is not None:
                out[d.field] = computed
    return out


def visible(decl: Declaration, answers: dict[str, Any]) -> list[Question]:
    """The questions that apply given the answers so far (a `when` that fails hides its question)."""
    vals = values(decl, answers)
    return [q for q in questions(decl) if q.when is None or q.when.holds(vals)]


def next_question(decl: Declaration, answers: dict[str, Any]) -> Question | None:
    """The first applicable question without an answer, or None when all are answered."""
    return next((q for q in visible(decl, answers) if answers.get(q.field) is None), None)


def stop_reason(decl: Declaration, answers: dict[str, Any]) -> str | None:
    vals = values(decl, answers)
    return next((s.reason for s in decl.stops if s.when.holds(vals)), None)


def find(decl: Declaration, text: str) -> Question | None:
    """The question the user names in "改一下住址" (by label, or the longest label mentioned)."""
    hits = [q for q in questions(decl) if q.label in text]
    return max(hits, key=lambda q: len(q.label)) if hits else None


def identity(decl: Declaration, answers: dict[str, Any]) -> tuple[str, str] | None:
    """The applicant's (身份证号, name) once both are answered."""
    by_type = {q.type: answers.get(q.field) for q in decl.questions if q.identifies == "applicant"}
    number, name = by_type.get("id_number"), by_type.get("name")
    if number and name and SKIPPED not in (number, name):
        return str(number), str(name)
    return None


@dataclass
class Prefilled:
    values: dict[str, str]  # field → value
    records: dict[str, str]  # field → record it came from
    exempt: dict[str, bool]  # material record path → found
    found: bool  # the applicant was found at all


def prefill(decl: Declaration, answers: dict[str, Any], source: PrefillSource) -> Prefilled:
    """With consent given and identity answered: what the citizen-data source fills in now.

    Only questions that apply, have a `prefill` path and no answer yet are filled; `user_only`
    ones never are. It runs after every answer, so a question that comes to apply later (or a
    company named later) is filled when it does.
    """
    ident = identity(decl, answers)
    empty = Prefilled({}, {}, {}, False)
    if answers.get(CONSENT) != "yes" or ident is None:
        return empty
    person = source.person(*ident)
    if person is None:
        return empty
    company = next((answers.get(q.field) for q in decl.questions if q.identifies == "company"), None)
    lookup = Lookup(source, person, str(company) if company and company != SKIPPED else None)
    filled: dict[str, str] = {}
    records: dict[str, str] = {}
    working = dict(answers)
    while True:  # a filled answer can make further questions apply (户籍 → 户籍地址)
        new = 0
        for q in visible(decl, working):
            if q.prefill and not q.user_only and working.get(q.field) is None:
                found = lookup.get(q.prefill)
                value = found.value if found is not None else None
                if found is not None and q.prefill_map is not None:
                    value = q.prefill_map.get(found.value)
                if value is not None and q.prefill_fn == "months_since":
                    value = months_since(value, dt.date.today())
                if found is not None and value is not None:
                    filled[q.field], records[q.field] = value, found.record
                    working[q.field] = value
                    new += 1
        if not new:
            break
    exempt = {m.exempt_if_record: lookup.has(m.exempt_if_record)
              for m in decl.materials if m.exempt_if_record}
    return Prefilled(filled, records, exempt, True)


def checklist(decl: Declaration, answers: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """The materials this situation needs, each with why; exempt ones say what is checked instead."""
    vals = values(decl, answers)
    items: list[dict[str, Any]] = []
    for m in decl.materials:
        if m.when is not None and not m.when.holds(vals):
            continue
        exempt = bool(m.exempt_if_record and progress.records.get(m.exempt_if_record))
        items.append({"name": m.name, "why": m.why, "exempt": exempt,
                      "online_record": m.online_record if exempt else None})
    return items


def application(decl: Declaration, answers: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """The application form's fields with their values and where each value came from."""
    shown = {q.field for q in visible(decl, answers)}
    vals = {k: v for k, v in values(decl, answers).items()
            if k in shown or decl.question(k) is None}  # a hidden question's old answer is not used
    derived = {d.field for d in decl.derived}
    out: list[dict[str, Any]] = []
    used: set[str] = set()  # sources already shown: a later field with the same source is copied
    for f in decl.application:
        if f.when is not None and not f.when.holds(vals):
            continue
        if decl.question(f.source) is not None and f.source not in shown:
            continue
        value = vals.get(f.source)
        source: str | None
        record: str | None
        if f.source in derived:
            source, record = ("derived", None) if value is not None else (None, None)
        else:
            prov = progress.provenance.get(f.source) or {}
            source, record = prov.get("source"), prov.get("record")
            if source == "user" and f.source in used:  # 股东姓名 = 法定代表人姓名: filled in, not typed
                source = "derived"
        used.add(f.source)
        out.append({"key": f.key, "label": f.label, "value": display(decl, f.source, value),
                    "source": source if value is not None else None, "record": record,
                    "service": f.service})
    return out


def prefill_share(fields: list[dict[str, Any]]) -> float:
    """Share of the application's data fields the user did not have to type (pre-filled or derived).

    Services the applicant opts into (`service: true`) are their own choice, not data: not counted.
    """
    data = [f for f in fields if not f.get("service")]
    if not data:
        return 0.0
    return sum(1 for f in data if f["source"] in ("prefill", "derived")) / len(data)


def months_since(date_text: str, today: dt.date) -> str | None:
    """Whole months from a record's date (2024-06-15) until today, as an answer ("29")."""
    try:
        start = dt.date.fromisoformat(str(date_text)[:10])
    except ValueError:
        return None
    months = (today.year - start.year) * 12 + today.month - start.month - (today.day < start.day)
    return str(max(months, 0))


def display(decl: Declaration, field_name: str, value: Any) -> str | None:
    """A stored value as the user reads it (an option's label, 是/否)."""
    if value is None:
        return None
    q = decl.question(field_name)
    if field_name == CONSENT or (q is not None and q.type == "yes_no"):
        return {"yes": "是", "no": "否"}.get(str(value), str(value))
    if q is not None and q.type == "choice":
        return next((o.label for o in q.options if o.value == value), str(value))
    return str(value)


def summary(decl: Declaration, answers: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """Every applicable answer for the confirmation step, with where it came from."""
    rows = []
    for q in visible(decl, answers):
        if q.field == CONSENT:
            continue
        value = answers.get(q.field)
        prov = progress.provenance.get(q.field) or {}
        rows.append({"field": q.field, "label": q.label,
                     "value": "（已跳过）" if value == SKIPPED else display(decl, q.field, value),
                     "source": prov.get("source"), "record": prov.get("record")})
    return rows
