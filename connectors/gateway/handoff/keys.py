"""Redis keys, statuses, payloads and labels of the handoff, in one place."""

from __future__ import annotations

from typing import Final

from contract import turn

QUEUE: Final = "xs:ho:queue"  # zset sender_id -> queued_at
TICKETS_OPEN: Final = "xs:ho:tickets:open"  # zset ticket id -> created
FOLLOWUPS_OPEN: Final = "xs:ho:followups:open"  # zset follow-up id -> created
FOLLOWUPS_ALL: Final = "xs:ho:followups:all"
ONLINE: Final = "xs:ho:online"  # zset agent -> last heartbeat
STATS: Final = "xs:ho:stats"  # hash: handle_s (moving average of claim -> close)
IDS: Final = "xs:ho:ids"  # hash of counters for ticket / follow-up ids
EVENTS: Final = "xs:ho:events"  # pub/sub channel for the agents' consoles
HOURS_OVERRIDE: Final = "xs:ho:hours_override"  # "open" / "closed"; absent = the timetable
ONLINE_WINDOW_S: Final = 60.0


def conv(sender_id: str) -> str:
    """Hash: status, agent, queued_at, claimed_at, reason, channel, pending text for 留言."""
    return f"xs:ho:conv:{sender_id}"


def held(agent: str) -> str:
    """Set of conversations an agent holds."""
    return f"xs:ho:agent:{agent}:held"


def notes(sender_id: str) -> str:
    return f"xs:ho:notes:{sender_id}"


def ticket(ticket_id: str) -> str:
    return f"xs:ho:ticket:{ticket_id}"


def followup(item_id: str) -> str:
    return f"xs:ho:followup:{item_id}"


def rating(sender_id: str) -> str:
    """List of the conversation's ratings (JSON)."""
    return f"xs:ho:ratings:{sender_id}"


# conversation status (absent = the bot answers)
QUEUED: Final = turn.HANDOFF_QUEUED
AGENT: Final = turn.HANDOFF_AGENT
MESSAGE: Final = "message"  # outside service hours: taking a 留言
RATING: Final = "rating"  # closed by the agent: waiting for 好差评
COMMENT: Final = "comment"  # rated: waiting for an optional comment

# payloads a user (or a widget button) sends
LEAVE: Final = turn.LEAVE_QUEUE
RATE: Final = turn.RATE
SKIP_COMMENT: Final = turn.SKIP_COMMENT

# 好差评 scores: 5 best. A 差评 (score <= BAD_MAX) opens a follow-up item.
RATING_LABELS: Final = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_MAX: Final = 2
