"""The core layer: settings from the environment keep their types, every state has a label,
one date parser, one expected-error type answered the same way."""

from __future__ import annotations

import enum
from datetime import date, datetime, time, timedelta

import pytest
from conftest import csrf_token

from portal import create_app
from portal.core.config import ConfigError
from portal.core.dates import TOKYO, Precision, parse_clock, parse_day, parse_moment, parse_month, parse_when
from portal.core.errors import DomainError
from portal.core.labels import STATES, label


def test_environment_settings_take_the_type_of_their_default(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("PORTAL_MAIL_RETRY_BASE_SECONDS", "5")
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("MAIL_USE_TLS", "yes")
    monkeypatch.setenv("PORTAL_TOTP_REQUIRED_FOR_SECRETARIAT", "no")
    monkeypatch.setenv("PORTAL_PERMANENT_SESSION_LIFETIME", "3600")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert app.config["LOGIN_MAX_FAILURES"] == 3
    assert app.config["MAIL_RETRY_BASE_SECONDS"] == 5
    assert app.config["MAIL_PORT"] == 2525
    assert app.config["MAIL_USE_TLS"] is True
    assert app.config["TOTP_REQUIRED_FOR_SECRETARIAT"] is False
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=1)


@pytest.mark.parametrize(("name", "value"), [
    ("PORTAL_MAIL_RETRY_BASE_SECONDS", "three"), ("MAIL_PORT", "25a"), ("PORTAL_MAIL_USE_TLS", "maybe"),
])
def test_a_bad_setting_stops_the_app_at_start_naming_it(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name.removeprefix("PORTAL_")):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})


def test_a_login_failure_limit_from_the_environment_counts_failures(monkeypatch, make_app):
    # The old loader kept "3" a string: every failed log-in then raised TypeError (500).
    monkeypatch.setenv("PORTAL_LOGIN_MAX_FAILURES", "3")
    app = make_app()
    client = app.test_client()
    for _ in range(4):
        response = client.post("/login", data={"email": "nobody@example.org", "password": "wrong-password-1",
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 422


def test_every_state_has_a_japanese_label():
    from portal.core.db import db

    create_app({"TESTING": True})  # imports every model

    enums = {
        column.type.enum_class
        for mapper in db.Model.registry.mappers
        for column in mapper.columns
        if getattr(column.type, "enum_class", None) is not None
    }
    assert enums, "no enum columns found"
    for enum_cls in enums | {Precision}:
        assert issubclass(enum_cls, enum.Enum)
        for member in enum_cls:
            assert member.value in STATES.get(enum_cls.__name__, {}), f"{enum_cls.__name__}.{member.name} has no label"
            assert label(member) != member.value


def test_one_date_parser():
    assert parse_day(" 2021-08-03 ") == date(2021, 8, 3)
    assert parse_month("2021-10") == date(2021, 10, 1)
    assert parse_when(Precision.EARLY, "2021-10") == date(2021, 10, 1)
    assert parse_when(Precision.UNDECIDED, "") is None
    for typed in ("2021/8/3", "2021-8-3", "２０２１年８月３日", "2021年8月3日（火）", "2021.8.3", "２０２１／８／３"):
        assert parse_day(typed) == date(2021, 8, 3), typed
    assert parse_month("２０２１年１０月") == parse_month("2021/10") == date(2021, 10, 1)
    assert parse_clock("１５時３０分") == parse_clock("15:30") == parse_clock("15時半") == time(15, 30)
    for bad_time in ("25:00", "15:60", "3pm", ""):
        with pytest.raises(DomainError):
            parse_clock(bad_time)
    for bad in ("2021-02-30", "1999-01-01", "2021/8", "8月3日", "2021年13月1日", ""):
        with pytest.raises(DomainError):
            parse_day(bad)
    # A day and a time together (the registration window): the day's and the time's parsers.
    for typed in ("2027/3/9 10:00", "２０２７年３月９日 10時", "2027年3月9日（火） 10:00～", "2027-03-09T10:00",
                  "２０２７／３／９　１０：００", "2027年3月9日10時"):
        assert parse_moment(typed) == datetime(2027, 3, 9, 10, 0, tzinfo=TOKYO), typed
    for bad, message in (("2027/3/9", "時刻も入力"), ("来週", "日時の形式"), ("2027/3/910:00", "日時の形式"),
                         ("2027/3/9 25:00", "日時の形式"), ("1999/3/9 10:00", "2000年から")):
        with pytest.raises(DomainError, match=message):
            parse_moment(bad)
    with pytest.raises(DomainError, match="2021年度"):
        parse_when(Precision.DAY, "2022-04-01", expected_fy=2021)
