"""The service figures, computed by SQL from the events of record (records/events.py) for any period.

Definitions (also on the dashboard page and in docs/decisions.md):
- Conversations are counted per Shanghai day: a conversation's turns on one day are one
  conversation that day (a citizen who comes back the next day asks anew, as a hotline counts a
  second call). So every figure of a period is the sum of its days, and a day that has ended is
  computed once and kept (stats_days); today is computed from the events at each request.
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

import bisect
import datetime as dt
import json
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from records import events as ev
from records.db import Database, utcnow
from records.events import GRACE, SHANGHAI
from records.models import DeclarationRow, EventRow, StatsDayRow

RESOLUTION_TARGET: Final = 0.80  # 2024 一网通办 plan
FIRST_RESPONSE_TARGET_S: Final = 60.0  # "021": a person answers within one minute
PREFILL_TARGET: Final = 0.70
RECTIFY_DAYS: Final = 15
BAD_MAX: Final = 2  # a score at or below is a 差评
LIVE_TTL_S: Final = 5.0
STALE_MAX_S: Final = 60.0  # older figures of today are never answered without computing them again
ABANDONED_AFTER: Final = dt.timedelta(hours=24)
OUTCOMES: Final = ("answer", "clarify", "out_of_scope", "handoff", "smalltalk", "declaration")
Grain = Literal["day", "week", "month"]
# Turn latency histogram: 25 ms steps to 1 s, then coarser; percentiles are a bucket's upper edge.
LATENCY_EDGES_MS: Final = (*range(25, 1001, 25), 1250, 1500, 2000, 3000, 5000, 10000, 30000, math.inf)


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


@dataclass
class _Conversation:
    """What decides whether one conversation of a day was resolved (see the module docstring)."""

    channel: str
    turns: int = 0
    answers: int = 0
    declared: bool = False
    handoffs: int = 0
    bad: int = 0
    repeated: bool = False
    answered: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)

    def see(
        self,
        kind: str,
        channel: str,
        service: str | None,
        section: str | None,
        outcome: str | None,
        value: float | None,
    ) -> None:
        """Fold in one of the conversation's events (a turn, a request for a person, a rating or a
        declaration step)."""
        if kind == ev.TURN:
            self.channel = channel
            self.turns += 1
            if service:
                self.services.add(service)
                if outcome == "answer":
                    self.answers += 1
                    key = f"{service}:{section}"
                    self.repeated = self.repeated or key in self.answered
                    self.answered.add(key)
        elif kind == ev.DECLARATION_STEP:
            self.declared = self.declared or outcome == "done"
        elif kind == ev.HANDOFF_REQUESTED:
            self.handoffs += 1
        elif kind == ev.RATING and value is not None:
            self.bad += value <= BAD_MAX

    @property
    def resolved(self) -> bool:
        return bool(self.answered or self.declared) and not (self.handoffs or self.bad or self.repeated)


# The kinds of event that decide whether a conversation was resolved (_Conversation.see).
DECIDING: Final = (ev.TURN, ev.HANDOFF_REQUESTED, ev.RATING, ev.DECLARATION_STEP)


def _empty_agent() -> dict[str, Any]:
    return {"claimed": 0, "closed": 0, "replies": 0, "first": []}


def _empty_day() -> dict[str, Any]:
    return {
        "turns": {},
        "latency": [0] * len(LATENCY_EDGES_MS),
        "conversations": 0,
        "resolved": 0,
        "services": {},
        "handoff": {
            "requests": {},
            "queued": 0,
            "first": [],
            "waits": [],
            "left": 0,
            "closed": 0,
            "agents": {},
        },
        "ratings": {"by_score": {}, "agents": {}, "bad": {}},  # bad: 差评 follow-up id -> epoch s
        # conversation + declaration -> [service, fields asked, statuses, last field asked, last step (s)]
        "declarations": {},
    }


def _merge_declarations(total: dict[str, list[Any]], day: dict[str, list[Any]]) -> None:
    """Fold one day's steps of each declaration into the period's (days in order)."""
    for ref, (service, fields, statuses, last_field, last_ts) in day.items():
        seen = total.get(ref)
        if seen is None:
            total[ref] = [service, list(fields), list(statuses), last_field, last_ts]
            continue
        seen[1] = sorted(set(seen[1]) | set(fields))
        seen[2] = sorted(set(seen[2]) | set(statuses))
        if last_ts >= seen[4]:
            seen[3], seen[4] = last_field or seen[3], last_ts


def _merge_handoff(total: dict[str, Any], h: dict[str, Any]) -> None:
    for outcome, n in h["requests"].items():
        total["requests"][outcome] = total["requests"].get(outcome, 0) + n
    for key in ("queued", "left", "closed"):
        total[key] += h[key]
    total["first"].extend(h["first"])
    total["waits"].extend(h["waits"])
    for agent, a in h["agents"].items():
        acc = total["agents"].setdefault(agent, _empty_agent())
        for key in ("claimed", "closed", "replies"):
            acc[key] += a[key]
        acc["first"].extend(a["first"])


def histogram_percentile(counts: Sequence[int], q: float) -> float | None:
    """The upper edge (ms) of the latency bucket holding the nearest-rank percentile q."""
    total = sum(counts)
    if not total:
        return None
    rank, seen = max(1, math.ceil(q / 100 * total)), 0
    for edge, n in zip(LATENCY_EDGES_MS, counts, strict=True):
        seen += n
        if seen >= rank:
            return edge if math.isfinite(edge) else None
    return None


def _aware(at: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


class Stats:
    """Figures for a period (optionally one channel) from the events table."""

    def __init__(
        self, db: Database, clock: Callable[[], dt.datetime] = utcnow, live_ttl_s: float = LIVE_TTL_S
    ) -> None:
        self.db = db
        self.clock = clock
        # Today's figures are computed from its events, then reused for live_ttl_s, so a page that
        # asks for five tables at once reads the day once (and figures are at most that old).
        self.live_ttl_s = live_ttl_s
        self._live: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._live_lock = threading.Lock()
        self._refreshing: set[str] = set()

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

    # --- additive figures, one Shanghai day at a time --------------------------------------
    def _day_raw(self, day: Period) -> dict[str, dict[str, Any]]:
        """The additive figures of one day per channel, from the raw events in one pass: turns by
        outcome, a latency histogram, conversations and resolved ones, per service turns,
        conversations, answers and resolved conversations, ratings by score and agent, and the day's
        requests for a person with what followed them; whether a conversation was resolved is
        _Conversation's rule, the drill-down's too."""
        e = EventRow
        out: dict[str, dict[str, Any]] = defaultdict(_empty_day)
        convs: dict[str, _Conversation] = {}
        rows = self._rows(
            select(
                e.kind, e.channel, e.conversation, e.service_id, e.section, e.outcome, e.agent, e.value
            ).where(self._where(day, None, *DECIDING))
        )
        for kind, ch, conv, service, section, outcome, agent, value in rows:
            c = convs.get(conv)
            if c is None:
                c = convs[conv] = _Conversation(ch)
            c.see(kind, ch, service, section, outcome, value)
            if kind == ev.TURN:
                f = out[ch]
                f["turns"][outcome] = f["turns"].get(outcome, 0) + 1
                if value is not None:
                    f["latency"][bisect.bisect_left(LATENCY_EDGES_MS, float(value))] += 1
                if service:
                    row = f["services"].setdefault(service, [0, 0, 0, 0])
                    row[0] += 1
                    row[2] += outcome == "answer"
            elif kind == ev.RATING:
                ratings = out[ch]["ratings"]
                score = str(int(value))
                ratings["by_score"][score] = ratings["by_score"].get(score, 0) + 1
                if agent:
                    a = ratings["agents"].setdefault(agent, [0, 0.0, 0])  # count, sum of scores, 差评
                    a[0], a[1], a[2] = a[0] + 1, a[1] + float(value), a[2] + (value <= BAD_MAX)
        for c in convs.values():
            if not c.turns:
                continue
            f = out[c.channel]
            f["conversations"] += 1
            resolved = int(c.resolved)
            f["resolved"] += resolved
            for service in c.services:
                f["services"][service][1] += 1
                f["services"][service][3] += resolved
        self._day_handoffs(day, out)
        for ch, ref, at in self._rows(
            select(e.channel, e.ref, e.at).where(
                and_(self._where(day, None, ev.RATING), e.value <= BAD_MAX, e.ref.is_not(None))
            )
        ):
            out[ch]["ratings"]["bad"][ref] = _aware(at).timestamp()
        for ch, conv, ref, service, status, fieldname, at in self._rows(
            select(e.channel, e.conversation, e.ref, e.service_id, e.outcome, e.section, e.at)
            .where(self._where(day, None, ev.DECLARATION_STEP))
            .order_by(e.at)
        ):
            # The turn block names which declaration (its kind): one conversation's is one instance.
            key = f"{conv}\x1f{ref}"
            d = out[ch]["declarations"].setdefault(key, [service or "", [], [], None, 0.0])
            if fieldname and fieldname not in d[1]:
                d[1].append(fieldname)
            if status and status not in d[2]:
                d[2].append(status)
            d[3] = fieldname or d[3]
            d[4] = _aware(at).timestamp()
        return dict(out)

    def _day_handoffs(self, day: Period, out: dict[str, dict[str, Any]]) -> None:
        """The day's requests for a person and what followed each (read by conversation, up to now:
        a reply may come days later; SqlEvents.record forgets the kept day when it does)."""
        e = EventRow
        requests = self._rows(
            select(e.channel, e.conversation, e.ref, e.outcome).where(
                self._where(day, None, ev.HANDOFF_REQUESTED)
            )
        )
        convs = sorted({c for _, c, _, o in requests if o == "queued"})
        steps: dict[tuple[str, str], list[tuple[str, str | None, float]]] = defaultdict(list)
        kinds = (ev.HANDOFF_CLAIMED, ev.AGENT_REPLY, ev.HANDOFF_LEFT, ev.HANDOFF_CLOSED)
        for chunk in range(0, len(convs), 500):
            for kind, conv, ref, agent, value in self._rows(
                select(e.kind, e.conversation, e.ref, e.agent, e.value)
                .where(
                    and_(e.conversation.in_(convs[chunk : chunk + 500]), e.kind.in_(kinds), e.at >= day.start)
                )
                .order_by(e.at)
            ):
                steps[(conv, ref)].append((kind, agent, float(value or 0)))
        for ch, conv, ref, outcome in requests:
            h = out[ch]["handoff"]
            h["requests"][outcome] = h["requests"].get(outcome, 0) + 1
            if outcome != "queued":
                continue
            h["queued"] += 1
            answered = False
            for kind, agent, value in steps[(conv, ref)]:
                a = h["agents"].setdefault(agent, _empty_agent()) if agent else _empty_agent()
                if kind == ev.AGENT_REPLY:
                    a["replies"] += 1
                    if not answered:
                        h["first"].append(value)
                        a["first"].append(value)
                        answered = True
                elif kind == ev.HANDOFF_CLAIMED:
                    h["waits"].append(value)
                    a["claimed"] += 1
                elif kind == ev.HANDOFF_LEFT:
                    h["left"] += 1
                else:
                    h["closed"] += 1
                    a["closed"] += 1

    def _days(self, period: Period) -> list[tuple[Period, dict[str, dict[str, Any]]]]:
        """Each day of the period with its additive figures per channel: a day closed more than
        GRACE ago is computed once and kept in stats_days (SqlEvents.record forgets a day when an
        event of it arrives late); today and yesterday's last hour are computed from the events."""
        days = days_of(period)
        now = self.clock()
        with self.db.engine.connect() as conn:
            cached = {
                d: json.loads(p)
                for d, p in conn.execute(
                    select(StatsDayRow.day, StatsDayRow.payload).where(
                        StatsDayRow.day.in_([d.label for d in days])
                    )
                )
            }
        out = []
        for day in days:
            figures = cached.get(day.label)
            if figures is None and day.end + GRACE <= now:
                figures = self._day_raw(day)
                self._keep(day.label, figures, now)
            elif figures is None:
                figures = self._live_day(day)
            out.append((day, figures))
        return out

    def _live_day(self, day: Period) -> dict[str, dict[str, Any]]:
        """A day not yet kept (today). Computed at most once per live_ttl_s in this process; figures
        older than that but younger than STALE_MAX_S are answered at once while a thread computes
        fresh ones (so a page's requests do not each pay the ~0.25 s of a busy day), older ones are
        computed before answering."""
        with self._live_lock:
            seen = self._live.get(day.label)
            age = time.monotonic() - seen[0] if seen is not None else math.inf
            if seen is not None and age < self.live_ttl_s:
                return seen[1]
            if seen is not None and age < STALE_MAX_S and self.live_ttl_s > 0:
                if day.label not in self._refreshing:
                    self._refreshing.add(day.label)
                    threading.Thread(
                        target=self._refresh, args=(day,), daemon=True, name="stats-refresh"
                    ).start()
                return seen[1]
        return self._refresh(day)

    def _refresh(self, day: Period) -> dict[str, dict[str, Any]]:
        try:
            figures = self._day_raw(day)
            with self._live_lock:
                now = time.monotonic()
                self._live = {k: v for k, v in self._live.items() if now - v[0] < STALE_MAX_S}
                if self.live_ttl_s > 0:
                    self._live[day.label] = (now, figures)
            return figures
        finally:
            with self._live_lock:
                self._refreshing.discard(day.label)

    def refresh(self, period: Period) -> None:
        """Compute the period's days that are not kept (today) now, for a caller that asked for
        figures this instant (HTTP `Cache-Control: no-cache`)."""
        now = self.clock()
        for day in days_of(period):
            if day.end + GRACE > now:
                self._refresh(day)

    def warm(self, days: int = 35) -> int:
        """Compute and keep the figures of the last `days` days that ended (a gateway does it in the
        background at start, so the first look at a month does not wait for it); how many."""
        today = self.clock().astimezone(SHANGHAI).date()
        period = Period(
            period_of("day", today - dt.timedelta(days=days)).start, period_of("day", today).start, ""
        )
        return len(self._days(period))

    def _keep(self, label: str, figures: dict[str, Any], now: dt.datetime) -> None:
        try:
            with self.db.engine.begin() as conn:
                conn.execute(
                    insert(StatsDayRow).values(day=label, payload=json.dumps(figures), computed_at=now)
                )
        except IntegrityError:  # another process kept the same day first: the same figures
            pass

    @staticmethod
    def _merge(days: Iterable[dict[str, dict[str, Any]]], channel: str | None) -> dict[str, Any]:
        total = _empty_day()
        for figures in days:
            for ch, f in figures.items():
                if channel and ch != channel:
                    continue
                for outcome, n in f["turns"].items():
                    total["turns"][outcome] = total["turns"].get(outcome, 0) + n
                total["latency"] = [a + b for a, b in zip(total["latency"], f["latency"], strict=True)]
                total["conversations"] += f["conversations"]
                total["resolved"] += f["resolved"]
                for service, row in f["services"].items():
                    acc = total["services"].setdefault(service, [0, 0, 0, 0])
                    for i, n in enumerate(row):
                        acc[i] += n
                _merge_handoff(total["handoff"], f["handoff"])
                for score, n in f["ratings"]["by_score"].items():
                    total["ratings"]["by_score"][score] = total["ratings"]["by_score"].get(score, 0) + n
                _merge_declarations(total["declarations"], f["declarations"])
                total["ratings"]["bad"].update(f["ratings"]["bad"])
                for agent, row in f["ratings"]["agents"].items():
                    acc = total["ratings"]["agents"].setdefault(agent, [0, 0.0, 0])
                    for i, n in enumerate(row):
                        acc[i] += n
        return total

    def _merged(self, period: Period, channel: str | None) -> dict[str, Any]:
        return self._merge((f for _, f in self._days(period)), channel)

    @staticmethod
    def _resolution_of(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "conversations": m["conversations"],
            "resolved": m["resolved"],
            "rate": share(m["resolved"], m["conversations"]),
            "target": RESOLUTION_TARGET,
        }

    @staticmethod
    def _turns_of(m: dict[str, Any]) -> dict[str, Any]:
        by = {o: 0 for o in OUTCOMES} | m["turns"]
        total = sum(by.values())
        return {
            "turns": total,
            "outcomes": by,
            "clarify_rate": share(by["clarify"], total),
            "out_of_scope_rate": share(by["out_of_scope"], total),
        }

    @staticmethod
    def _latency_of(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "p50_ms": histogram_percentile(m["latency"], 50),
            "p95_ms": histogram_percentile(m["latency"], 95),
        }

    # --- the figures -------------------------------------------------------------------------
    def turns(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        return self._turns_of(self._merged(period, channel))

    @staticmethod
    def _handoff_of(h: dict[str, Any]) -> dict[str, Any]:
        responses, waits, queued = h["first"], h["waits"], h["queued"]
        within = sum(1 for v in responses if v <= FIRST_RESPONSE_TARGET_S)
        return {
            "requests": sum(h["requests"].values()),
            "in_hours": queued,
            "outside_hours": h["requests"].get("offline", 0),
            "limited": h["requests"].get("limited", 0),
            "claimed": len(waits),
            "left_queue": h["left"],
            "closed": h["closed"],
            "answered": len(responses),
            "unanswered": queued - len(responses),
            "wait_p50_s": _round(percentile(waits, 50)),
            "wait_p95_s": _round(percentile(waits, 95)),
            "first_response_p50_s": _round(percentile(responses, 50)),
            "first_response_p95_s": _round(percentile(responses, 95)),
            "within_target": within,
            "within_target_share": share(within, queued),
            "target_s": FIRST_RESPONSE_TARGET_S,
        }

    def handoff(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        return self._handoff_of(self._merged(period, channel)["handoff"])

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

    def ratings(
        self, period: Period, channel: str | None = None, merged: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """好差评 by score (from the days' figures) and the 差评's rectification, read now (whether
        one is overdue depends on the moment of asking)."""
        e = EventRow
        merged = merged if merged is not None else self._merged(period, channel)
        by_score = {s: 0 for s in range(1, 6)} | {int(k): n for k, n in merged["ratings"]["by_score"].items()}
        bad: dict[str, float] = merged["ratings"]["bad"]  # follow-up id -> when the 差评 was given
        # A rectification always follows its 差评, so those of the period are on or after its start.
        rectified = (
            {
                r
                for (r,) in self._rows(
                    select(e.ref).where(and_(e.kind == ev.RECTIFIED, e.at >= period.start))
                )
            }
            if bad
            else set()
        )
        fixed_refs = bad.keys() & rectified
        overdue_before = (self.clock() - dt.timedelta(days=RECTIFY_DAYS)).timestamp()
        overdue = sum(1 for ref, ts in bad.items() if ref not in fixed_refs and ts < overdue_before)
        count = sum(by_score.values())
        good = sum(n for s, n in by_score.items() if s >= 4)
        return {
            "count": count,
            "by_score": {str(s): n for s, n in by_score.items()},
            "good": good,
            "bad": sum(n for s, n in by_score.items() if s <= BAD_MAX),
            "good_share": share(good, count),
            "mean": _round(sum(s * n for s, n in by_score.items()) / count, 2) if count else None,
            "rectification": {
                "closed": len(fixed_refs),
                "open": len(bad) - len(fixed_refs),
                "overdue": overdue,
                "deadline_days": RECTIFY_DAYS,
            },
        }

    def declarations(
        self, period: Period, channel: str | None = None, merged: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Declarations with a step in the period (their steps within it), from the days' figures:
        finished, cancelled, abandoned (no step for ABANDONED_AFTER, as of now), in progress; per
        question how many reached it and how many stopped there; the mean pre-fill share of those
        submitted in the period (the declarations of record)."""
        merged = merged if merged is not None else self._merged(period, channel)
        now_ts = self.clock().timestamp()
        finished = cancelled = stale = going = 0
        reached: Counter[str] = Counter()
        stopped: Counter[str] = Counter()
        services: Counter[str] = Counter()
        for service, fields, statuses, last_field, last_ts in merged["declarations"].values():
            services[service] += 1
            reached.update(fields)
            if "done" in statuses:
                finished += 1
            elif "cancelled" in statuses:
                cancelled += 1
                stopped[last_field or "(确认)"] += 1
            elif now_ts - last_ts > ABANDONED_AFTER.total_seconds():
                stale += 1
                stopped[last_field or "(确认)"] += 1
            else:
                going += 1
        where = and_(
            DeclarationRow.status == "done",
            DeclarationRow.submitted_at >= period.start,
            DeclarationRow.submitted_at < period.end,
        )
        if channel:
            where = and_(where, DeclarationRow.channel == channel)
        (avg,) = self._rows(select(func.avg(DeclarationRow.prefill_share)).where(where))[0]
        started = len(merged["declarations"])
        return {
            "started": started,
            "finished": finished,
            "cancelled": cancelled,
            "abandoned": cancelled + stale,
            "in_progress": going,
            "finished_share": share(finished, started),
            "prefill_share": _round(float(avg), 4) if avg is not None else None,
            "prefill_target": PREFILL_TARGET,
            "by_step": [{"field": f, "reached": n, "stopped": stopped[f]} for f, n in reached.most_common()]
            + (
                [{"field": "(确认)", "reached": 0, "stopped": stopped["(确认)"]}] if stopped["(确认)"] else []
            ),
            "by_service": dict(services),
        }

    def publishes(self, period: Period) -> dict[str, int]:
        """Guides published by the editors in the period: new, changed, unpublished."""
        e = EventRow
        rows = self._rows(
            select(e.outcome, func.count()).where(self._where(period, None, ev.PUBLISH)).group_by(e.outcome)
        )
        return {"new": 0, "changed": 0, "unpublished": 0} | {str(o): int(n) for o, n in rows}

    def summary(self, period: Period, channel: str | None = None) -> dict[str, Any]:
        merged = self._merged(period, channel)
        turns = self._turns_of(merged)
        resolution = self._resolution_of(merged)
        return {
            "period": period.as_dict(),
            "channel": channel,
            "conversations": resolution["conversations"],
            "turns": turns["turns"],
            "outcomes": turns["outcomes"],
            "clarify_rate": turns["clarify_rate"],
            "out_of_scope_rate": turns["out_of_scope_rate"],
            "resolution": resolution,
            "handoff": self._handoff_of(merged["handoff"]),
            "messages": self.messages(period, channel),
            "ratings": self.ratings(period, channel, merged),
            "declarations": self.declarations(period, channel, merged),
            "latency": self._latency_of(merged),
            "publishes": self.publishes(period),
        }

    # --- tables ------------------------------------------------------------------------------
    def daily(self, period: Period, channel: str | None = None) -> list[dict[str, Any]]:
        """One row per Shanghai day of the period: the figures charted over time."""
        out = []
        for day, figures in self._days(period):
            merged = self._merge([figures], channel)
            res, turns, ho = (
                self._resolution_of(merged),
                self._turns_of(merged),
                self._handoff_of(merged["handoff"]),
            )
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
        days = [f for _, f in self._days(period)]
        rows = []
        for name in sorted({ch for f in days for ch in f}):
            merged = self._merge(days, name)
            res, turns = self._resolution_of(merged), self._turns_of(merged)
            rows.append(
                {
                    "channel": name,
                    "conversations": res["conversations"],
                    "turns": turns["turns"],
                    "resolution_rate": res["rate"],
                    "clarify_rate": turns["clarify_rate"],
                    "out_of_scope_rate": turns["out_of_scope_rate"],
                    "handoff_requests": sum(merged["handoff"]["requests"].values()),
                }
            )
        return rows

    def services(self, period: Period, channel: str | None = None) -> list[dict[str, Any]]:
        """Per service: turns answered or declared with it, conversations, and those conversations'
        resolution rate (a conversation counts for every service it was answered with)."""
        merged = self._merged(period, channel)
        out = [
            {
                "service_id": s,
                "turns": t,
                "conversations": c,
                "answers": a,
                "resolved": r,
                "resolution_rate": share(r, c),
            }
            for s, (t, c, a, r) in merged["services"].items()
        ]
        return sorted(out, key=lambda r: (-r["turns"], r["service_id"]))

    def agents(self, period: Period, channel: str | None = None) -> list[dict[str, Any]]:
        """Per 店小二: requests claimed, replies, closed, first response against 60 s (for the
        requests they answered first), ratings and 差评."""
        merged = self._merged(period, channel)
        handled, rated = merged["handoff"]["agents"], merged["ratings"]["agents"]
        out = []
        for name in sorted(set(handled) | set(rated)):
            a = handled.get(name) or _empty_agent()
            count, total, bad = rated.get(name) or [0, 0.0, 0]
            within = sum(1 for v in a["first"] if v <= FIRST_RESPONSE_TARGET_S)
            out.append(
                {
                    "agent": name,
                    "claimed": a["claimed"],
                    "closed": a["closed"],
                    "replies": a["replies"],
                    "first_response_p50_s": _round(percentile(a["first"], 50)),
                    "first_response_p95_s": _round(percentile(a["first"], 95)),
                    "within_target_share": share(within, len(a["first"])),
                    "ratings": count,
                    "rating_mean": _round(total / count, 2) if count else None,
                    "bad": bad,
                }
            )
        return out

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
        what the figures saw of them (ids only; each one's transcript, masked, is read apart)."""
        e = EventRow
        if service_id:
            pick = and_(self._where(period, channel, ev.TURN), e.service_id == service_id)
        elif agent:
            pick = and_(
                self._where(period, channel, ev.HANDOFF_CLAIMED, ev.AGENT_REPLY, ev.RATING), e.agent == agent
            )
        else:
            pick = self._where(period, channel, ev.TURN)
        picked = select(e.conversation).where(pick).distinct().scalar_subquery()
        spans = self._rows(
            select(e.conversation, func.min(e.at), func.max(e.at))
            .where(and_(self._where(period, channel), e.conversation.in_(picked)))
            .group_by(e.conversation)
            .order_by(func.max(e.at).desc())
            .limit(limit)
        )
        convs = {conv: _Conversation("") for conv, _, _ in spans}
        for conv, kind, ch, service, section, outcome, value in self._rows(
            select(e.conversation, e.kind, e.channel, e.service_id, e.section, e.outcome, e.value)
            .where(and_(self._where(period, channel, *DECIDING), e.conversation.in_(list(convs))))
            .order_by(e.at)
        ):
            convs[conv].channel = convs[conv].channel or ch
            convs[conv].see(kind, ch, service, section, outcome, value)
        return [
            {
                "conversation": conv,
                "channel": convs[conv].channel,
                "turns": convs[conv].turns,
                "answers": convs[conv].answers,
                "declared": int(convs[conv].declared),
                "handoffs": convs[conv].handoffs,
                "bad_ratings": convs[conv].bad,
                "resolved": convs[conv].resolved,
                "first": _aware(first).isoformat(),
                "last": _aware(last).isoformat(),
            }
            for conv, first, last in spans
        ]


def csv_rows(rows: Iterable[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a table of dicts (nested values flattened as JSON-ish text)."""
    rows = list(rows)
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    return header, [[row.get(k) for k in header] for row in rows]
