"""The service figures, computed by SQL from the events of record (records/events.py) for any period.

Definitions (also on the dashboard page and in docs/decisions.md):
- A conversation counts in a period when it has a turn in it.
- 解决率 (resolution rate): the share of those conversations that were resolved by 小申 itself: at
  least one guide answer or a finished declaration, and no request for a person, no 差评 and no
  answer repeated (the same service and section answered twice means the first did not help).
- First human response: from the request for a person to the first reply of a 店小二, per request
  made in service hours; target 60 s ("021"). A request never answered counts against the share.
- A 留言 is answered "next day" when an agent resolved it by the end of the next calendar day
  (Shanghai time) after it was left.
- A 差评 (score ≤ 2) is rectified when an admin records its rectification; overdue when open for
  more than RECTIFY_DAYS.
- A declaration is finished when it was submitted, abandoned when cancelled or left without a step
  for ABANDONED_AFTER; per step, how many reached each question and how many stopped there.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, distinct, func, select

from records import events as ev
from records.db import Database
from records.guides import utcnow
from records.models import DeclarationRow, EventRow

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
RESOLUTION_TARGET: Final = 0.80  # 2024 一网通办 plan
FIRST_RESPONSE_TARGET_S: Final = 60.0  # "021": a person answers within one minute
PREFILL_TARGET: Final = 0.70
RECTIFY_DAYS: Final = 15
BAD_MAX: Final = 2  # a score at or below is a 差评
ABANDONED_AFTER: Final = dt.timedelta(hours=24)
OUTCOMES: Final = ("answer", "clarify", "out_of_scope", "handoff", "smalltalk", "declaration")
Grain = Literal["day", "week", "month"]


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC; `label` as people read it (Shanghai calendar)."""

    start: dt.datetime
    end: dt.datetime
    label: str

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label}


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), SHANGHAI).astimezone(dt.timezone.utc)


def period_of(grain: Grain, day: dt.date) -> Period:
    """The Shanghai-calendar day, week (Monday first) or month containing `day`."""
    if grain == "day":
        first, last = day, day + dt.timedelta(days=1)
        label = day.isoformat()
    elif grain == "week":
        first = day - dt.timedelta(days=day.weekday())
        last = first + dt.timedelta(days=7)
        label = f"{first.isoformat()} 起一周"
    else:
        first = day.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1)
        label = first.strftime("%Y-%m")
    return Period(local_midnight(first), local_midnight(last), label)


def days_of(period: Period) -> list[Period]:
    """The Shanghai calendar days a period covers."""
    day = period.start.astimezone(SHANGHAI).date()
    out = []
    while local_midnight(day) < period.end:
        out.append(period_of("day", day))
        day += dt.timedelta(days=1)
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _aware(at: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


class Stats:
    """Figures for a period (optionally one channel) from the events table."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    # --- building blocks ---------------------------------------------------------------------
    def _where(self, period: Period, channel: str | None, *kinds: str) -> ColumnElement[bool]:
        conds = [EventRow.at >= period.start, EventRow.at < period.end]
        if kinds:
            conds.append(EventRow.kind.in_(kinds) if len(kinds) > 1 else EventRow.kind == kinds[0])
        if channel:
            conds.append(EventRow.channel == channel)
        return and_(*conds)

    def _rows(self, stmt: Any) -> list[Any]:
        with self.db.engine.connect() as conn:
            return list(conn.execute(stmt))

    def _per_conversation(
        self, period: Period, channel: str | None, extra: ColumnElement[bool] | None = None
    ) -> Any:
        """One row per conversation active in the period: what decides whether it was resolved."""
        e = EventRow
        answered = and_(e.kind == ev.TURN, e.outcome == "answer")
        where = self._where(period, channel, ev.TURN, ev.HANDOFF_REQUESTED, ev.RATING, ev.DECLARATION_STEP)
        if extra is not None:
            where = and_(where, extra)
        return (
            select(
                e.conversation.label("conversation"),
                func.max(e.channel).label("channel"),
                func.sum(case((e.kind == ev.TURN, 1), else_=0)).label("turns"),
                func.sum(case((answered, 1), else_=0)).label("answers"),
                func.count(distinct(case((answered, e.service_id + ":" + e.section)))).label(
                    "distinct_answers"
                ),
                func.sum(case((and_(e.kind == ev.DECLARATION_STEP, e.outcome == "done"), 1), else_=0)).label(
                    "declared"
                ),
                func.sum(case((e.kind == ev.HANDOFF_REQUESTED, 1), else_=0)).label("handoffs"),
                func.sum(case((and_(e.kind == ev.RATING, e.value <= BAD_MAX), 1), else_=0)).label("bad"),
            )
            .where(where)
            .group_by(e.conversation)
            .subquery()
        )

    @staticmethod
    def _resolved(c: Any) -> ColumnElement[bool]:
        return and_(
            c.turns > 0,
            (c.answers + c.declared) > 0,
            c.handoffs == 0,
            c.bad == 0,
            c.answers == c.distinct_answers,
        )

    def resolution(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        c = self._per_conversation(period, channel).c
        stmt = select(
            func.sum(case((c.turns > 0, 1), else_=0)), func.sum(case((self._resolved(c), 1), else_=0))
        )
        total, resolved = self._rows(stmt)[0]
        total, resolved = int(total or 0), int(resolved or 0)
        return {
            "conversations": total,
            "resolved": resolved,
            "rate": share(resolved, total),
            "target": RESOLUTION_TARGET,
        }

    # --- the figures -------------------------------------------------------------------------
    def turns(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        e = EventRow
        rows = self._rows(
            select(e.outcome, func.count()).where(self._where(period, channel, ev.TURN)).group_by(e.outcome)
        )
        by = {o: 0 for o in OUTCOMES} | {str(o): int(n) for o, n in rows}
        total = sum(by.values())
        return {
            "turns": total,
            "outcomes": by,
            "clarify_rate": share(by["clarify"], total),
            "out_of_scope_rate": share(by["out_of_scope"], total),
        }

    def handoff(self, period: Period, channel: str | None = None, agent: str | None = None) -> dict[str, Any]:
        e = EventRow
        requests = self._rows(
            select(e.conversation, e.ref, e.outcome).where(self._where(period, channel, ev.HANDOFF_REQUESTED))
        )
        queued = {(c, r) for c, r, o in requests if o == "queued"}
        kinds = (ev.HANDOFF_CLAIMED, ev.AGENT_REPLY, ev.HANDOFF_LEFT, ev.HANDOFF_CLOSED)
        # Replies to a request of this period may come after its end: read them up to now.
        later = Period(period.start, max(period.end, self.clock()), "")
        steps = self._rows(
            select(e.kind, e.conversation, e.ref, e.agent, e.value)
            .where(self._where(later, channel, *kinds))
            .order_by(e.at)
        )
        first: dict[tuple[str, str], float] = {}
        waits: list[float] = []
        left = closed = 0
        for kind, conv, ref, by, value in steps:
            key = (conv, ref)
            if key not in queued or (agent and by != agent and kind != ev.HANDOFF_LEFT):
                continue
            if kind == ev.AGENT_REPLY and key not in first:
                first[key] = float(value)
            elif kind == ev.HANDOFF_CLAIMED:
                waits.append(float(value))
            elif kind == ev.HANDOFF_LEFT:
                left += 1
            elif kind == ev.HANDOFF_CLOSED:
                closed += 1
        responses = list(first.values())
        within = sum(1 for v in responses if v <= FIRST_RESPONSE_TARGET_S)
        outcomes = Counter(o for _, _, o in requests)
        return {
            "requests": len(requests),
            "in_hours": outcomes["queued"],
            "outside_hours": outcomes["offline"],
            "limited": outcomes["limited"],
            "claimed": len(waits),
            "left_queue": left,
            "closed": closed,
            "answered": len(responses),
            "unanswered": len(queued) - len(responses),
            "wait_p50_s": _round(percentile(waits, 50)),
            "wait_p95_s": _round(percentile(waits, 95)),
            "first_response_p50_s": _round(percentile(responses, 50)),
            "first_response_p95_s": _round(percentile(responses, 95)),
            "within_target": within,
            "within_target_share": share(within, len(queued)),
            "target_s": FIRST_RESPONSE_TARGET_S,
        }

    def messages(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        """留言 left outside service hours in the period, and how many were answered by the next day."""
        e = EventRow
        left = self._rows(select(e.ref, e.at).where(self._where(period, channel, ev.MESSAGE_LEFT)))
        made = {ref: _aware(at) for ref, at in left}
        answered = self._rows(select(e.ref, e.at).where(and_(e.kind == ev.MESSAGE_ANSWERED, e.ref.in_(made))))
        next_day = 0
        for ref, at in answered:
            due = local_midnight(made[ref].astimezone(SHANGHAI).date() + dt.timedelta(days=2))
            next_day += _aware(at) < due
        return {
            "left": len(made),
            "answered": len(answered),
            "answered_next_day": next_day,
            "answered_next_day_share": share(next_day, len(made)),
        }

    def ratings(self, period: Period, channel: str | None = None, agent: str | None = None) -> dict[str, Any]:
        e = EventRow
        where = self._where(period, channel, ev.RATING)
        if agent:
            where = and_(where, e.agent == agent)
        rows = self._rows(select(e.value, e.ref, e.at).where(where))
        by_score = {s: 0 for s in range(1, 6)} | dict(Counter(int(v) for v, _, _ in rows))
        bad = {ref: _aware(at) for v, ref, at in rows if v <= BAD_MAX and ref}
        fixed = {r for (r,) in self._rows(select(e.ref).where(and_(e.kind == ev.RECTIFIED, e.ref.in_(bad))))}
        now = self.clock()
        overdue = sum(
            1
            for ref, at in bad.items()
            if ref not in fixed and now - at > dt.timedelta(days=RECTIFY_DAYS)
        )
        count = len(rows)
        good = sum(n for s, n in by_score.items() if s >= 4)
        return {
            "count": count,
            "by_score": {str(s): n for s, n in by_score.items()},
            "good": good,
            "bad": len(bad),
            "good_share": share(good, count),
            "mean": _round(sum(v for v, _, _ in rows) / count, 2) if count else None,
            "rectification": {
                "closed": len(fixed),
                "open": len(bad) - len(fixed),
                "overdue": overdue,
                "deadline_days": RECTIFY_DAYS,
            },
        }

    def declarations(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        e = EventRow
        ids = (
            select(e.ref)
            .where(self._where(period, channel, ev.DECLARATION_STEP))
            .distinct()
            .scalar_subquery()
        )
        steps = self._rows(
            select(e.ref, e.service_id, e.outcome, e.section, e.at)
            .where(and_(e.kind == ev.DECLARATION_STEP, e.ref.in_(ids)))
            .order_by(e.at)
        )
        history: dict[str, list[tuple[str, str | None, dt.datetime]]] = defaultdict(list)
        services: dict[str, str] = {}
        for ref, service, status, fieldname, at in steps:
            history[ref].append((status, fieldname, _aware(at)))
            services.setdefault(ref, service or "")
        now = self.clock()
        finished, cancelled, stale, going = [], [], [], []
        reached: Counter[str] = Counter()
        stopped: Counter[str] = Counter()
        for ref, seq in history.items():
            for fieldname in {f for _, f, _ in seq if f}:
                reached[fieldname] += 1
            statuses = {s for s, _, _ in seq}
            last_field = next((f for _, f, _ in reversed(seq) if f), None) or "(确认)"
            if "done" in statuses:
                finished.append(ref)
            elif "cancelled" in statuses:
                cancelled.append(ref)
                stopped[last_field] += 1
            elif now - seq[-1][2] > ABANDONED_AFTER:
                stale.append(ref)
                stopped[last_field] += 1
            else:
                going.append(ref)
        prefill = (
            self._rows(
                select(func.avg(DeclarationRow.prefill_share), func.count()).where(
                    DeclarationRow.declaration_id.in_(finished)
                )
            )
            if finished
            else [(None, 0)]
        )
        avg, _ = prefill[0]
        return {
            "started": len(history),
            "finished": len(finished),
            "cancelled": len(cancelled),
            "abandoned": len(cancelled) + len(stale),
            "in_progress": len(going),
            "finished_share": share(len(finished), len(history)),
            "prefill_share": _round(float(avg), 4) if avg is not None else None,
            "prefill_target": PREFILL_TARGET,
            "by_step": [{"field": f, "reached": n, "stopped": stopped[f]} for f, n in reached.most_common()]
            + (
                [{"field": "(确认)", "reached": 0, "stopped": stopped["(确认)"]}] if stopped["(确认)"] else []
            ),
            "by_service": dict(Counter(services[r] for r in history)),
        }

    def latency(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        e = EventRow
        values = [
            float(v)
            for (v,) in self._rows(
                select(e.value).where(and_(self._where(period, channel, ev.TURN), e.value.is_not(None)))
            )
        ]
        return {"p50_ms": _round(percentile(values, 50)), "p95_ms": _round(percentile(values, 95))}

    def publishes(self, period: Period) -> dict[str, int]:
        """Guides published by the editors in the period: new, changed, unpublished."""
        e = EventRow
        rows = self._rows(select(e.outcome, func.count()).where(self._where(period, None, ev.PUBLISH))
                          .group_by(e.outcome))
        return {"new": 0, "changed": 0, "unpublished": 0} | {str(o): int(n) for o, n in rows}

    def summary(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        turns = self.turns(period, channel)
        resolution = self.resolution(period, channel)
        return {
            "period": period.as_dict(),
            "channel": channel,
            "conversations": resolution["conversations"],
            "turns": turns["turns"],
            "outcomes": turns["outcomes"],
            "clarify_rate": turns["clarify_rate"],
            "out_of_scope_rate": turns["out_of_scope_rate"],
            "resolution": resolution,
            "handoff": self.handoff(period, channel),
            "messages": self.messages(period, channel),
            "ratings": self.ratings(period, channel),
            "declarations": self.declarations(period, channel),
            "latency": self.latency(period, channel),
            "publishes": self.publishes(period),
        }

    # --- tables ------------------------------------------------------------------------------
    def daily(self, period: Period, channel: str | None = None) -> list[dict[str, Any]]:
        """One row per Shanghai day of the period: the figures charted over time."""
        out = []
        for day in days_of(period):
            res = self.resolution(day, channel)
            turns = self.turns(day, channel)
            ho = self.handoff(day, channel)
            out.append(
                {
                    "day": day.label,
                    "conversations": res["conversations"],
                    "turns": turns["turns"],
                    "resolution_rate": res["rate"],
                    "clarify_rate": turns["clarify_rate"],
                    "out_of_scope_rate": turns["out_of_scope_rate"],
                    "handoff_requests": ho["requests"],
                    "first_response_p50_s": ho["first_response_p50_s"],
                    "within_target_share": ho["within_target_share"],
                }
            )
        return out

    def channels(self, period: Period) -> list[dict[str, Any]]:
        e = EventRow
        names = [
            c for (c,) in self._rows(select(distinct(e.channel)).where(self._where(period, None, ev.TURN)))
        ]
        rows = []
        for name in sorted(names):
            res = self.resolution(period, name)
            turns = self.turns(period, name)
            rows.append(
                {
                    "channel": name,
                    "conversations": res["conversations"],
                    "turns": turns["turns"],
                    "resolution_rate": res["rate"],
                    "clarify_rate": turns["clarify_rate"],
                    "out_of_scope_rate": turns["out_of_scope_rate"],
                    "handoff_requests": self.handoff(period, name)["requests"],
                }
            )
        return rows

    def services(self, period: Period, channel: str | None = None) -> list[dict[str, Any]]:
        """Per service: turns answered or declared with it, conversations, and those conversations'
        resolution rate (a conversation counts for every service it was answered with)."""
        e = EventRow
        rows = self._rows(
            select(
                e.service_id,
                func.count(),
                func.count(distinct(e.conversation)),
                func.sum(case((e.outcome == "answer", 1), else_=0)),
            )
            .where(and_(self._where(period, channel, ev.TURN), e.service_id.is_not(None)))
            .group_by(e.service_id)
        )
        sub = self._per_conversation(period, channel)
        conv = sub.c
        per_service = (
            select(e.service_id.label("service_id"), e.conversation.label("conversation"))
            .where(and_(self._where(period, channel, ev.TURN), e.service_id.is_not(None)))
            .distinct()
            .subquery()
        )
        resolved = dict(
            self._rows(
                select(per_service.c.service_id, func.sum(case((self._resolved(conv), 1), else_=0)))
                .join(sub, conv.conversation == per_service.c.conversation)
                .group_by(per_service.c.service_id)
            )
        )
        out = [
            {
                "service_id": s,
                "turns": int(t),
                "conversations": int(c),
                "answers": int(a or 0),
                "resolved": int(resolved.get(s) or 0),
                "resolution_rate": share(int(resolved.get(s) or 0), int(c)),
            }
            for s, t, c, a in rows
        ]
        return sorted(out, key=lambda r: (-r["turns"], r["service_id"]))

    def agents(self, period: Period, channel: str | None = None) -> list[dict[str, Any]]:
        e = EventRow
        names = {
            a
            for (a,) in self._rows(
                select(distinct(e.agent)).where(
                    and_(
                        self._where(period, channel, ev.HANDOFF_CLAIMED, ev.AGENT_REPLY, ev.RATING),
                        e.agent.is_not(None),
                    )
                )
            )
        }
        out = []
        for name in sorted(names):
            ho = self._agent_handoffs(period, channel, name)
            rt = self.ratings(period, channel, name)
            out.append(
                {"agent": name, **ho, "ratings": rt["count"], "rating_mean": rt["mean"], "bad": rt["bad"]}
            )
        return out

    def _agent_handoffs(self, period: Period, channel: str | None, agent: str) -> dict[str, Any]:
        e = EventRow
        rows = self._rows(
            select(e.kind, e.conversation, e.ref, e.value)
            .where(
                and_(
                    self._where(period, channel, ev.HANDOFF_CLAIMED, ev.AGENT_REPLY, ev.HANDOFF_CLOSED),
                    e.agent == agent,
                )
            )
            .order_by(e.at)
        )
        first: dict[tuple[str, str], float] = {}
        claimed = closed = replies = 0
        for kind, conv, ref, value in rows:
            if kind == ev.HANDOFF_CLAIMED:
                claimed += 1
            elif kind == ev.HANDOFF_CLOSED:
                closed += 1
            else:
                replies += 1
                first.setdefault((conv, ref), float(value))
        responses = list(first.values())
        within = sum(1 for v in responses if v <= FIRST_RESPONSE_TARGET_S)
        return {
            "claimed": claimed,
            "closed": closed,
            "replies": replies,
            "first_response_p50_s": _round(percentile(responses, 50)),
            "first_response_p95_s": _round(percentile(responses, 95)),
            "within_target_share": share(within, len(responses)),
        }

    def conversations(
        self,
        period: Period,
        *,
        service_id: str | None = None,
        agent: str | None = None,
        channel: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Drill-down: the conversations of a service or an agent in the period, newest first, with
        what the figures saw of them (ids only; the transcript is read, masked, from the console)."""
        e = EventRow
        if service_id:
            pick = select(e.conversation).where(
                and_(self._where(period, channel, ev.TURN), e.service_id == service_id)
            )
        elif agent:
            pick = select(e.conversation).where(
                and_(
                    self._where(period, channel, ev.HANDOFF_CLAIMED, ev.AGENT_REPLY, ev.RATING),
                    e.agent == agent,
                )
            )
        else:
            pick = select(e.conversation).where(self._where(period, channel, ev.TURN))
        sub = self._per_conversation(period, channel, e.conversation.in_(pick.distinct().scalar_subquery()))
        c = sub.c
        last = (
            select(e.conversation, func.min(e.at).label("first"), func.max(e.at).label("last"))
            .where(and_(self._where(period, channel), e.conversation.in_(pick.distinct().scalar_subquery())))
            .group_by(e.conversation)
            .subquery()
        )
        rows = self._rows(
            select(
                c.conversation,
                c.channel,
                c.turns,
                c.answers,
                c.declared,
                c.handoffs,
                c.bad,
                case((self._resolved(c), True), else_=False),
                last.c.first,
                last.c.last,
            )
            .select_from(sub)
            .join(last, last.c.conversation == c.conversation)
            .order_by(last.c.last.desc())
            .limit(limit)
        )
        return [
            {
                "conversation": conv,
                "channel": ch,
                "turns": int(t),
                "answers": int(a),
                "declared": int(d),
                "handoffs": int(h),
                "bad_ratings": int(b),
                "resolved": bool(r),
                "first": _aware(f).isoformat(),
                "last": _aware(la).isoformat(),
            }
            for conv, ch, t, a, d, h, b, r, f, la in rows
        ]


def csv_rows(rows: Iterable[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a table of dicts (nested values flattened as JSON-ish text)."""
    rows = list(rows)
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    return header, [[row.get(k) for k in header] for row in rows]
