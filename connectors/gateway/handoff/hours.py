"""店小二's service hours: a weekly timetable with holidays and 调休 workdays (config/*.yaml)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
Range = tuple[dt.time, dt.time]


def _parse_range(text: str) -> Range:
    start, end = (dt.time.fromisoformat(part.strip()) for part in str(text).split("-"))
    if end <= start:
        raise ValueError(f"service hours range {text!r} ends before it starts")
    return start, end


def _dates(items: Any) -> frozenset[dt.date]:
    return frozenset(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in items or [])


@dataclass(frozen=True)
class ServiceHours:
    """When agents are on duty, in one time zone."""

    weekly: dict[int, list[Range]]
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))

    @classmethod
    def from_yaml(cls, path: str | Path) -> ServiceHours:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        weekly = {i: [_parse_range(r) for r in (data.get("weekly") or {}).get(day) or []]
                  for i, day in enumerate(DAYS)}
        return cls(weekly, _dates(data.get("holidays")), _dates(data.get("workdays")),
                   ZoneInfo(str(data.get("timezone") or "Asia/Shanghai")))

    @classmethod
    def always(cls) -> ServiceHours:
        return cls({i: [(dt.time(0, 0), dt.time.max)] for i in range(7)})

    def ranges(self, day: dt.date) -> list[Range]:
        if day in self.holidays:
            return []
        if day in self.workdays:
            return self.weekly.get(0, [])
        return self.weekly.get(day.weekday(), [])

    def local(self, now: dt.datetime) -> dt.datetime:
        return now.astimezone(self.tz) if now.tzinfo else now.replace(tzinfo=self.tz)

    def is_open(self, now: dt.datetime) -> bool:
        local = self.local(now)
        return any(start <= local.time() < end for start, end in self.ranges(local.date()))

    def next_open(self, now: dt.datetime) -> dt.datetime | None:
        """The next moment agents are on duty (now, if open), within 60 days."""
        local = self.local(now)
        for offset in range(60):
            day = local.date() + dt.timedelta(days=offset)
            for start, end in sorted(self.ranges(day)):
                opens = dt.datetime.combine(day, start, self.tz)
                if offset == 0 and local.time() >= end:
                    continue
                return max(opens, local)
        return None

    def describe_next(self, now: dt.datetime) -> str:
        """When people are back, in words: 今天 14:00 / 明天 08:30 / 10月8日（周四）08:30."""
        opens = self.next_open(now)
        if opens is None:
            return "工作时间"
        days = (opens.date() - self.local(now).date()).days
        clock = opens.strftime("%H:%M")
        if days == 0:
            return f"今天 {clock}"
        if days == 1:
            return f"明天 {clock}"
        return f"{opens.month}月{opens.day}日（{DAY_NAMES[opens.weekday()]}）{clock}"

    def describe(self) -> str:
        """The weekly timetable in words, e.g. 周一至周五 08:30-20:00；周六、周日 09:00-17:00."""
        parts: list[tuple[list[int], str]] = []
        for i in range(7):
            ranges = "、".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.weekly.get(i, []))
            if not ranges:
                continue
            if parts and parts[-1][1] == ranges and parts[-1][0][-1] == i - 1:
                parts[-1][0].append(i)
            else:
                parts.append(([i], ranges))
        words = []
        for days, ranges in parts:
            label = DAY_NAMES[days[0]] if len(days) == 1 else f"{DAY_NAMES[days[0]]}至{DAY_NAMES[days[-1]]}"
            words.append(f"{label} {ranges}")
        return "；".join(words) + "（法定节假日除外）"
