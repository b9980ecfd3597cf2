"""Tables of the database of record (SQLAlchemy 2 typed models); changed only with a migration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, func
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
