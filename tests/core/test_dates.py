"""portal.core.dates: labels, windows and fiscal years as the secretariat writes them (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from portal.core.dates import (
    Precision,
    date_label,
    fiscal_year,
    fiscal_year_bounds,
    format_day,
    local_datetime,
    to_local,
    weekday_ja,
    window,
)

SEED_DAY = date(2021, 8, 3)  # 8月3日（火）, the seed's first seminar


# ----------------------------------------------------------------------------- date_label


def test_day_with_start_time_is_the_seed_label():
    assert date_label(SEED_DAY, Precision.DAY, time(15, 30)) == "8月3日（火） 15:30～"


def test_day_with_year():
    assert date_label(SEED_DAY, Precision.DAY, time(15, 30), with_year=True) == "2021年8月3日（火） 15:30～"


def test_day_with_start_and_end():
    label = date_label(SEED_DAY, Precision.DAY, time(15, 30), time(17, 0), with_year=True)
    assert label == "2021年8月3日（火） 15:30～17:00"


def test_day_without_time_shows_the_day_only():
    assert date_label(SEED_DAY, Precision.DAY) == "8月3日（火）"
    assert date_label(SEED_DAY, Precision.DAY, with_year=True) == "2021年8月3日（火）"


def test_minutes_keep_two_digits():
    assert date_label(date(2021, 12, 7), Precision.DAY, time(9, 5)) == "12月7日（火） 9:05～"


@pytest.mark.parametrize(
    ("precision", "expected"),
    [(Precision.EARLY, "10月上旬"), (Precision.MID, "10月中旬"), (Precision.LATE, "10月下旬")],
)
def test_period_of_a_month(precision, expected):
    assert date_label(date(2021, 10, 1), precision) == expected


def test_period_with_year():
    assert date_label(date(2021, 10, 1), Precision.EARLY, with_year=True) == "2021年10月上旬"


def test_period_ignores_times():
    # A time makes no sense without a day: the label stays the period.
    assert date_label(date(2021, 10, 1), Precision.EARLY, time(15, 30)) == "10月上旬"


def test_whole_month():
    assert date_label(date(2021, 12, 1), Precision.MONTH) == "12月"
    assert date_label(date(2021, 12, 1), Precision.MONTH, with_year=True) == "2021年12月"


@pytest.mark.parametrize(
    ("day", "precision"),
    [(None, Precision.UNDECIDED), (date(2021, 12, 1), Precision.UNDECIDED), (None, Precision.DAY),
     (None, Precision.EARLY)],
)
def test_undecided(day, precision):
    assert date_label(day, precision) == "未定"
    assert date_label(day, precision, with_year=True) == "未定"


def test_english_labels():
    assert date_label(SEED_DAY, Precision.DAY, time(15, 30), locale="en") == "Tue 3 Aug 15:30–"
    assert date_label(date(2021, 10, 1), Precision.EARLY, locale="en") == "early Oct"
    assert date_label(date(2021, 12, 1), Precision.MONTH, locale="en") == "Dec"
    assert date_label(None, Precision.UNDECIDED, locale="en") == "TBD"


def test_format_day():
    assert format_day(SEED_DAY) == "2021年8月3日（火）"
    assert format_day(SEED_DAY, with_year=False) == "8月3日（火）"


# ----------------------------------------------------------------------------- window


def test_window_early_is_first_to_tenth():
    start, end = window(date(2021, 10, 1), Precision.EARLY)
    assert (start, end) == (date(2021, 10, 1), date(2021, 10, 11))  # end exclusive: the 10th is in


def test_window_mid_is_eleventh_to_twentieth():
    assert window(date(2021, 10, 1), Precision.MID) == (date(2021, 10, 11), date(2021, 10, 21))


def test_window_late_runs_to_the_end_of_a_31_day_month():
    assert window(date(2021, 10, 1), Precision.LATE) == (date(2021, 10, 21), date(2021, 11, 1))


def test_window_late_in_a_30_day_month():
    assert window(date(2021, 11, 1), Precision.LATE) == (date(2021, 11, 21), date(2021, 12, 1))


def test_window_late_in_february_of_a_leap_year_includes_the_29th():
    start, end = window(date(2024, 2, 1), Precision.LATE)
    assert (start, end) == (date(2024, 2, 21), date(2024, 3, 1))
    assert start <= date(2024, 2, 29) < end


def test_window_late_in_february_of_a_common_year():
    assert window(date(2023, 2, 1), Precision.LATE) == (date(2023, 2, 21), date(2023, 3, 1))


def test_window_late_december_crosses_the_year():
    assert window(date(2021, 12, 1), Precision.LATE) == (date(2021, 12, 21), date(2022, 1, 1))


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (date(2021, 10, 1), (date(2021, 10, 1), date(2021, 11, 1))),
        (date(2021, 9, 1), (date(2021, 9, 1), date(2021, 10, 1))),
        (date(2024, 2, 1), (date(2024, 2, 1), date(2024, 3, 1))),
        (date(2021, 12, 1), (date(2021, 12, 1), date(2022, 1, 1))),
    ],
)
def test_window_month_is_the_whole_month(first, expected):
    assert window(first, Precision.MONTH) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (SEED_DAY, (date(2021, 8, 3), date(2021, 8, 4))),
        (date(2021, 12, 31), (date(2021, 12, 31), date(2022, 1, 1))),
        (date(2024, 2, 29), (date(2024, 2, 29), date(2024, 3, 1))),
    ],
)
def test_window_day_is_one_day(day, expected):
    assert window(day, Precision.DAY) == expected


def test_window_undecided_is_none():
    assert window(None, Precision.UNDECIDED) is None
    assert window(date(2021, 10, 1), Precision.UNDECIDED) is None
    assert window(None, Precision.MONTH) is None


def test_only_an_exact_day_is_not_tentative():
    assert not Precision.DAY.is_tentative
    for precision in (Precision.EARLY, Precision.MID, Precision.LATE, Precision.MONTH, Precision.UNDECIDED):
        assert precision.is_tentative


# ----------------------------------------------------------------------------- fiscal year


@pytest.mark.parametrize(
    ("day", "fy"),
    [
        (date(2022, 3, 31), 2021),
        (date(2022, 4, 1), 2022),
        (date(2021, 3, 31), 2020),
        (date(2021, 4, 1), 2021),
        (date(2021, 1, 1), 2020),
        (date(2021, 12, 31), 2021),
        (SEED_DAY, 2021),
    ],
)
def test_fiscal_year_runs_april_to_march(day, fy):
    assert fiscal_year(day) == fy


def test_fiscal_year_bounds():
    assert fiscal_year_bounds(2021) == (date(2021, 4, 1), date(2022, 4, 1))


# ----------------------------------------------------------------------------- weekdays, time zone


@pytest.mark.parametrize(
    ("day", "weekday"),
    [
        (date(2021, 8, 3), "火"),
        (date(2021, 10, 1), "金"),
        (date(2024, 2, 29), "木"),
        (date(2026, 1, 1), "木"),
        (date(2019, 5, 1), "水"),
        (date(2021, 8, 1), "日"),
        (date(2021, 8, 2), "月"),
        (date(2021, 8, 7), "土"),
    ],
)
def test_weekday_ja(day, weekday):
    assert weekday_ja(day) == weekday


def test_local_datetime_is_tokyo_wall_clock():
    value = local_datetime(SEED_DAY, time(15, 30))
    assert value.isoformat() == "2021-08-03T15:30:00+09:00"
    assert value.astimezone(UTC) == datetime(2021, 8, 3, 6, 30, tzinfo=UTC)


def test_to_local_converts_utc_to_tokyo():
    assert to_local(datetime(2021, 8, 3, 6, 30, tzinfo=UTC)).isoformat() == "2021-08-03T15:30:00+09:00"
    # Just before midnight UTC is already the next day in Tokyo.
    assert to_local(datetime(2021, 8, 2, 23, 0, tzinfo=UTC)).date() == SEED_DAY
