"""Events of record: each turn, handoff step, agent reply, rating, rectification, declaration step
and editor publish, recorded once, as it happens, for the service figures (records/stats.py).

An event holds no personal data: the conversation is its random id, there is no text; `value` is a
duration in seconds, a score or a latency in milliseconds, by kind (see KINDS). Retention:
`purge_before` (make purge, XS_EVENTS_RETENTION_DAYS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Final

from sqlalchemy import delete, insert

from records.db import Database
from records.models import EventRow


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# kind -> what `value` and `ref` hold
TURN: Final = "turn"  # value: the turn's latency in ms; outcome, service, section of the turn
HANDOFF_REQUESTED: Final = "handoff_requested"  # outcome queued | offline | limited; ref: the handoff
HANDOFF_CLAIMED: Final = "handoff_claimed"  # value: seconds waited in the queue; agent; ref
AGENT_REPLY: Final = "agent_reply"  # value: seconds since the request; agent; ref: the handoff
HANDOFF_LEFT: Final = "handoff_left"  # value: seconds waited before leaving the queue; ref
HANDOFF_CLOSED: Final = "handoff_closed"  # value: seconds from claim to close; agent; ref
MESSAGE_LEFT: Final = "message_left"  # a 留言 outside service hours; ref: the ticket
MESSAGE_ANSWERED: Final = "message_answered"  # value: seconds since it was left; agent; ref: ticket
RATING: Final = "rating"  # value: the score 1..5; agent rated; ref: the follow-up of a 差评
RECTIFIED: Final = "rectified"  # value: seconds since the 差评; agent: who rectified; ref: follow-up
DECLARATION_STEP: Final = "declaration_step"  # outcome: status; section: the field; ref: declaration
PUBLISH: Final = "publish"  # service_id: the guide; outcome: the kind of change; agent: who
KINDS: Final = (
    TURN,
    HANDOFF_REQUESTED,
    HANDOFF_CLAIMED,
    AGENT_REPLY,
    HANDOFF_LEFT,
    HANDOFF_CLOSED,
    MESSAGE_LEFT,
    MESSAGE_ANSWERED,
    RATING,
    RECTIFIED,
    DECLARATION_STEP,
    PUBLISH,
)


@dataclass(frozen=True)
class Event:
    kind: str
    conversation: str = ""
    channel: str = ""
    service_id: str | None = None
    section: str | None = None
    outcome: str | None = None
    agent: str | None = None
    value: float | None = None
    ref: str | None = None
    at: dt.datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")


class SqlEvents:
    """The events table: appended in batches, read by records/stats.py, purged by age."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, events: Sequence[Event]) -> int:
        """Append these events in one transaction; how many."""
        if not events:
            return 0
        with self.db.engine.begin() as conn:
            conn.execute(insert(EventRow), [asdict(e) for e in events])
        return len(events)

    def purge_before(self, cutoff: dt.datetime) -> int:
        """Delete events older than cutoff (the retention); how many."""
        with self.db.engine.begin() as conn:
            return int(conn.execute(delete(EventRow).where(EventRow.at < cutoff)).rowcount or 0)
