"""Events of record: each turn, handoff step, agent reply, rating, rectification, declaration step
and editor publish, recorded once, as it happens, for the service figures (records/stats.py).

An event holds no personal data: the conversation is its random id, there is no text; `value` is a
duration in seconds, a score or a latency in milliseconds, by kind (see KINDS). Retention:
`purge_before` (make purge, XS_EVENTS_RETENTION_DAYS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert

from records.db import Database, utcnow
from records.models import EventRow, StatsDayRow

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")  # the calendar the figures are counted in
# A day's figures are kept once it ended this long ago (records/stats.py); an event older than that
# makes its day be computed again.
GRACE: Final = dt.timedelta(hours=1)


def day_of(at: dt.datetime) -> str:
    """The Shanghai calendar day of a moment, as YYYY-MM-DD."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(SHANGHAI).date().isoformat()


# kind -> what `value` and `ref` hold
TURN: Final = "turn"  # value: the turn's latency in ms; outcome, service, section of the turn
HANDOFF_REQUESTED: Final = "handoff_requested"  # outcome queued | offline | limited; ref: the handoff
HANDOFF_CLAIMED: Final = "handoff_claimed"  # value: seconds waited in the queue; agent; ref
AGENT_REPLY: Final = "agent_reply"  # value: seconds since the request; agent; ref: the handoff
HANDOFF_LEFT: Final = "handoff_left"  # value: seconds waited before leaving the queue; ref
HANDOFF_TRANSFERRED: Final = "handoff_transferred"  # agent: to whom; value: seconds since the request
HANDOFF_CLOSED: Final = "handoff_closed"  # value: seconds from claim to close; agent; ref
MESSAGE_LEFT: Final = "message_left"  # a 留言 outside service hours; ref: the ticket
MESSAGE_ANSWERED: Final = "message_answered"  # value: seconds since it was left; agent; ref: ticket
RATING: Final = "rating"  # value: the score 1..5; agent rated; ref: the follow-up of a 差评
RECTIFIED: Final = "rectified"  # value: seconds since the 差评; agent: who rectified; ref: follow-up
DECLARATION_STEP: Final = "declaration_step"  # outcome: status; section: field; ref: which declaration
PUBLISH: Final = "publish"  # service_id: the guide; outcome: the kind of change; agent: who
HANDOFF_STEPS: Final = frozenset({HANDOFF_CLAIMED, AGENT_REPLY, HANDOFF_LEFT, HANDOFF_CLOSED})
KINDS: Final = (
    TURN,
    HANDOFF_REQUESTED,
    HANDOFF_CLAIMED,
    AGENT_REPLY,
    HANDOFF_LEFT,
    HANDOFF_TRANSFERRED,
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

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    def record(self, events: Sequence[Event]) -> int:
        """Append these events in one transaction; how many. An event of a day whose figures were
        already kept (it arrived late: a database outage) makes that day be computed again."""
        if not events:
            return 0
        late = self._late_days(events, self.clock() - GRACE)
        with self.db.engine.begin() as conn:
            conn.execute(insert(EventRow), [asdict(e) for e in events])
            if late:
                conn.execute(delete(StatsDayRow).where(StatsDayRow.day.in_(late)))
        return len(events)

    @staticmethod
    def _late_days(events: Sequence[Event], kept_before: dt.datetime) -> set[str]:
        """Days whose kept figures these events change: the day of an event older than the grace,
        and for a step of a handoff, the day of its request (its ref is the request's timestamp)."""
        days = set()
        for e in events:
            if e.at < kept_before:
                days.add(day_of(e.at))
            if e.kind in HANDOFF_STEPS and e.ref:
                try:
                    requested = dt.datetime.fromtimestamp(float(e.ref), dt.timezone.utc)
                except (ValueError, OverflowError, OSError):
                    continue
                if requested < kept_before:
                    days.add(day_of(requested))
        return days

    def purge_before(self, cutoff: dt.datetime) -> int:
        """Delete events older than cutoff (the retention) and the kept figures of their days; how many."""
        with self.db.engine.begin() as conn:
            conn.execute(delete(StatsDayRow).where(StatsDayRow.day <= day_of(cutoff)))
            return int(conn.execute(delete(EventRow).where(EventRow.at < cutoff)).rowcount or 0)
