"""Dates as the secretariat writes them: exact days, 上旬/中旬/下旬, a month, or undecided (未定).

This module is the one place that turns text into a date (forms and the importer alike), and a
date and its precision into a label, a window of days (for calendar feeds) or a fiscal year.
Everything shown to people is in Asia/Tokyo.
"""

from __future__ import annotations

import calendar
import enum
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from portal.core.db import utcnow
from portal.core.errors import DomainError

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


# Dates the portal accepts anywhere (forms and imports): keeps calendars and labels sane.
MIN_YEAR, MAX_YEAR = 2000, 2100

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


class Dated:
    """A thing on the calendar: a day or a vaguer period (``precision``), and on a day maybe
    start and end instants. The seminar, the subcommittee session and the facts a feed reads
    share its labels and windows from here."""

    __slots__ = ()  # also a base of slotted dataclasses

    if TYPE_CHECKING:
        @property
        def date_on(self) -> date | None: ...
        @property
        def precision(self) -> Precision: ...
        @property
        def starts_at(self) -> datetime | None: ...
        @property
        def ends_at(self) -> datetime | None: ...

    # Whether a label with the year shows the end time too (a seminar's mails do, a session's
    # never have).
    label_shows_end: ClassVar[bool] = True

    @property
    def start_time(self) -> time | None:
        """The wall-clock start in Asia/Tokyo."""
        return to_local(self.starts_at).time() if self.starts_at else None

    @property
    def end_time(self) -> time | None:
        return to_local(self.ends_at).time() if self.ends_at else None

    @property
    def window(self) -> tuple[date, date] | None:
        return window(self.date_on, self.precision)

    def label(self, *, with_year: bool = False, locale: str = "ja") -> str:
        end = self.end_time if with_year and self.label_shows_end else None
        return date_label(self.date_on, self.precision, self.start_time, end, with_year=with_year, locale=locale)


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


def format_moment(value: datetime, *, part: str = "minutes", locale: str = "ja") -> str:
    """An instant in the public style, in Asia/Tokyo: 2026年12月5日（土） 4:06 (``part``: "day",
    "minutes" or "seconds")."""
    local = to_local(value)
    text = format_day(local.date(), locale=locale)
    if part == "day":
        return text
    text += f" {format_time(local.time())}"
    return text + f":{local.second:02d}" if part == "seconds" else text


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


# ----------------------------------------------------------------------------- parsing


def year_ok(year: int) -> bool:
    return MIN_YEAR <= year <= MAX_YEAR


def _bad_format(example: str, pattern: str) -> DomainError:
    return DomainError(_l("日付の形式が正しくありません（例: %(example)s）。%(pattern)s の形式で入力してください。",
                          example=example, pattern=pattern))


def _in_range(day: date) -> date:
    if not year_ok(day.year):
        raise DomainError(_l("%(min)s年から%(max)s年の日付を入力してください。", min=MIN_YEAR, max=MAX_YEAR))
    return day


def _normalized(text: str) -> str:
    """Text as people type it, in one form: full-width digits and punctuation become ASCII
    (NFKC: ２０２７／３／９ → 2027/3/9), spaces go, and a trailing weekday such as （火） is dropped."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return re.sub(r"\((?:[月火水木金土日](?:曜日?)?|[A-Za-z]{3})\)$", "", text)


# 2027-03-09, 2027/3/9, 2027.3.9, 2027年3月9日 (after _normalized).
_DAY = re.compile(r"(\d{4})(?:-(\d{1,2})-(\d{1,2})|/(\d{1,2})/(\d{1,2})"
                  r"|\.(\d{1,2})\.(\d{1,2})|年(\d{1,2})月(\d{1,2})日)")
# 2027-03, 2027/3, 2027.3, 2027年3月
_MONTH = re.compile(r"(\d{4})(?:-(\d{1,2})|/(\d{1,2})|\.(\d{1,2})|年(\d{1,2})月)")
# 15:30, 15時30分, 15時, 15時半 (after _normalized)
_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2})|時(?:(\d{1,2})分)?|時半)")


def _numbers(match: re.Match[str]) -> list[int]:
    return [int(g) for g in match.groups() if g is not None]


def parse_day(text: str) -> date:
    """A day as people type it: 2027-03-09, 2027/3/9, 2027.3.9, 2027年3月9日, in half- or
    full-width digits, with or without its weekday; between MIN_YEAR and MAX_YEAR.
    DomainError otherwise."""
    match = _DAY.fullmatch(_normalized(text))
    try:
        if match is None:
            raise ValueError
        year, month, day = _numbers(match)
        return _in_range(date(max(year, 1), month, day))
    except ValueError:
        raise _bad_format("2021-08-03", "YYYY-MM-DD・YYYY/M/D・YYYY年M月D日") from None


def parse_month(text: str) -> date:
    """A month (2027-03, 2027/3, 2027年3月; or a whole day) → its first day; DomainError otherwise."""
    normalized = _normalized(text)
    if _DAY.fullmatch(normalized):
        return parse_day(normalized).replace(day=1)
    match = _MONTH.fullmatch(normalized)
    if match is None or not 1 <= _numbers(match)[1] <= 12:
        raise _bad_format("2021-10", "YYYY-MM・YYYY/M・YYYY年M月")
    year, month = _numbers(match)
    year = max(year, 1)  # year 0 has no date; 0001 is out of range with the same message
    return _in_range(date(year, month, 1))


def parse_clock(text: str) -> time:
    """A wall-clock time as people type it: 15:30, １５：３０, 15時30分, 15時, 15時半."""
    normalized = _normalized(text)
    match = _CLOCK.fullmatch(normalized)
    try:
        if match is None:
            raise ValueError
        numbers = _numbers(match)
        minute = 30 if normalized.endswith("時半") else (numbers[1] if len(numbers) > 1 else 0)
        return time(numbers[0], minute)
    except ValueError:
        raise DomainError(_l("時刻の形式が正しくありません（例: 15:30、15時30分）。")) from None


_WEEKDAY = re.compile(r"\((?:[月火水木金土日](?:曜日?)?|[A-Za-z]{3})\)")


def parse_moment(text: str) -> datetime:
    """A day and a wall-clock time as people type them, in Asia/Tokyo: 2027/3/9 10:00,
    ２０２７年３月９日 10時, 2027年3月9日（火） 10:00～ (as the portal shows it), 2027-03-09T10:00.
    The day's part is read by parse_day and the time's by parse_clock; both are needed."""
    text = unicodedata.normalize("NFKC", text).strip().rstrip("～~-").strip()
    text = _WEEKDAY.sub(" ", re.sub(r"(?<=\d)T(?=\d)", " ", text))
    # The day ends at 日 (2027年3月9日10時) or at the first space (2027/3/9 10:00).
    day_text, sep, clock_text = text.partition("日") if "日" in text else text.partition(" ")
    if "日" in text:
        day_text += sep
    bad = DomainError(_l("日時の形式が正しくありません（例: 2027/3/9 10:00、2027年3月9日 10時）。"))
    if _DAY.fullmatch(_normalized(day_text)) is None:
        raise bad
    if not clock_text.strip():
        raise DomainError(_l("時刻も入力してください（例: 2027/3/9 10:00、2027年3月9日 10時）。"))
    day = parse_day(day_text)  # its own message for a day that does not exist or is out of range
    try:
        return local_datetime(day, parse_clock(clock_text))
    except DomainError:
        raise bad from None


def parse_when(precision: Precision, text: str | None, expected_fy: int | None = None) -> date | None:
    """The date of a "when" (a precision and its text: a day, or a month for the others).

    None when undecided; DomainError with the message to show beside the date otherwise.
    """
    text = (text or "").strip()
    if precision is Precision.UNDECIDED:
        if text:
            raise DomainError(_l("時期が未定のときは日付を空欄にしてください。"))
        return None
    if not text:
        raise DomainError(_l("日付または月を入力してください。"))
    day = parse_day(text) if precision is Precision.DAY else parse_month(text)
    if expected_fy is not None and fiscal_year(day) != expected_fy:
        raise DomainError(_l("%(fy)s年度（%(fy)s年4月〜%(next)s年3月）の日付を入力してください。",
                             fy=expected_fy, next=expected_fy + 1))
    return day
