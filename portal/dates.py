"""Dates as the secretariat writes them: exact days, 上旬/中旬/下旬, a month, or undecided (未定).

This module is the one place that turns a date and its precision into a label, a window of
days (for calendar feeds) or a fiscal year. Everything shown to people is in Asia/Tokyo.
"""

from __future__ import annotations

import calendar
import enum
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal.types import utcnow

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS_JA = "月火水木金土日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Precision(enum.StrEnum):
    """How precisely a date is known."""

    DAY = "day"  # 8月3日（火）
    EARLY = "early"  # 上旬: 1st–10th
    MID = "mid"  # 中旬: 11th–20th
    LATE = "late"  # 下旬: 21st–end of month
    MONTH = "month"  # 10月: the whole month
    UNDECIDED = "undecided"  # 未定

    @property
    def is_tentative(self) -> bool:
        return self is not Precision.DAY


PERIOD_JA = {Precision.EARLY: "上旬", Precision.MID: "中旬", Precision.LATE: "下旬"}
PERIOD_EN = {Precision.EARLY: "early", Precision.MID: "mid", Precision.LATE: "late"}


def fiscal_year(day: date) -> int:
    """Japanese fiscal year (April–March): 2022-03-31 belongs to FY2021."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_bounds(fy: int) -> tuple[date, date]:
    """First day of the fiscal year and first day of the next one."""
    return date(fy, 4, 1), date(fy + 1, 4, 1)


def window(day: date | None, precision: Precision) -> tuple[date, date] | None:
    """The days a date may fall on: (first day, day after the last). None when undecided."""
    if day is None or precision is Precision.UNDECIDED:
        return None
    last = calendar.monthrange(day.year, day.month)[1]
    if precision is Precision.DAY:
        return day, day + timedelta(days=1)
    if precision is Precision.EARLY:
        return day.replace(day=1), day.replace(day=11)
    if precision is Precision.MID:
        return day.replace(day=11), day.replace(day=21)
    if precision is Precision.LATE:
        return day.replace(day=21), day.replace(day=last) + timedelta(days=1)
    return day.replace(day=1), day.replace(day=last) + timedelta(days=1)


def weekday_ja(day: date) -> str:
    return WEEKDAYS_JA[day.weekday()]


def format_day(day: date, *, with_year: bool = True, locale: str = "ja") -> str:
    """2021年8月3日（火） — or Tue 3 Aug 2021 in English."""
    if locale == "en":
        text = f"{WEEKDAYS_EN[day.weekday()]} {day.day} {MONTHS_EN[day.month - 1]}"
        return f"{text} {day.year}" if with_year else text
    text = f"{day.month}月{day.day}日（{weekday_ja(day)}）"
    return f"{day.year}年{text}" if with_year else text


def format_time(value: time | None) -> str:
    return "" if value is None else f"{value.hour}:{value.minute:02d}"


def date_label(
    day: date | None,
    precision: Precision,
    start: time | None = None,
    end: time | None = None,
    *,
    with_year: bool = False,
    locale: str = "ja",
) -> str:
    """The label the annual schedule shows: 8月3日（火） 15:30～, 10月上旬, 12月, 未定."""
    if day is None or precision is Precision.UNDECIDED:
        return "未定" if locale == "ja" else "TBD"
    if precision is Precision.DAY:
        text = format_day(day, with_year=with_year, locale=locale)
        if start is not None:
            text += f" {format_time(start)}～" if locale == "ja" else f" {format_time(start)}–"
            if end is not None:
                text += format_time(end)
        return text
    if locale == "en":
        month = f"{MONTHS_EN[day.month - 1]}" + (f" {day.year}" if with_year else "")
        return f"{PERIOD_EN[precision]} {month}" if precision in PERIOD_EN else month
    text = (f"{day.year}年" if with_year else "") + f"{day.month}月"
    return text + PERIOD_JA.get(precision, "")


def local_datetime(day: date, at: time) -> datetime:
    """An aware Asia/Tokyo datetime for a wall-clock time on a day."""
    return datetime.combine(day, at, tzinfo=TOKYO)


def to_local(value: datetime) -> datetime:
    return value.astimezone(TOKYO)


def today_local() -> date:
    return utcnow().astimezone(TOKYO).date()


def next_local_midnight(now: datetime | None = None) -> datetime:
    """When 'today' in Asia/Tokyo next changes: what depends on today's date is good until then."""
    day = (now or utcnow()).astimezone(TOKYO).date()
    return local_datetime(day + timedelta(days=1), time(0))
