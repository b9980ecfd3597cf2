"""The editors' inbox: questions 小申 could not answer well, from real traffic, grouped by similarity.

A turn that fell to out-of-scope, a clarification, a low-confidence answer or a correction by the
user (and a 差评) is recorded with its question masked (contract.pii). Questions are grouped by
their search tokens (knowledge_base.normalize.tokenize: the same normalisation and jieba
segmentation as search): a question joins the open group whose first question's tokens overlap
most (Jaccard ≥ SIMILAR), else starts a group. Editors attach a group to a guide as a sample
question, mark it out of scope, note the guide drafted from it, or merge groups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select

from contract.pii import mask_pii
from records.db import Database
from records.guides import GuideRecordError, _utc, utcnow
from records.models import InboxGroupRow, InboxItemRow

SIMILAR: Final = 0.5
REASONS: Final = ("out_of_scope", "clarify", "low_confidence", "correction", "bad_rating")
RESOLUTIONS: Final = ("attached", "out_of_scope", "drafted")
MAX_TEXT: Final = 500
EXAMPLES: Final = 5
MATCHED: Final = ("open", "out_of_scope")
MAX_MARKED: Final = 5000


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass(frozen=True)
class Group:
    id: int
    example: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    status: str
    guide_id: str | None
    merged_into: int | None
    reasons: dict[str, int]
    examples: list[dict[str, Any]]  # the newest questions: text, reason, channel, sender_id, at

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "example": self.example, "count": self.count,
                "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(),
                "status": self.status, "guide_id": self.guide_id, "merged_into": self.merged_into,
                "reasons": self.reasons, "examples": self.examples}


class SqlInbox:
    def __init__(self, db: Database, tokenize: Callable[[str], Sequence[str]],
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.tokenize = tokenize
        self.clock = clock

    def record(self, text: str, reason: str, *, channel: str = "", sender_id: str = "") -> int:
        """File one question; returns its group's id."""
        if reason not in REASONS:
            raise ValueError(f"unknown inbox reason {reason!r}")
        masked = mask_pii(" ".join(text.split()))[:MAX_TEXT]
        tokens = set(self.tokenize(masked))
        now = self.clock()
        with self.db.sessions.begin() as s:
            best, best_score = None, 0.0
            # A question like one marked out of scope is counted there (editors see it keeps coming).
            for g in s.scalars(select(InboxGroupRow).where(InboxGroupRow.status.in_(MATCHED))):
                score = jaccard(tokens, set(g.tokens))
                if score > best_score:
                    best, best_score = g, score
            if best is None or best_score < SIMILAR:
                best = InboxGroupRow(tokens=sorted(tokens), example=masked, count=0, first_seen=now,
                                     last_seen=now, status="open")
                s.add(best)
                s.flush()
            best.count += 1
            best.last_seen = now
            s.add(InboxItemRow(group_id=best.id, at=now, text=masked, reason=reason, channel=channel[:32],
                               sender_id=sender_id[:128]))
            return int(best.id)

    def groups(self, status: str | None = "open", limit: int = 100) -> list[Group]:
        """Groups by how often they came up (then most recent first)."""
        with self.db.sessions() as s:
            q = select(InboxGroupRow)
            if status:
                q = q.where(InboxGroupRow.status == status)
            rows = s.scalars(q.order_by(InboxGroupRow.count.desc(), InboxGroupRow.last_seen.desc())
                             .limit(limit)).all()
            return [self._group(s, r) for r in rows]

    def group(self, group_id: int) -> Group:
        with self.db.sessions() as s:
            return self._group(s, self._row(s, group_id))

    def resolve(self, group_id: int, status: str, *, by: str, guide_id: str | None = None) -> Group:
        """attached (a sample question of guide_id), out_of_scope, or drafted (guide_id)."""
        if status not in RESOLUTIONS:
            raise ValueError(f"unknown resolution {status!r}")
        with self.db.sessions.begin() as s:
            row = self._row(s, group_id)
            if row.status == "merged":
                raise GuideRecordError("inbox_merged", f"问题组 {group_id} 已合并到 {row.merged_into} / "
                                       f"Group {group_id} was merged into {row.merged_into}.")
            row.status, row.guide_id, row.resolved_by, row.resolved_at = status, guide_id, by, self.clock()
        return self.group(group_id)

    def reopen(self, group_id: int, *, by: str) -> Group:
        with self.db.sessions.begin() as s:
            row = self._row(s, group_id)
            row.status, row.guide_id, row.resolved_by, row.resolved_at = "open", None, by, self.clock()
        return self.group(group_id)

    def merge(self, into: int, others: Sequence[int], *, by: str) -> Group:
        """Move the questions of `others` into `into` (counts and dates follow); others are marked merged."""
        with self.db.sessions.begin() as s:
            target = self._row(s, into)
            for other_id in others:
                if other_id == into:
                    continue
                other = self._row(s, other_id)
                if other.status == "merged":
                    continue
                for item in s.scalars(select(InboxItemRow).where(InboxItemRow.group_id == other_id)):
                    item.group_id = into
                target.count += other.count
                now = self.clock()
                target.first_seen = min(_utc(target.first_seen) or now, _utc(other.first_seen) or now)
                target.last_seen = max(_utc(target.last_seen) or now, _utc(other.last_seen) or now)
                other.count, other.status, other.merged_into = 0, "merged", into
                other.resolved_by, other.resolved_at = by, self.clock()
        return self.group(into)

    def questions(self, group_id: int) -> list[str]:
        """The distinct questions of a group, most frequent first."""
        with self.db.sessions() as s:
            self._row(s, group_id)
            rows = s.execute(select(InboxItemRow.text, func.count()).where(InboxItemRow.group_id == group_id)
                             .group_by(InboxItemRow.text).order_by(func.count().desc())).all()
            return [text for text, _ in rows]

    def out_of_scope_questions(self) -> list[str]:
        """Every distinct question of the groups marked out of scope (the bot declines them)."""
        with self.db.sessions() as s:
            q = (select(InboxItemRow.text).join(InboxGroupRow, InboxGroupRow.id == InboxItemRow.group_id)
                 .where(InboxGroupRow.status == "out_of_scope").distinct()
                 .order_by(InboxItemRow.text).limit(MAX_MARKED))
            rows = s.execute(q).all()
            return [text for (text,) in rows]

    @staticmethod
    def _row(s: Any, group_id: int) -> InboxGroupRow:
        row = s.get(InboxGroupRow, group_id)
        if row is None:
            raise GuideRecordError("inbox_not_found",
                                   f"没有编号为 {group_id} 的问题组 / No inbox group {group_id}.")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _group(s: Any, row: InboxGroupRow) -> Group:
        reasons = dict(s.execute(select(InboxItemRow.reason, func.count())
                                 .where(InboxItemRow.group_id == row.id).group_by(InboxItemRow.reason)).all())
        items = s.scalars(select(InboxItemRow).where(InboxItemRow.group_id == row.id)
                          .order_by(InboxItemRow.at.desc()).limit(EXAMPLES)).all()
        examples = [{"text": i.text, "reason": i.reason, "channel": i.channel, "sender_id": i.sender_id,
                     "at": (_utc(i.at) or utcnow()).isoformat()} for i in items]
        return Group(row.id, row.example, row.count, _utc(row.first_seen) or utcnow(),
                     _utc(row.last_seen) or utcnow(), row.status, row.guide_id, row.merged_into,
                     {str(k): int(v) for k, v in reasons.items()}, examples)
