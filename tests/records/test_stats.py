"""The service figures from a known set of events, exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from records import events as ev
from records.db import Database
from records.events import Event, SqlEvents
from records.models import DeclarationRow
from records.stats import SHANGHAI, Stats, days_of, percentile, period_of

DAY = dt.date(2026, 12, 1)
T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI).astimezone(dt.timezone.utc)
NOW = T0 + dt.timedelta(days=3)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def turn(
    conv: str,
    outcome: str,
    s: float,
    service: str | None = None,
    section: str | None = None,
    channel: str = "web",
) -> Event:
    return Event(ev.TURN, conv, channel, service, section, outcome, value=100 + s, at=at(s))


def step(conv: str, decl: str, status: str, field: str | None, s: float) -> list[Event]:
    return [
        turn(conv, "declaration", s, "elder-allowance"),
        Event(ev.DECLARATION_STEP, conv, "web", "elder-allowance", field, status, ref=decl, at=at(s)),
    ]


def known_day() -> list[Event]:
    h5, h6 = repr(at(100).timestamp()), repr(at(200).timestamp())
    return [
        # c1, c2: answered (c2 after a clarify) -> resolved
        turn("c1", "answer", 1, "ent-setup", "materials"),
        turn("c1", "answer", 2, "ent-setup", "time_limit"),
        turn("c2", "clarify", 3),
        turn("c2", "answer", 4, "passport", "fee"),
        # c3: out of scope, on WeChat -> not resolved
        turn("c3", "out_of_scope", 5, channel="wechat"),
        # c4: the same answer twice -> not resolved
        turn("c4", "answer", 6, "housing-fund-rent", "materials"),
        turn("c4", "answer", 7, "housing-fund-rent", "materials"),
        # c5: a person answers in 30 s, rated 5 -> not resolved (a person was needed)
        turn("c5", "handoff", 100),
        Event(ev.HANDOFF_REQUESTED, "c5", "web", outcome="queued", ref=h5, at=at(100)),
        Event(ev.HANDOFF_CLAIMED, "c5", "web", agent="xiaoqian", value=20, ref=h5, at=at(120)),
        Event(ev.AGENT_REPLY, "c5", "web", agent="xiaoqian", value=30, ref=h5, at=at(130)),
        Event(ev.AGENT_REPLY, "c5", "web", agent="xiaoqian", value=50, ref=h5, at=at(150)),
        Event(ev.HANDOFF_CLOSED, "c5", "web", agent="xiaoqian", value=60, ref=h5, at=at(180)),
        Event(ev.RATING, "c5", "web", agent="xiaoqian", value=5, at=at(190)),
        # c6: answered, then a person in 90 s, a 差评 that is rectified
        turn("c6", "answer", 150, "passport", "materials"),
        turn("c6", "handoff", 200),
        Event(ev.HANDOFF_REQUESTED, "c6", "web", outcome="queued", ref=h6, at=at(200)),
        Event(ev.HANDOFF_CLAIMED, "c6", "web", agent="xiaoli", value=80, ref=h6, at=at(280)),
        Event(ev.AGENT_REPLY, "c6", "web", agent="xiaoli", value=90, ref=h6, at=at(290)),
        Event(ev.HANDOFF_CLOSED, "c6", "web", agent="xiaoli", value=20, ref=h6, at=at(300)),
        Event(ev.RATING, "c6", "web", agent="xiaoli", value=1, ref="F1", at=at(310)),
        Event(ev.RECTIFIED, "c6", "web", agent="admin", value=3600, ref="F1", at=at(3910)),
        # c7: a finished declaration -> resolved; c8: one left at its second question
        *step("c7", "d7", "asking", "consent", 400),
        *step("c7", "d7", "asking", "elder_name", 410),
        *step("c7", "d7", "confirming", None, 420),
        *step("c7", "d7", "done", None, 430),
        *step("c8", "d8", "asking", "consent", 500),
        *step("c8", "d8", "asking", "elder_name", 510),
        # c9: outside service hours, a 留言 answered the next morning
        turn("c9", "handoff", 600),
        Event(
            ev.HANDOFF_REQUESTED, "c9", "web", outcome="offline", ref=repr(at(600).timestamp()), at=at(600)
        ),
        Event(ev.MESSAGE_LEFT, "c9", "web", ref="T1", at=at(610)),
        Event(ev.MESSAGE_ANSWERED, "c9", "web", agent="xiaoqian", value=86400, ref="T1", at=at(610 + 86400)),
    ]


@pytest.fixture
def stats(database: Database) -> Stats:
    SqlEvents(database).record(known_day())
    with database.sessions.begin() as session:
        session.add(
            DeclarationRow(
                id="row7",
                declaration_id="d7",
                service_id="elder-allowance",
                sender_id="c7",
                status="done",
                resume_code="R7",
                prefill_share=0.8,
                submitted_at=at(430),
            )
        )
    return Stats(database, clock=lambda: NOW)


def test_summary_of_a_known_day(stats: Stats) -> None:
    s = stats.summary(period_of("day", DAY))
    assert s["conversations"] == 9
    assert s["turns"] == 17
    assert s["outcomes"] == {
        "answer": 6,
        "clarify": 1,
        "out_of_scope": 1,
        "handoff": 3,
        "smalltalk": 0,
        "declaration": 6,
    }
    assert s["clarify_rate"] == round(1 / 17, 4) and s["out_of_scope_rate"] == round(1 / 17, 4)
    assert s["resolution"] == {"conversations": 9, "resolved": 3, "rate": round(3 / 9, 4), "target": 0.8}
    h = s["handoff"]
    assert (h["requests"], h["in_hours"], h["outside_hours"], h["claimed"], h["closed"]) == (3, 2, 1, 2, 2)
    assert (h["first_response_p50_s"], h["first_response_p95_s"]) == (30.0, 90.0)
    assert (h["wait_p50_s"], h["wait_p95_s"]) == (20.0, 80.0)
    assert (h["within_target"], h["within_target_share"], h["unanswered"]) == (1, 0.5, 0)
    assert s["messages"] == {"left": 1, "answered": 1, "answered_next_day": 1, "answered_next_day_share": 1.0}
    r = s["ratings"]
    assert r["by_score"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1} and r["bad"] == 1 and r["mean"] == 3.0
    assert r["rectification"] == {"closed": 1, "open": 0, "overdue": 0, "deadline_days": 15}
    d = s["declarations"]
    assert (d["started"], d["finished"], d["abandoned"], d["in_progress"]) == (2, 1, 1, 0)
    assert d["prefill_share"] == 0.8
    assert {x["field"]: (x["reached"], x["stopped"]) for x in d["by_step"]} == {
        "consent": (2, 0),
        "elder_name": (2, 1),
    }
    assert s["latency"]["p50_ms"] == 250  # the upper edge of its 25 ms bucket


def test_a_channel_and_another_day_are_apart(stats: Stats) -> None:
    wechat = stats.summary(period_of("day", DAY), "wechat")
    assert (wechat["conversations"], wechat["turns"], wechat["resolution"]["resolved"]) == (1, 1, 0)
    assert wechat["outcomes"]["out_of_scope"] == 1
    empty = stats.summary(period_of("day", DAY - dt.timedelta(days=1)))
    assert (empty["conversations"], empty["turns"], empty["resolution"]["rate"]) == (0, 0, None)
    assert [c["channel"] for c in stats.channels(period_of("week", DAY))] == ["web", "wechat"]


def test_an_unanswered_request_and_an_unrectified_bad_rating_count_against_the_targets(
    database: Database,
) -> None:
    events = SqlEvents(database)
    events.record(
        [
            turn("x", "handoff", 0),
            Event(ev.HANDOFF_REQUESTED, "x", "web", outcome="queued", ref="h", at=at(0)),
            Event(ev.HANDOFF_LEFT, "x", "web", value=300, ref="h", at=at(300)),
            Event(ev.RATING, "y", "web", agent="a", value=2, ref="F9", at=at(10)),
        ]
    )
    stats = Stats(database, clock=lambda: T0 + dt.timedelta(days=16))
    s = stats.summary(period_of("month", DAY))
    assert (s["handoff"]["unanswered"], s["handoff"]["within_target_share"], s["handoff"]["left_queue"]) == (
        1,
        0.0,
        1,
    )
    assert s["ratings"]["rectification"] == {"closed": 0, "open": 1, "overdue": 1, "deadline_days": 15}


def test_tables_per_service_agent_and_day(stats: Stats) -> None:
    week = period_of("week", DAY)
    services = {r["service_id"]: r for r in stats.services(week)}
    assert services["passport"] == {
        "service_id": "passport",
        "turns": 2,
        "conversations": 2,
        "answers": 2,
        "resolved": 1,
        "resolution_rate": 0.5,
    }
    assert services["elder-allowance"]["conversations"] == 2 and services["elder-allowance"]["resolved"] == 1
    agents = {r["agent"]: r for r in stats.agents(week)}
    assert (agents["xiaoqian"]["claimed"], agents["xiaoqian"]["first_response_p50_s"]) == (1, 30.0)
    assert (agents["xiaoli"]["bad"], agents["xiaoli"]["within_target_share"]) == (1, 0.0)
    days = stats.daily(week)
    assert len(days) == 7 and days[1]["day"] == "2026-12-01" and days[1]["conversations"] == 9
    assert sum(d["turns"] for d in days) == 17
    drill = stats.conversations(week, service_id="passport")
    assert {c["conversation"]: c["resolved"] for c in drill} == {"c2": True, "c6": False}


def test_periods_follow_the_shanghai_calendar() -> None:
    day = period_of("day", DAY)
    assert day.start == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.timezone.utc)
    assert period_of("week", DAY).label == "2026-11-30 起一周"
    month = period_of("month", dt.date(2026, 12, 31))
    assert len(days_of(month)) == 31 and month.label == "2026-12"
    assert percentile([1, 2, 3, 4], 50) == 2 and percentile([], 95) is None


def test_purge_drops_only_old_events(database: Database) -> None:
    events = SqlEvents(database)
    events.record([turn("old", "answer", 0), turn("new", "answer", 86400 * 40)])
    assert events.purge_before(T0 + dt.timedelta(days=30)) == 1
    assert Stats(database).turns(period_of("month", dt.date(2027, 1, 10)))["turns"] == 1


def test_an_editors_publish_is_an_event_of_the_same_transaction(database: Database) -> None:
    from knowledge_base.store import load_guides
    from records.guides import SqlGuideRepository

    guide = next(g for g in load_guides().guides if g.id == "elder-allowance")
    repo = SqlGuideRepository(database)
    repo.seed([guide])
    changed = guide.model_copy(update={"aliases": [*guide.aliases, "老人津贴测试"]})
    repo.publish_now(changed, by="rev", note="新增别名", base=1)
    repo.unpublish("elder-allowance", by="rev", note="停办测试")
    today = dt.datetime.now(SHANGHAI).date()
    assert Stats(database).publishes(period_of("day", today)) == {"new": 0, "changed": 1, "unpublished": 1}


def test_a_day_that_ended_is_kept_and_a_late_event_of_it_still_counts(database: Database) -> None:
    from sqlalchemy import func, select

    from records.models import StatsDayRow

    events = SqlEvents(database, clock=lambda: NOW)
    events.record(known_day())
    stats = Stats(database, clock=lambda: NOW)
    day = period_of("day", DAY)
    assert stats.summary(day)["turns"] == 17
    with database.engine.connect() as conn:  # the ended day was kept, today is not
        assert conn.execute(select(StatsDayRow.day)).scalars().all() == ["2026-12-01"]
    assert stats.summary(day) == stats.summary(day)  # read back from what was kept
    events.record([turn("late", "answer", 7000, "passport", "fee")])  # after a database outage
    late = stats.summary(day)
    assert (late["turns"], late["conversations"], late["resolution"]["resolved"]) == (18, 10, 4)
    with database.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(StatsDayRow)).scalar() == 1


def test_a_reply_days_after_a_kept_day_s_request_still_counts_for_that_day(database: Database) -> None:
    events = SqlEvents(database, clock=lambda: NOW)
    ref = repr(at(0).timestamp())
    events.record(
        [
            turn("w", "handoff", 0),
            Event(ev.HANDOFF_REQUESTED, "w", "web", outcome="queued", ref=ref, at=at(0)),
        ]
    )
    stats = Stats(database, clock=lambda: NOW)
    day = period_of("day", DAY)
    assert stats.handoff(day)["unanswered"] == 1  # and the day is kept so
    events.record([Event(ev.AGENT_REPLY, "w", "web", agent="xiaoqian", value=3 * 86400, ref=ref, at=NOW)])
    h = stats.handoff(day)
    assert (h["unanswered"], h["answered"], h["first_response_p50_s"]) == (0, 1, 3 * 86400.0)


def test_today_is_reused_briefly_then_refreshed_without_making_anyone_wait(database: Database) -> None:
    import time

    events = SqlEvents(database)
    today = period_of("day", dt.datetime.now(SHANGHAI).date())
    now = dt.datetime.now(dt.timezone.utc)
    events.record([Event(ev.TURN, "t1", "web", "passport", "fee", "answer", value=80, at=now)])
    stats = Stats(database, live_ttl_s=0.2)
    assert stats.turns(today)["turns"] == 1
    events.record([Event(ev.TURN, "t2", "web", "passport", "fee", "answer", value=80, at=now)])
    assert stats.turns(today)["turns"] == 1  # within the reuse time: the same figures
    deadline = time.monotonic() + 5
    while stats.turns(today)["turns"] != 2:  # then answered at once while refreshed in the background
        assert time.monotonic() < deadline, "today's figures were never refreshed"
        time.sleep(0.05)
