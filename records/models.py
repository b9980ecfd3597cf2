"""Tables of the database of record (SQLAlchemy 2 typed models); changed only with a migration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base


class DeclarationRow(Base):
    """One smart declaration from its first answer: a draft while asked, a record once submitted."""

    __tablename__ = "declarations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)  # 申报编号, once done
    declaration_id: Mapped[str] = mapped_column(String(64), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    resume_code: Mapped[str] = mapped_column(String(12), unique=True, index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checklist: Mapped[list[Any]] = mapped_column(JSON, default=list)
    application: Mapped[list[Any]] = mapped_column(JSON, default=list)
    prefill_share: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                    onupdate=func.now())
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 — SQLAlchemy's declarative API


class GuideRow(Base):
    """A guide of record: its published version (if any) and who keeps it; its texts are versions."""

    __tablename__ = "guides"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # published | unpublished | new
    published_number: Mapped[int | None] = mapped_column(Integer)  # the version citizens are answered with
    head_number: Mapped[int] = mapped_column(Integer, default=0)  # the newest version of any state
    owner_department: Mapped[str] = mapped_column(String(100), default="")
    review_interval_days: Mapped[int] = mapped_column(Integer, default=365)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                    onupdate=func.now())
    lock: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": lock}  # noqa: RUF012 — SQLAlchemy's declarative API


class GuideVersionRow(Base):
    """One version of a guide's text, kept for ever: a draft, under review, published, or past."""

    __tablename__ = "guide_versions"
    __table_args__ = (UniqueConstraint("guide_id", "number", name="uq_guide_versions_guide_number"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guide_id: Mapped[str] = mapped_column(String(64), ForeignKey("guides.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # draft | submitted | scheduled | published | superseded | rejected | withdrawn | unpublished
    state: Mapped[str] = mapped_column(String(16), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # the Guide as JSON
    base_number: Mapped[int | None] = mapped_column(Integer)  # the version it was written from
    author: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)  # why it changed (required)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reviewer: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    review_comment: Mapped[str | None] = mapped_column(Text)
    effective_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """One write or login, appended and never changed (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_log"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InboxGroupRow(Base):
    """Questions 小申 could not answer well, grouped by similar words, for the editors' inbox."""

    __tablename__ = "inbox_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tokens: Mapped[list[Any]] = mapped_column(JSON)  # the first question's search tokens
    example: Mapped[str] = mapped_column(Text)  # the first question, personal data masked
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # open | attached (a sample question of guide_id) | out_of_scope | drafted (guide_id) | merged
    status: Mapped[str] = mapped_column(String(16), index=True)
    guide_id: Mapped[str | None] = mapped_column(String(64))
    merged_into: Mapped[int | None] = mapped_column(Integer)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class InboxItemRow(Base):
    """One turn that fell to the inbox: when, why, where, and the question (masked)."""

    __tablename__ = "inbox_items"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(Integer, ForeignKey("inbox_groups.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text)
    # out_of_scope | clarify | low_confidence | correction | bad_rating
    reason: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32), default="")
    sender_id: Mapped[str] = mapped_column(String(128), default="")


class SynonymGroupRow(Base):
    """Terms an editor declared equivalent (沪牌 = 非营业性客车额度): questions are expanded with them."""

    __tablename__ = "synonym_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    terms: Mapped[list[Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class EventRow(Base):
    """One thing that happened, recorded once for the service figures (records/stats.py): a turn,
    a handoff step, an agent's reply, a rating, a rectification, a declaration step, a publish.
    No personal data: the conversation is its random id; no text."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_kind_at", "kind", "at"),
                      Index("ix_events_conversation", "conversation"))

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    conversation: Mapped[str] = mapped_column(String(128), default="")
    channel: Mapped[str] = mapped_column(String(32), default="")
    service_id: Mapped[str | None] = mapped_column(String(64))
    section: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(24))
    agent: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)  # seconds, a score or milliseconds, by kind
    ref: Mapped[str | None] = mapped_column(String(64))  # the handoff, declaration or item it belongs to


class StatsDayRow(Base):
    """The additive service figures of one Shanghai day that has ended (records/stats.py): computed
    once from the events, forgotten when an event of that day is recorded late or purged."""

    __tablename__ = "stats_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, Shanghai
    payload: Mapped[str] = mapped_column(Text)  # JSON: per channel, see Stats._day_raw
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
