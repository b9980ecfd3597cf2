"""The declaration repository: drafts saved at every answer, records with a 申报编号 once submitted.

`DeclarationStore` is the interface (one contract test class runs it on SQLite and PostgreSQL);
`SqlDeclarationStore` is the SQLAlchemy implementation.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from declarations.interview import CODE_ALPHABET
from records.db import Database
from records.models import DeclarationRow

OPEN_STATUSES = ("asking", "confirming", "paused")
RESUME_DAYS = 7  # a 续办码 finds a draft changed within this many days (the bot says so when pausing)


def new_ref(today: dt.date | None = None) -> str:
    """A 申报编号 such as XS20261202-7KQ2MD (date for the clerk, random part against guessing)."""
    day = (today or dt.date.today()).strftime("%Y%m%d")
    return f"XS{day}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


@dataclass
class DeclarationDraft:
    """What the action server saves of an interview (its id stays the same from start to record)."""

    declaration_id: str
    service_id: str
    sender_id: str
    resume_code: str
    status: str
    answers: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)
    channel: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ref: str | None = None
    checklist: list[Any] = field(default_factory=list)
    application: list[Any] = field(default_factory=list)
    prefill_share: float = 0.0
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    submitted_at: dt.datetime | None = None

    @classmethod
    def of(cls, row: DeclarationRow) -> DeclarationDraft:
        return cls(declaration_id=row.declaration_id, service_id=row.service_id, sender_id=row.sender_id,
                   resume_code=row.resume_code, status=row.status, answers=dict(row.answers or {}),
                   progress=dict(row.progress or {}), channel=row.channel, id=row.id, ref=row.ref,
                   checklist=list(row.checklist or []), application=list(row.application or []),
                   prefill_share=row.prefill_share, created_at=row.created_at, updated_at=row.updated_at,
                   submitted_at=row.submitted_at)


class DeclarationStore(Protocol):
    def save(self, draft: DeclarationDraft) -> None:
        """Insert or update the draft (by id)."""

    def get(self, draft_id: str) -> DeclarationDraft | None: ...

    def by_ref(self, ref: str) -> DeclarationDraft | None: ...

    def by_resume_code(self, code: str) -> DeclarationDraft | None:
        """An unfinished declaration by its 续办码 (finished or cancelled ones are not resumable)."""

    def latest_open(self, sender_id: str) -> DeclarationDraft | None:
        """The conversation's most recent unfinished declaration."""

    def submit(self, draft: DeclarationDraft) -> str:
        """Store the finished declaration with a new 申报编号 and return it."""

    def purge_before(self, cutoff: dt.datetime) -> int:
        """Delete unfinished drafts last changed before `cutoff`; how many."""


class SqlDeclarationStore:
    """Declarations in the database of record."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, draft: DeclarationDraft) -> None:
        with self.db.sessions.begin() as session:
            row = session.get(DeclarationRow, draft.id)
            if row is None:
                row = DeclarationRow(id=draft.id)
                session.add(row)
            self._copy(draft, row)

    @staticmethod
    def _copy(draft: DeclarationDraft, row: DeclarationRow) -> None:
        row.declaration_id = draft.declaration_id
        row.service_id = draft.service_id
        row.sender_id = draft.sender_id
        row.channel = draft.channel
        row.status = draft.status
        row.resume_code = draft.resume_code
        row.answers = dict(draft.answers)
        row.progress = dict(draft.progress)
        row.checklist = list(draft.checklist)
        row.application = list(draft.application)
        row.prefill_share = draft.prefill_share
        row.ref = draft.ref
        row.submitted_at = draft.submitted_at

    def _one(self, **where: str) -> DeclarationDraft | None:
        with self.db.sessions() as session:
            stmt = select(DeclarationRow).filter_by(**where)
            row = session.scalars(stmt).first()
            return DeclarationDraft.of(row) if row else None

    def get(self, draft_id: str) -> DeclarationDraft | None:
        return self._one(id=draft_id)

    def by_ref(self, ref: str) -> DeclarationDraft | None:
        return self._one(ref=ref.strip().upper())

    def by_resume_code(self, code: str) -> DeclarationDraft | None:
        found = self._one(resume_code=code.strip().upper())
        if found is None or found.status not in OPEN_STATUSES or found.updated_at is None:
            return None
        changed = found.updated_at
        if changed.tzinfo is None:  # SQLite hands back naive UTC
            changed = changed.replace(tzinfo=dt.timezone.utc)
        if dt.datetime.now(dt.timezone.utc) - changed > dt.timedelta(days=RESUME_DAYS):
            return None  # expired: the draft stays until the retention purge, but cannot be resumed
        return found

    def latest_open(self, sender_id: str) -> DeclarationDraft | None:
        with self.db.sessions() as session:
            stmt = (select(DeclarationRow)
                    .where(DeclarationRow.sender_id == sender_id, DeclarationRow.status.in_(OPEN_STATUSES))
                    .order_by(DeclarationRow.updated_at.desc(), DeclarationRow.created_at.desc()))
            row = session.scalars(stmt).first()
            return DeclarationDraft.of(row) if row else None

    def submit(self, draft: DeclarationDraft) -> str:
        for _attempt in range(5):  # a clash of the random part is retried with a new one
            draft.ref = new_ref()
            draft.status = "done"
            draft.submitted_at = dt.datetime.now(dt.timezone.utc)
            try:
                self.save(draft)
                return draft.ref
            except IntegrityError:
                continue
        raise RuntimeError("could not allocate a unique 申报编号")

    def purge_before(self, cutoff: dt.datetime) -> int:
        with self.db.sessions.begin() as session:
            result = session.execute(
                delete(DeclarationRow).where(DeclarationRow.status.in_(OPEN_STATUSES),
                                             DeclarationRow.updated_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
