"""Synonym groups of record: terms editors declare equivalent, applied to search at once.

A group is 2–20 terms (沪牌, 非营业性客车额度, 沪牌额度). A term may belong to one group only, so
an expansion never chains through groups an editor did not mean to join. Every change is audited
(records.guides' audit log); the gateway mirrors the groups to the action servers with the
out-of-scope marks (knowledge_base.rules).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.markup import has_markup
from knowledge_base.normalize import fold_text
from knowledge_base.rules import MAX_GROUPS, MAX_TERM_CHARS, MAX_TERMS
from records.db import Database
from records.guides import GuideRecordError, _utc, utcnow
from records.models import AuditRow, SynonymGroupRow

MAX_NOTE: Final = 500


@dataclass(frozen=True)
class SynonymGroup:
    id: int
    terms: list[str]
    note: str
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "terms": self.terms, "note": self.note, "created_by": self.created_by,
                "created_at": self.created_at.isoformat(), "updated_by": self.updated_by,
                "updated_at": self.updated_at.isoformat()}


def _refuse(message: str) -> GuideRecordError:
    return GuideRecordError("invalid_synonyms", message)


def clean_terms(terms: Sequence[Any]) -> list[str]:
    """The terms as stored: trimmed, distinct (after folding), each checked; ValueError-free."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in terms:
        if not isinstance(raw, str):
            raise _refuse("同义词应为文字 / Each term must be text.")
        term = " ".join(raw.split())
        if not term:
            continue
        if len(term) > MAX_TERM_CHARS:
            raise _refuse(f"同义词“{term[:10]}…”过长（上限 {MAX_TERM_CHARS} 字） / "
                          f"A term is longer than {MAX_TERM_CHARS} characters.")
        if has_markup(term) or not fold_text(term):
            raise _refuse(f"同义词“{term[:10]}”含有不允许的字符 / A term holds markup or no word.")
        key = fold_text(term)
        if key not in seen:
            seen.add(key)
            out.append(term)
    if not 2 <= len(out) <= MAX_TERMS:
        raise _refuse(f"一组同义词应有 2 到 {MAX_TERMS} 个不同的词 / A group needs 2 to {MAX_TERMS} "
                      "different terms.")
    return out


class SqlSynonyms:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def all(self) -> list[SynonymGroup]:
        with self.db.sessions() as s:
            return [self._group(r) for r in s.scalars(select(SynonymGroupRow).order_by(SynonymGroupRow.id))]

    def terms(self) -> list[list[str]]:
        """Every group's terms (what search applies)."""
        return [g.terms for g in self.all()]

    def add(self, terms: Sequence[Any], *, by: str, note: str = "") -> SynonymGroup:
        clean = clean_terms(terms)
        with self.db.sessions.begin() as s:
            if s.query(SynonymGroupRow).count() >= MAX_GROUPS:
                raise _refuse(f"同义词组已达上限 {MAX_GROUPS} / At most {MAX_GROUPS} groups.")
            self._check_unique(s, clean, None)
            now = self.clock()
            row = SynonymGroupRow(terms=clean, note=note[:MAX_NOTE], created_by=by, created_at=now,
                                  updated_by=by, updated_at=now)
            s.add(row)
            s.flush()
            self._audit(s, by, "synonyms_add", row.id, terms=clean, note=note[:MAX_NOTE])
            return self._group(row)

    def update(self, group_id: int, terms: Sequence[Any], *, by: str,
               note: str | None = None) -> SynonymGroup:
        clean = clean_terms(terms)
        with self.db.sessions.begin() as s:
            row = self._row(s, group_id)
            self._check_unique(s, clean, group_id)
            before = list(row.terms)
            row.terms, row.updated_by, row.updated_at = clean, by, self.clock()
            if note is not None:
                row.note = note[:MAX_NOTE]
            self._audit(s, by, "synonyms_update", group_id, before=before, after=clean)
            return self._group(row)

    def delete(self, group_id: int, *, by: str) -> None:
        with self.db.sessions.begin() as s:
            row = self._row(s, group_id)
            self._audit(s, by, "synonyms_delete", group_id, terms=list(row.terms))
            s.delete(row)

    def _check_unique(self, s: Session, terms: list[str], own_id: int | None) -> None:
        mine = {fold_text(t) for t in terms}
        for other in s.scalars(select(SynonymGroupRow)):
            if other.id == own_id:
                continue
            shared = mine & {fold_text(t) for t in other.terms}
            if shared:
                raise GuideRecordError(
                    "synonym_conflict", f"“{sorted(shared)[0]}”已在第 {other.id} 组同义词中 / "
                    f"A term is already in synonym group {other.id}.", {"group": other.id})

    def _audit(self, s: Session, actor: str, action: str, group_id: int, **detail: Any) -> None:
        s.add(AuditRow(at=self.clock(), actor=actor[:64], action=action, target=f"synonyms:{group_id}",
                       detail=detail))

    @staticmethod
    def _row(s: Session, group_id: int) -> SynonymGroupRow:
        row = s.get(SynonymGroupRow, group_id)
        if row is None:
            raise GuideRecordError("synonyms_not_found",
                                   f"没有编号为 {group_id} 的同义词组 / No synonym group {group_id}.")
        return row

    @staticmethod
    def _group(row: SynonymGroupRow) -> SynonymGroup:
        now = utcnow()
        return SynonymGroup(row.id, list(row.terms), row.note, row.created_by, _utc(row.created_at) or now,
                            row.updated_by, _utc(row.updated_at) or now)
