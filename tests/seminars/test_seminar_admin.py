"""The secretariat's back office for the seminar series, through HTTP on a real database.

The secretariat creates a fiscal year's series, adds seminars by hand or generates a bimonthly
run of drafts, makes imprecise dates exact, edits the program (ordered items, bullet points,
presenters shown with 様), publishes, reschedules or cancels (registrants are mailed), sets the
registration window (Asia/Tokyo wall clock), opens and closes Q&A, lists and exports registrants
as Excel-ready CSV and writes to them. Every one of these routes is the secretariat's alone.
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from conftest import SERIES, AuthActions, is_login_redirect, page_text, register_accounts
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.core.dates import Precision, fiscal_year, today_local
from portal.core.db import db, utcnow
from portal.imports.operations import import_data
from portal.mail.models import OutboxMessage
from portal.materials.models import Material
from portal.seminars import operations, presenters, registrations
from portal.seminars.models import (
    Presenter,
    ProgramItem,
    Registration,
    RegistrationState,
    Seminar,
    SeminarSeries,
    SeminarStatus,
)

WEEKDAYS = "月火水木金土日"


# ----------------------------------------------------------------------------- helpers


def ja_day(day: date) -> str:
    """2021年8月3日（火）: written out here, not taken from the code under test."""
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"


class _Forms(HTMLParser):
    """Every <form> of a page as {name: value}, as a browser would submit it unchanged."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, str]] = []
        self._select: str | None = None
        self._explicit: set[str] = set()
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({})
            self._explicit = set()
            return
        if not self.forms:
            return
        form = self.forms[-1]
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    form[name] = a.get("value") or "y"
            elif kind not in {"submit", "button", "file", "reset"}:
                form[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            value = a.get("value") or ""
            if "selected" in a:
                form[self._select] = value
                self._explicit.add(self._select)
            elif self._select not in form:
                form[self._select] = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            text = "".join(self._text)
            self.forms[-1][self._textarea] = text[2:] if text.startswith("\r\n") else text.removeprefix("\n")
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text.append(data)


def form_with(html: str, field: str) -> dict[str, str]:
    """The values of the page's form that has ``field``, without its CSRF token."""
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        if field in form:
            form.pop("csrf_token", None)
            return form
    raise AssertionError(f"no form with {field!r} on the page")


def make_series(app, fy: int, name: str = SERIES) -> int:
    with app.app_context():
        import_data({"series": [{"name": name, "fiscal_year": fy}]})
        db.session.commit()
        return db.session.scalar(
            select(SeminarSeries.id).where(SeminarSeries.name == name, SeminarSeries.fiscal_year == fy))


def future_day(days: int = 40) -> date:
    return today_local() + timedelta(days=days)


def other_day_same_year(day: date) -> date:
    """A different day in the same fiscal year (the form refuses dates outside it)."""
    later = day + timedelta(days=1)
    return later if fiscal_year(later) == fiscal_year(day) else day - timedelta(days=1)


def cancel(app, seminar_id: int, user: Any) -> None:
    with app.app_context():
        registrations.cancel(seminar_id, db.session.get(User, user.id))
        db.session.commit()


def states(app, seminar_id: int) -> dict[int, RegistrationState]:
    with app.app_context():
        rows = db.session.scalars(select(Registration).where(Registration.seminar_id == seminar_id))
        return {r.user_id: r.state for r in rows}


def get_seminar(app, seminar_id: int) -> Seminar:
    with app.app_context():
        seminar = db.session.get(Seminar, seminar_id)
        assert seminar is not None
        db.session.expunge(seminar)
        return seminar


def series_seminars(app, series_id: int) -> list[Seminar]:
    with app.app_context():
        found = list(db.session.scalars(
            select(Seminar).where(Seminar.series_id == series_id).order_by(Seminar.number, Seminar.id)))
        db.session.expunge_all()
        return found


def count_rows(app, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def program(app, seminar_id: int) -> list[tuple[int, int, str, list[tuple[str, str | None, str | None]]]]:
    """(id, position, title, presenters) of each item, in order."""
    with app.app_context():
        items = db.session.scalars(
            select(ProgramItem).where(ProgramItem.seminar_id == seminar_id).order_by(ProgramItem.position))
        return [
            (i.id, i.position, i.title, [(p.organization, p.department, p.person) for p in i.presenters])
            for i in items
        ]


def secretariat(create_user, auth: AuthActions) -> Any:
    user = create_user("secretariat", org=None, name="事務局 担当")
    response = auth.login(user)
    assert response.status_code == 302
    return user


def edit_form(client, seminar_id: int) -> dict[str, str]:
    response = client.get(f"/secretariat/seminars/{seminar_id}/edit")
    assert response.status_code == 200
    return form_with(response.get_data(as_text=True), "series_id")


def new_seminar_data(series_id: int, **values: str) -> dict[str, str]:
    data = {
        "series_id": str(series_id), "number": "", "title": "", "description": "", "precision": "day",
        "date": "", "start": "", "end": "", "status": "draft", "capacity": "", "registration_opens_at": "",
        "registration_closes_at": "", "join_url": "", "mailbox": "",
    }
    data.update(values)
    return data


# ----------------------------------------------------------------------------- series


def test_secretariat_creates_and_edits_a_series(app, client, auth, create_user):
    secretariat(create_user, auth)
    assert client.get("/secretariat/series/new").status_code == 200

    response = auth.post("/secretariat/series/new", {
        "name": SERIES, "fiscal_year": "2031", "description": "隔月開催\nオンライン（Zoom）"})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).query == "fy=2031"
    with app.app_context():
        series = db.session.scalar(select(SeminarSeries).where(SeminarSeries.fiscal_year == 2031))
        assert (series.name, series.description) == (SERIES, "隔月開催\nオンライン（Zoom）")
        series_id = series.id

    # The same series twice in one year is refused with a message on the field.
    again = auth.post("/secretariat/series/new", {"name": SERIES, "fiscal_year": "2031"})
    assert again.status_code == 422
    assert "この年度のシリーズは既にあります" in again.get_data(as_text=True)
    bad_year = auth.post("/secretariat/series/new", {"name": "別シリーズ", "fiscal_year": "1999"})
    assert bad_year.status_code == 422
    assert "2000〜2100 の年度を入力してください" in bad_year.get_data(as_text=True)
    assert count_rows(app, SeminarSeries) == 1

    page = client.get(f"/secretariat/series/{series_id}/edit")
    assert page.status_code == 200
    assert form_with(page.get_data(as_text=True), "name")["fiscal_year"] == "2031"
    response = auth.post(f"/secretariat/series/{series_id}/edit", {
        "name": "スマートシティ・セミナー", "fiscal_year": "2032", "description": ""})
    assert response.status_code == 302
    with app.app_context():
        series = db.session.get(SeminarSeries, series_id)
        assert (series.name, series.fiscal_year, series.description) == ("スマートシティ・セミナー", 2032, None)

    blank = auth.post(f"/secretariat/series/{series_id}/edit", {"name": "", "fiscal_year": "2032"})
    assert blank.status_code == 422
    with app.app_context():
        assert db.session.get(SeminarSeries, series_id).name == "スマートシティ・セミナー"


def test_editing_a_series_into_an_existing_one_is_refused(app, client, auth, create_user):
    first = make_series(app, 2031)
    second = make_series(app, 2031, name="別のシリーズ")
    secretariat(create_user, auth)

    response = auth.post(f"/secretariat/series/{second}/edit", {"name": SERIES, "fiscal_year": "2031"})

    assert response.status_code == 422
    assert "この年度のシリーズは既にあります" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(SeminarSeries, second).name == "別のシリーズ"
        assert db.session.get(SeminarSeries, first).name == SERIES


# ----------------------------------------------------------------------------- bimonthly drafts


def test_generate_bimonthly_drafts_clamped_to_month_end_and_numbered_after_existing(
        app, client, auth, create_user, make_seminar):
    existing = make_seminar("gen-existing", day=date(2021, 6, 10), number=1, title="既存の第1回")
    with app.app_context():
        series_id = db.session.get(Seminar, existing).series_id
    member = create_user("member")
    secretariat(create_user, auth)

    response = auth.post(f"/secretariat/series/{series_id}/generate", {
        "first_date": "2021-08-31", "count": "4", "start": "15:30", "end": "17:00"})
    assert response.status_code == 302

    seminars = series_seminars(app, series_id)
    assert [(s.number, s.date_on) for s in seminars] == [
        (1, date(2021, 6, 10)),
        (2, date(2021, 8, 31)), (3, date(2021, 10, 31)), (4, date(2021, 12, 31)), (5, date(2022, 2, 28)),
    ]
    drafts = seminars[1:]
    assert all(s.status is SeminarStatus.DRAFT for s in drafts)
    assert all(s.precision is Precision.DAY and s.title is None for s in drafts)
    assert len({s.key for s in seminars}) == 5
    # 15:30–17:00 in Tokyo is 06:30–08:00 UTC.
    assert drafts[1].starts_at == datetime(2021, 10, 31, 6, 30, tzinfo=UTC)
    assert drafts[1].ends_at == datetime(2021, 10, 31, 8, 0, tzinfo=UTC)

    # The secretariat sees the drafts in its schedule; visitors and members see none of them.
    back_office = client.get("/secretariat/seminars?fy=2021").get_data(as_text=True)
    assert all(f'data-seminar-id="{s.id}"' in back_office for s in seminars)
    assert "10月31日（日）" in page_text(back_office)
    for viewer in (None, member):
        other = app.test_client()
        if viewer:
            AuthActions(other).login(viewer)
        public = other.get("/seminars?fy=2021").get_data(as_text=True)
        assert f'data-seminar-id="{existing}"' in public
        assert not any(f'data-seminar-id="{s.id}"' in public for s in drafts)
        assert other.get(f"/seminars/{drafts[0].id}").status_code == 404


def test_generate_with_bad_input_creates_nothing(app, client, auth, create_user):
    series_id = make_series(app, 2021)
    secretariat(create_user, auth)
    for data in (
        {"first_date": "2021-02-30", "count": "3"},
        {"first_date": "8月3日", "count": "3"},
        {"first_date": "2021-08-03", "count": "0"},
        {"first_date": "2021-08-03", "count": "13"},
        {"first_date": "2021-08-03", "count": "3", "start": "17:00", "end": "15:30"},
        {"first_date": "2021-08-03", "count": "3", "end": "17:00"},
    ):
        response = auth.post(f"/secretariat/series/{series_id}/generate", data, follow_redirects=True)
        assert response.status_code == 200, data
        assert "flash-error" in response.get_data(as_text=True), data
        assert series_seminars(app, series_id) == [], data


def test_generated_drafts_stay_inside_the_series_fiscal_year(app, client, auth, create_user):
    """FY2021 runs April 2021 – March 2022: a run that would spill into FY2022 must not put drafts there."""
    series_id = make_series(app, 2021)
    secretariat(create_user, auth)

    auth.post(f"/secretariat/series/{series_id}/generate", {"first_date": "2022-02-15", "count": "3"})
    auth.post(f"/secretariat/series/{series_id}/generate", {"first_date": "2023-06-01", "count": "2"})

    outside = [s.date_on for s in series_seminars(app, series_id) if fiscal_year(s.date_on) != 2021]
    assert outside == []


# ----------------------------------------------------------------------------- seminars by hand


def test_add_a_seminar_with_an_exact_date(app, client, auth, create_user):
    series_id = make_series(app, 2021)
    secretariat(create_user, auth)
    assert client.get(f"/secretariat/seminars/new?series={series_id}").status_code == 200

    response = auth.post("/secretariat/seminars/new", new_seminar_data(
        series_id, number="1", title="前橋市・浜松市・岡崎市による取組紹介・意見交換", date="2021-08-03",
        start="15:30", end="17:00", status="published", capacity="500", registration_open="y",
        join_url="https://example.org/webinar/123"))

    assert response.status_code == 302
    with app.app_context():
        seminar = db.session.scalar(select(Seminar).where(Seminar.series_id == series_id))
        assert urlsplit(response.headers["Location"]).path == f"/secretariat/seminars/{seminar.id}"
        assert seminar.number == 1 and seminar.status is SeminarStatus.PUBLISHED
        assert (seminar.date_on, seminar.precision) == (date(2021, 8, 3), Precision.DAY)
        assert seminar.starts_at == datetime(2021, 8, 3, 6, 30, tzinfo=UTC)
        assert seminar.ends_at == datetime(2021, 8, 3, 8, 0, tzinfo=UTC)
        assert (seminar.capacity, seminar.registration_open) == (500, True)
        assert seminar.join_url == "https://example.org/webinar/123"
        seminar_id = seminar.id
    public = page_text(app.test_client().get(f"/seminars/{seminar_id}").get_data(as_text=True))
    assert "2021年8月3日（火） 15:30～17:00" in public
    assert "https://example.org/webinar/123" not in public

    # Without a number, the next one in the series is taken.
    auth.post("/secretariat/seminars/new", new_seminar_data(series_id, precision="undecided"))
    assert [s.number for s in series_seminars(app, series_id)] == [1, 2]


def test_imprecise_dates_and_blank_theme_then_made_exact(app, client, auth, create_user):
    series_id = make_series(app, 2021)
    secretariat(create_user, auth)
    for precision, when in (("early", "2021-10"), ("month", "2021-12"), ("undecided", "")):
        response = auth.post("/secretariat/seminars/new", new_seminar_data(
            series_id, precision=precision, date=when, status="published"))
        assert response.status_code == 302, precision
    early, month, undecided = series_seminars(app, series_id)
    assert (early.precision, early.date_on, early.starts_at, early.title) == (
        Precision.EARLY, date(2021, 10, 1), None, None)
    assert (month.precision, month.date_on) == (Precision.MONTH, date(2021, 12, 1))
    assert (undecided.precision, undecided.date_on) == (Precision.UNDECIDED, None)

    visitor = app.test_client()
    html = visitor.get("/seminars?fy=2021").get_data(as_text=True)
    text = page_text(html)
    assert "10月上旬" in text and "12月" in text and "未定" in text
    assert text.count("（テーマ未定）") == 3
    assert html.count("badge-tentative") == 3 and "予定" in text
    assert "時期や内容等は変更となる可能性があります" in text

    # Later the date of the first becomes exact and its theme is decided.
    data = edit_form(client, early.id)
    assert (data["precision"], data["date"], data["title"]) == ("early", "2021-10", "")
    data.update(precision="day", date="2021-10-05", start="15:30", end="17:00", title="中山間地での取組紹介")
    response = auth.post(f"/secretariat/seminars/{early.id}/edit", data)
    assert response.status_code == 302
    exact = get_seminar(app, early.id)
    assert (exact.precision, exact.date_on, exact.title) == (Precision.DAY, date(2021, 10, 5), "中山間地での取組紹介")
    assert exact.starts_at == datetime(2021, 10, 5, 6, 30, tzinfo=UTC)
    listing = visitor.get("/seminars?fy=2021").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*data-seminar-id="{early.id}".*?</tr>', listing, re.S)
    assert row
    assert "10月5日（火） 15:30～" in page_text(row.group(0))
    assert "中山間地での取組紹介" in row.group(0)
    assert "予定" not in page_text(row.group(0)) and "テーマ未定" not in row.group(0)


BAD_SEMINAR_INPUT = [
    ({"precision": "day", "date": "2021-10"}, "日付の形式が正しくありません（例: 2021-08-03）"),
    ({"precision": "early", "date": "10月上旬"}, "日付の形式が正しくありません（例: 2021-10）"),
    ({"precision": "undecided", "date": "2021-10"}, "時期が未定のときは日付を空欄にしてください"),
    ({"precision": "day", "date": "2022-04-05"}, "2021年度（2021年4月〜2022年3月）の日付を入力してください"),
    ({"precision": "day", "date": "2021-03-31"}, "2021年度（2021年4月〜2022年3月）の日付を入力してください"),
    ({"precision": "day", "date": "2021-08-03", "start": "17:00", "end": "15:30"},
     "終了時刻は開始時刻より後にしてください"),
    ({"precision": "early", "date": "2021-10", "start": "15:30"}, "時刻は日付が確定しているときだけ指定できます"),
    ({"precision": "day", "date": "2021-08-03", "join_url": "zoom で後日連絡"}, "URLの形式が正しくありません"),
    ({"precision": "day", "date": "2021-08-03", "registration_opens_at": "2021-07-20T10:00",
      "registration_closes_at": "2021-07-01T10:00"}, "受付締切は受付開始より後にしてください"),
    ({"precision": "day", "date": "2021-08-03", "capacity": "0"}, "1以上の数を入力してください"),
    ({"precision": "day", "date": "2021-08-03", "registration_opens_at": "来週の月曜"},
     "日時の形式が正しくありません（例: 2027/3/9 10:00、2027年3月9日 10時）"),
    ({"precision": "day", "date": "2021-08-03", "registration_closes_at": "2021/7/31"}, "時刻も入力してください"),
    ({"precision": "day", "date": "2021-08-03", "registration_closes_at": "2021/7/31 25:00"},
     "日時の形式が正しくありません"),
    ({"precision": "day", "date": "2021-08-03", "registration_opens_at": "1999/7/1 10:00"},
     "2000年から2100年の日付を入力してください"),
]


def test_bad_input_for_a_new_seminar_is_422_with_field_errors(app, client, auth, create_user):
    series_id = make_series(app, 2021)
    secretariat(create_user, auth)
    for values, message in BAD_SEMINAR_INPUT:
        response = auth.post("/secretariat/seminars/new", new_seminar_data(series_id, title="不正な入力", **values))
        assert response.status_code == 422, values
        html = response.get_data(as_text=True)
        assert message in html_lib.unescape(html), values
        assert 'class="error"' in html and 'aria-invalid="true"' in html, values
    assert count_rows(app, Seminar) == 0


def test_bad_input_for_an_existing_seminar_changes_nothing(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("bad-edit", day=date(2021, 8, 3), title="元のテーマ")
    before = get_seminar(app, seminar_id)
    secretariat(create_user, auth)
    original = edit_form(client, seminar_id)
    for values, message in BAD_SEMINAR_INPUT:
        response = auth.post(f"/secretariat/seminars/{seminar_id}/edit",
                             {**original, "title": "変えたテーマ", **values})
        assert response.status_code == 422, values
        assert message in html_lib.unescape(response.get_data(as_text=True)), values
    after = get_seminar(app, seminar_id)
    assert (after.title, after.date_on, after.starts_at, after.join_url, after.capacity, after.sequence) == (
        before.title, before.date_on, before.starts_at, before.join_url, before.capacity, before.sequence)
    assert after.updated_at == before.updated_at


def test_a_blank_date_with_an_exact_or_partial_precision_is_refused(app, client, auth, create_user, make_seminar):
    """「日付が確定」 or 上旬 without a date would be an exact seminar on no day: refused like any bad input."""
    series_id = make_series(app, 2021)
    seminar_id = make_seminar("blank-date", day=date(2021, 8, 3))
    secretariat(create_user, auth)
    original = edit_form(client, seminar_id)
    for precision in ("day", "early"):
        response = auth.post("/secretariat/seminars/new", new_seminar_data(series_id, precision=precision, date=""))
        assert response.status_code == 422, precision
        assert "日付または月を入力してください" in response.get_data(as_text=True), precision
        response = auth.post(f"/secretariat/seminars/{seminar_id}/edit", {
            **original, "precision": precision, "date": "", "start": "", "end": ""})
        assert response.status_code == 422, precision
    assert count_rows(app, Seminar) == 1
    seminar = get_seminar(app, seminar_id)
    assert (seminar.precision, seminar.date_on) == (Precision.DAY, date(2021, 8, 3))


# ----------------------------------------------------------------------------- program


def presenter_rows(text: str) -> dict[str, str]:
    """Presenters written as the importer's shorthand, "[n:] 組織 / 部署 / 氏名" a line, as the
    editor's rows (presenters-<i>-organization, …) post them."""
    data = {}
    for i, p in enumerate(presenters.parse_presenters(text)):
        data |= {f"presenters-{i}-organization": p.organization, f"presenters-{i}-department": p.department or "",
                 f"presenters-{i}-person": p.person or "", f"presenters-{i}-honorific": "様",
                 f"presenters-{i}-point": "" if p.point is None else str(p.point + 1)}
    return data


def row_values(values: dict[str, str]) -> list[tuple[str, ...]]:
    """The editor's presenter rows as (organization, department, person, honorific, point), in order."""
    count = len([k for k in values if k.endswith("-organization")])
    return [tuple(values[f"presenters-{i}-{name}"] for name in ("organization", "department", "person", "honorific",
                                                                  "point")) for i in range(count)]


def add_item(auth: AuthActions, seminar_id: int, **values: str):
    data = {"start_time": "", "title": "", "points": "", "notes": "", **values}
    data |= presenter_rows(data.pop("presenters", ""))
    return auth.post(f"/secretariat/seminars/{seminar_id}/program", data)


def test_program_items_added_reordered_edited_and_removed(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("program", day=date(2021, 8, 3))
    secretariat(create_user, auth)

    for values in (
        {"start_time": "15:30", "title": "イントロダクション", "points": "本日のプログラム紹介\n\n  登壇者の紹介  \n",
         "presenters": "総務省 / サイバーセキュリティ統括官室"},
        {"start_time": "15:35", "title": "取組紹介", "points": "前橋市の取組\n浜松市の取組\n岡崎市の取組",
         "presenters": "前橋市\n浜松市\n岡崎市"},
        {"start_time": "16:30", "title": "意見交換", "notes": "※質問はQ&Aでお寄せください"},
    ):
        response = add_item(auth, seminar_id, **values)
        assert response.status_code == 302
    items = program(app, seminar_id)
    assert [(position, title) for _, position, title, _ in items] == [
        (0, "イントロダクション"), (1, "取組紹介"), (2, "意見交換")]
    assert items[0][3] == [("総務省", "サイバーセキュリティ統括官室", None)]
    assert items[1][3] == [("前橋市", None, None), ("浜松市", None, None), ("岡崎市", None, None)]
    intro, talks, discussion = (i[0] for i in items)
    with app.app_context():
        assert db.session.get(ProgramItem, intro).points == ["本日のプログラム紹介", "登壇者の紹介"]
        assert db.session.get(ProgramItem, intro).start_time == time(15, 30)

    # A title is required: nothing is added.
    refused = add_item(auth, seminar_id, start_time="16:50", title="  ")
    assert refused.status_code == 422
    assert "入力してください" in refused.get_data(as_text=True)
    assert len(program(app, seminar_id)) == 3

    # The discussion moves up above the talks; moving the first up or the last down changes nothing.
    assert auth.post(f"/secretariat/program/{discussion}/move", {"direction": "up"}).status_code == 302
    auth.post(f"/secretariat/program/{intro}/move", {"direction": "up"})
    auth.post(f"/secretariat/program/{talks}/move", {"direction": "down"})
    assert [(i[0], i[1]) for i in program(app, seminar_id)] == [(intro, 0), (discussion, 1), (talks, 2)]
    auth.post(f"/secretariat/program/{intro}/move", {"direction": "down"})
    assert [i[0] for i in program(app, seminar_id)] == [discussion, intro, talks]
    auth.post(f"/secretariat/program/{discussion}/move", {"direction": "down"})
    assert [i[0] for i in program(app, seminar_id)] == [intro, discussion, talks]

    # Editing shows the presenters as rows and saves a named person.
    page = client.get(f"/secretariat/program/{intro}/edit")
    assert page.status_code == 200
    values = form_with(page.get_data(as_text=True), "points")
    assert row_values(values) == [("総務省", "サイバーセキュリティ統括官室", "", "様", "")]
    assert values["points"] == "本日のプログラム紹介\n登壇者の紹介"
    values = {k: v for k, v in values.items() if not k.startswith("presenters-")}
    values |= presenter_rows("総務省 / サイバーセキュリティ統括官室 / 山田 花子\n事務局")
    assert auth.post(f"/secretariat/program/{intro}/edit", values).status_code == 302
    assert program(app, seminar_id)[0][3] == [
        ("総務省", "サイバーセキュリティ統括官室", "山田 花子"), ("事務局", None, None)]

    html = app.test_client().get(f"/seminars/{seminar_id}").get_data(as_text=True)
    assert re.findall(r'data-program-item-id="(\d+)"', html) == [str(intro), str(discussion), str(talks)]
    text = page_text(html)
    assert "総務省 サイバーセキュリティ統括官室 山田 花子 様、事務局 様" in text
    assert "前橋市 様、浜松市 様、岡崎市 様" in text
    assert "15:35 ～ 取組紹介" in text and "登壇者の紹介" in text and "※質問はQ&Aでお寄せください" in text
    assert text.index("意見交換") < text.index("取組紹介")

    manage = page_text(client.get(f"/secretariat/seminars/{seminar_id}").get_data(as_text=True))
    assert "終了 17:00" in manage

    # Removing the middle item closes the gap.
    confirm = client.get(f"/secretariat/program/{discussion}/delete")  # the page's 削除 asks first
    assert "元に戻すことはできません" in page_text(confirm.get_data(as_text=True))
    assert len(program(app, seminar_id)) == 3
    assert auth.post(f"/secretariat/program/{discussion}/delete").status_code == 302
    assert [(i[0], i[1]) for i in program(app, seminar_id)] == [(intro, 0), (talks, 1)]
    html = app.test_client().get(f"/seminars/{seminar_id}").get_data(as_text=True)
    assert re.findall(r'data-program-item-id="(\d+)"', html) == [str(intro), str(talks)]
    assert "意見交換" not in html
    assert client.get(f"/secretariat/program/{discussion}/edit").status_code == 404


def test_editing_the_seed_program_keeps_each_presenter_under_their_point(app, client, auth, create_user, demo):
    """The seed's 15:35 item: 総務省 presents the guideline, PwC the subcommittee. Saving the item
    from the back office (a typo fixed) keeps that, on the page and in the feed."""
    with app.app_context():
        seminar = db.session.scalar(select(Seminar).where(Seminar.key == "fy2021-1"))
        item_id = next(i.id for i in seminar.program if i.title == "事務局からの共有事項")
        seminar_id = seminar.id
    secretariat(create_user, auth)
    values = form_with(client.get(f"/secretariat/program/{item_id}/edit").get_data(as_text=True), "points")
    assert row_values(values) == [("総務省", "サイバーセキュリティ統括官室", "", "様", "1"),
                                  ("PwCコンサルティング合同会社", "", "", "様", "2")]
    values["title"] = "事務局からの共有事項（更新）"
    assert auth.post(f"/secretariat/program/{item_id}/edit", values).status_code == 302

    def under_their_points(text: str, sep: str) -> bool:
        return (f"スマートシティセキュリティガイドライン（第2.0版）の概要について{sep}"
                "（総務省 サイバーセキュリティ統括官室 様）" in text
                and f"ネット・ゼロスマートシティ分科会の発足について{sep}（PwCコンサルティング合同会社 様）" in text)

    visitor = app.test_client()
    assert under_their_points(page_text(visitor.get(f"/seminars/{seminar_id}").get_data(as_text=True)), " ")
    from icalendar import Calendar

    event = Calendar.from_ical(visitor.get(f"/seminars/{seminar_id}.ics").data).walk("VEVENT")[0]
    assert "事務局からの共有事項（更新）" in str(event["DESCRIPTION"])
    assert under_their_points(str(event["DESCRIPTION"]), "\n　")


def test_presenters_text_reads_back_what_it_wrote():
    item = ProgramItem(points=["一", "二"], presenters=[
        Presenter(organization="総務省", person="山田 太郎", position=0),
        Presenter(organization="2030：未来会議", department="事務局", position=1, point_index=1),
    ])
    text = presenters.presenters_text(item)
    assert [(p.organization, p.department, p.person, p.point) for p in presenters.parse_presenters(text)] == [
        ("総務省", None, "山田 太郎", None), ("2030：未来会議", "事務局", None, 1)]


def test_a_presenter_for_a_point_the_item_lacks_is_refused(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("points", day=date(2021, 8, 3))
    secretariat(create_user, auth)
    refused = add_item(auth, seminar_id, title="共有事項", points="ガイドラインの概要", presenters="2: 総務省")
    assert refused.status_code == 422
    assert "1行目: 項目番号は内容の行数（1行）以内で指定してください。" in page_text(refused.get_data(as_text=True))
    refused = add_item(auth, seminar_id, title="共有事項", **{"presenters-0-department": "統括官室"})
    assert "1行目: 組織を入力してください。" in page_text(refused.get_data(as_text=True))
    assert program(app, seminar_id) == []
    assert add_item(auth, seminar_id, title="共有事項", points="ガイドラインの概要",
                    presenters="１：総務省 / サイバーセキュリティ統括官室").status_code == 302
    with app.app_context():
        item = db.session.scalars(select(ProgramItem).where(ProgramItem.seminar_id == seminar_id)).one()
        presenter = item.presenters[0]
        assert (presenter.organization, presenter.point_index) == ("総務省", 0)


# ----------------------------------------------------------------------------- status and mails


def test_draft_is_invisible_until_published_then_cancelled(app, client, auth, create_user):
    series_id = make_series(app, 2021)
    member = create_user("member")
    secretariat(create_user, auth)
    auth.post("/secretariat/seminars/new", new_seminar_data(
        series_id, title="下書きのセミナー", date="2021-08-03", start="15:30", status="draft"))
    (seminar,) = series_seminars(app, series_id)

    member_client = app.test_client()
    AuthActions(member_client).login(member)
    visitor = app.test_client()
    for other in (visitor, member_client):
        assert other.get(f"/seminars/{seminar.id}").status_code == 404
        assert "下書きのセミナー" not in other.get("/seminars?fy=2021").get_data(as_text=True)
    assert client.get(f"/seminars/{seminar.id}").status_code == 200

    data = edit_form(client, seminar.id)
    assert auth.post(f"/secretariat/seminars/{seminar.id}/edit", {**data, "status": "published"}).status_code == 302
    for other in (visitor, member_client):
        assert other.get(f"/seminars/{seminar.id}").status_code == 200
        assert "下書きのセミナー" in other.get("/seminars?fy=2021").get_data(as_text=True)

    assert auth.post(f"/secretariat/seminars/{seminar.id}/edit", {**data, "status": "cancelled"}).status_code == 302
    assert get_seminar(app, seminar.id).status is SeminarStatus.CANCELLED
    page = member_client.get(f"/seminars/{seminar.id}")
    assert page.status_code == 200
    assert "中止" in page_text(page.get_data(as_text=True))


PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def test_one_draft_rule_for_the_page_its_feed_its_questions_its_files_and_registration(
    app, client, auth, create_user, make_seminar
):
    """A draft does not exist for anyone but the secretariat, and every way in says so alike (the
    page, its .ics, its Q&A page, a public file on it, the registration button); published, the
    same ways in answer at once. Before, four loaders each wrote the rule under two names."""
    seminar_id = make_seminar("draft-rule", day=future_day(), status="draft", qa="open")
    secretariat(create_user, auth)
    response = auth.post(f"/secretariat/seminars/{seminar_id}/materials",
                         {"title": "", "program_item_id": "0", "public": "y", "file": (io.BytesIO(PDF), "案内.pdf")},
                         content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        (material_id,) = db.session.scalars(select(Material.id).where(Material.seminar_id == seminar_id))
    paths = {"page": f"/seminars/{seminar_id}", "ics": f"/seminars/{seminar_id}.ics",
             "questions": f"/seminars/{seminar_id}/questions", "file": f"/materials/{material_id}"}

    def answers(c: Any) -> dict[str, int]:
        codes = {}
        for name, path in paths.items():
            response = c.get(path)
            response.get_data()
            response.close()
            codes[name] = response.status_code
        return codes

    visitor, member = app.test_client(), app.test_client()
    AuthActions(member).login(create_user("member"))
    hidden = {"page": 404, "ics": 404, "questions": 404, "file": 404}
    assert answers(visitor) == {**hidden, "questions": 302}  # Q&A asks a visitor to log in first
    assert answers(member) == hidden
    assert AuthActions(member).post(f"/seminars/{seminar_id}/registration").status_code == 404
    assert answers(client) == {"page": 200, "ics": 200, "questions": 200, "file": 200}  # the secretariat

    data = edit_form(client, seminar_id)
    assert auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "status": "published"}).status_code == 302
    # Published: the page, the feed and the public file are everyone's; Q&A is for attendees.
    assert answers(visitor) == {"page": 200, "ics": 200, "questions": 302, "file": 200}
    assert answers(member) == {"page": 200, "ics": 200, "questions": 403, "file": 200}
    assert AuthActions(member).post(f"/seminars/{seminar_id}/registration").status_code == 302


def test_cancelling_mails_everyone_registered_or_waiting_once(app, client, auth, create_user, outbox, make_seminar):
    seminar_id = make_seminar("cancel", day=future_day(), capacity=1, title="管理テスト cancel")
    registered, waiting, gone = (create_user("member") for _ in range(3))
    assert register_accounts(app, seminar_id, registered, waiting, gone) == [
        RegistrationState.REGISTERED, RegistrationState.WAITING, RegistrationState.WAITING]
    cancel(app, seminar_id, gone)
    secretariat(create_user, auth)

    data = edit_form(client, seminar_id)
    # Asked first, with how many it mails; nothing changes or is mailed until confirmed.
    asked = auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "status": "cancelled"})
    assert asked.status_code == 200
    assert "この操作で 2 名にメールが送信されます。" in page_text(asked.get_data(as_text=True))
    assert outbox("seminar.cancelled_by_secretariat") == []
    assert get_seminar(app, seminar_id).status is SeminarStatus.PUBLISHED
    response = auth.post(f"/secretariat/seminars/{seminar_id}/edit",
                         {**form_with(asked.get_data(as_text=True), "confirmed")})
    assert response.status_code == 302

    mails = outbox("seminar.cancelled_by_secretariat")
    assert sorted(tuple(m.recipients) for m in mails) == sorted([(registered.email,), (waiting.email,)])
    for mail in mails:
        assert "中止" in mail.subject and "管理テスト cancel" in mail.subject
        assert f"/seminars/{seminar_id}" in mail.body
        assert "https://example.org/webinar/cancel" not in mail.body
    assert get_seminar(app, seminar_id).status is SeminarStatus.CANCELLED

    # Editing the cancelled seminar again mails nobody a second time.
    auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "status": "cancelled", "title": "中止済み"})
    assert len(outbox("seminar.cancelled_by_secretariat")) == 2


def test_changing_date_or_time_mails_what_changed_and_a_title_edit_mails_nobody(
        app, client, auth, create_user, outbox, make_seminar):
    day = future_day()
    seminar_id = make_seminar("resched", day=day, capacity=1)
    registered, waiting = create_user("member"), create_user("observer", org="テスト株式会社")
    register_accounts(app, seminar_id, registered, waiting)
    secretariat(create_user, auth)
    data = edit_form(client, seminar_id)
    assert (data["date"], data["start"], data["end"]) == (day.isoformat(), "15:30", "17:00")

    # A title-only edit mails nobody.
    before = len(outbox())
    assert auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "title": "新しいテーマ"}).status_code == 302
    assert get_seminar(app, seminar_id).title == "新しいテーマ"
    assert len(outbox()) == before

    # A new day: everyone registered or waiting learns the old and the new date.
    new_day = other_day_same_year(day)
    data = edit_form(client, seminar_id)
    asked = auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "date": new_day.isoformat()})
    assert asked.status_code == 200 and outbox("seminar.rescheduled") == []
    asked_text = page_text(asked.get_data(as_text=True))
    assert "この操作で 2 名にメールが送信されます。" in asked_text
    assert f"変更前: {ja_day(day)} 15:30～17:00" in asked_text
    assert f"変更後: {ja_day(new_day)} 15:30～17:00" in asked_text
    response = auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "date": new_day.isoformat(),
                                                                       "confirmed": "1"})
    assert response.status_code == 302
    mails = outbox("seminar.rescheduled")
    assert sorted(tuple(m.recipients) for m in mails) == sorted([(registered.email,), (waiting.email,)])
    for mail in mails:
        assert f"{ja_day(day)} 15:30～17:00" in mail.body
        assert f"{ja_day(new_day)} 15:30～17:00" in mail.body
        assert "新しいテーマ" in mail.subject + mail.body
    by_recipient = {m.recipients[0]: m.body for m in mails}
    assert "https://example.org/webinar/resched" in by_recipient[registered.email]
    assert "https://example.org/webinar/resched" not in by_recipient[waiting.email]
    seminar = get_seminar(app, seminar_id)
    assert seminar.date_on == new_day and seminar.sequence >= 1

    # A new start time alone is a change of time too.
    data = edit_form(client, seminar_id)
    auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "start": "16:00", "confirmed": "1"})
    mails = outbox("seminar.rescheduled")[2:]
    assert len(mails) == 2
    assert all(f"{ja_day(new_day)} 16:00～17:00" in m.body and f"{ja_day(new_day)} 15:30～17:00" in m.body
               for m in mails)


def test_changing_the_date_of_a_draft_mails_nobody(app, client, auth, create_user, outbox, make_seminar):
    day = future_day()
    seminar_id = make_seminar("draft-move", day=day)
    register_accounts(app, seminar_id, create_user("member"))
    secretariat(create_user, auth)
    data = edit_form(client, seminar_id)
    # Unpublishing mails the registered (their calendars drop it), so it is confirmed first.
    auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "status": "draft", "confirmed": "1"})
    assert len(outbox("seminar.unpublished")) == 1
    auth.post(f"/secretariat/seminars/{seminar_id}/edit",
              {**data, "status": "draft", "date": other_day_same_year(day).isoformat()})
    assert get_seminar(app, seminar_id).date_on == other_day_same_year(day)
    assert outbox("seminar.rescheduled") == [] and outbox("seminar.cancelled_by_secretariat") == []
    assert len(outbox("seminar.unpublished")) == 1


def test_raising_capacity_promotes_from_the_waitlist_in_order(app, client, auth, create_user, outbox, make_seminar):
    seminar_id = make_seminar("capacity", day=future_day(), capacity=1)
    first, second, third = (create_user("member") for _ in range(3))
    register_accounts(app, seminar_id, first, second, third)
    secretariat(create_user, auth)

    data = edit_form(client, seminar_id)
    assert data["capacity"] == "1"
    auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "capacity": "2"})
    assert states(app, seminar_id) == {
        first.id: RegistrationState.REGISTERED, second.id: RegistrationState.REGISTERED,
        third.id: RegistrationState.WAITING}
    promoted = outbox("registration.promoted")
    assert [m.recipients for m in promoted] == [[second.email]]
    assert "https://example.org/webinar/capacity" in promoted[0].body

    # No limit: everyone waiting gets a place.
    auth.post(f"/secretariat/seminars/{seminar_id}/edit", {**data, "capacity": ""})
    assert get_seminar(app, seminar_id).capacity is None
    assert set(states(app, seminar_id).values()) == {RegistrationState.REGISTERED}
    assert [m.recipients for m in outbox("registration.promoted")] == [[second.email], [third.email]]
    assert outbox("seminar.rescheduled") == []


# ----------------------------------------------------------------------------- registration settings


def test_registration_window_is_tokyo_wall_clock_and_join_link_saved(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("window", day=future_day())
    member = create_user("member")
    secretariat(create_user, auth)

    data = edit_form(client, seminar_id)
    data.pop("registration_open", None)
    response = auth.post(f"/secretariat/seminars/{seminar_id}/edit", {
        **data, "capacity": "30", "registration_open": "y", "registration_opens_at": "2030/1/10 9:00",
        "registration_closes_at": "２０３０年２月１日（金） １７時半", "join_url": "https://example.org/webinar/new-link"})
    assert response.status_code == 302
    # Said plainly what the typed text was understood as.
    told = page_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "受付開始を「2030年1月10日（木） 9:00」として受け付けました" in told
    assert "受付締切を「2030年2月1日（金） 17:30」として受け付けました" in told
    seminar = get_seminar(app, seminar_id)
    assert seminar.registration_opens_at == datetime(2030, 1, 10, 0, 0, tzinfo=UTC)
    assert seminar.registration_closes_at == datetime(2030, 2, 1, 8, 30, tzinfo=UTC)
    assert (seminar.capacity, seminar.registration_open, seminar.join_url) == (
        30, True, "https://example.org/webinar/new-link")
    again = edit_form(client, seminar_id)
    # Shown back as text, the same Tokyo wall-clock time as the portal writes it (and reads again).
    shown = [again[f] for f in ("registration_opens_at", "registration_closes_at")]
    assert shown == ["2030年1月10日（木） 9:00", "2030年2月1日（金） 17:30"]
    assert 'type="datetime-local"' not in client.get(f"/secretariat/seminars/{seminar_id}/edit").get_data(as_text=True)
    assert again["registration_open"] == "y"
    manage = page_text(client.get(f"/secretariat/seminars/{seminar_id}").get_data(as_text=True))
    assert "定員 30名" in manage and "https://example.org/webinar/new-link" in manage

    # Closed an hour ago in Tokyo (eight hours ahead if the time were read as UTC): refused.
    closed = (utcnow() + timedelta(hours=9) - timedelta(hours=1)).strftime("%Y/%m/%d %H:%M")
    auth.post(f"/secretariat/seminars/{seminar_id}/edit", {
        **again, "registration_opens_at": "", "registration_closes_at": closed})
    member_client = app.test_client()
    member_auth = AuthActions(member_client)
    member_auth.login(member)
    member_auth.post(f"/seminars/{seminar_id}/registration")
    assert states(app, seminar_id) == {}

    # Unticking the box stops registration altogether.
    unticked = {k: v for k, v in again.items() if k != "registration_open"}
    auth.post(f"/secretariat/seminars/{seminar_id}/edit", {
        **unticked, "registration_opens_at": "", "registration_closes_at": ""})
    seminar = get_seminar(app, seminar_id)
    assert (seminar.registration_open, seminar.registration_closes_at) == (False, None)
    member_auth.post(f"/seminars/{seminar_id}/registration")
    assert states(app, seminar_id) == {}


# ----------------------------------------------------------------------------- Q&A switch


def test_qa_open_and_close_only_for_the_secretariat(app, client, auth, create_user, make_seminar):
    seminar_id = make_seminar("qa", day=future_day())
    member = create_user("member")
    secretariat(create_user, auth)

    response = auth.post(f"/secretariat/seminars/{seminar_id}/qa/open")
    assert response.status_code == 302
    assert get_seminar(app, seminar_id).qa_open is True

    visitor = AuthActions(app.test_client())
    member_auth = AuthActions(app.test_client())
    member_auth.login(member)
    for action in ("close", "open"):
        assert is_login_redirect(visitor.post(f"/secretariat/seminars/{seminar_id}/qa/{action}"))
        assert member_auth.post(f"/secretariat/seminars/{seminar_id}/qa/{action}").status_code == 403
        assert get_seminar(app, seminar_id).qa_open is True
        # Without the CSRF token nothing changes either.
        assert client.post(f"/secretariat/seminars/{seminar_id}/qa/close").status_code == 400
        assert get_seminar(app, seminar_id).qa_open is True

    assert auth.post(f"/secretariat/seminars/{seminar_id}/qa/close").status_code == 302
    assert get_seminar(app, seminar_id).qa_open is False
    manage = client.get(f"/secretariat/seminars/{seminar_id}").get_data(as_text=True)
    assert f'action="/secretariat/seminars/{seminar_id}/qa/open"' in manage


# ----------------------------------------------------------------------------- registrants


def test_registrants_listed_counted_exported_as_excel_csv(app, client, auth, create_user, make_seminar):
    with app.app_context():
        import_data({"organizations": [
            {"name": "総務省", "kind": "ministry", "membership": "member"},
            {"name": "テスト株式会社", "kind": "company", "membership": "observer"},
        ]})
        db.session.commit()
    seminar_id = make_seminar("csv", day=future_day(), capacity=5)
    people = [
        create_user("member", name="前橋 太郎", org="前橋市"),
        create_user("member", name="=HYPERLINK(\"http://example.org\",\"x\")", org="総務省"),
        create_user("observer", name="+81 観測", org="テスト株式会社"),
        create_user("member", name="-1 ハイフン", org="浜松市"),
        create_user("member", name="@SUM(A1) アット", org="岡崎市"),
        create_user("member", name="待機 花子", org="前橋市"),
    ]
    register_accounts(app, seminar_id, *people)
    secretariat(create_user, auth)

    html = client.get(f"/secretariat/seminars/{seminar_id}").get_data(as_text=True)
    text = page_text(html)
    assert "参加登録 5名・キャンセル待ち 1名" in text
    assert "自治体 3" in text and "府省庁 1" in text and "企業 1" in text
    assert "前橋 太郎 前橋市" in text and "総務省" in text and "テスト株式会社" in text

    response = client.get(f"/secretariat/seminars/{seminar_id}/registrants.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    raw = response.data
    assert raw.startswith(b"\xef\xbb\xbf")
    body = raw.decode("utf-8")[1:]
    assert body.endswith("\r\n")
    assert "\n" not in body.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0][:4] == ["状態", "氏名", "メールアドレス", "所属団体"]
    by_email = {row[2]: row for row in rows[1:]}
    assert len(by_email) == 6
    assert by_email[people[0].email][1:4] == ["前橋 太郎", people[0].email, "前橋市"]
    assert by_email[people[1].email][1] == "'=HYPERLINK(\"http://example.org\",\"x\")"
    assert by_email[people[2].email][1] == "'+81 観測"
    assert by_email[people[3].email][1] == "'-1 ハイフン"
    assert by_email[people[4].email][1] == "'@SUM(A1) アット"
    assert by_email[people[1].email][3] == "総務省"
    assert by_email[people[0].email][0] == "参加登録"
    assert by_email[people[5].email][0] == "キャンセル待ち"
    assert "府省庁" in by_email[people[1].email] and "企業" in by_email[people[2].email]
    # No cell anywhere starts a formula.
    assert not any(cell[:1] in {"=", "+", "-", "@"} for row in rows for cell in row)


def test_mail_to_all_registered_not_waiting(app, client, auth, create_user, outbox, make_seminar):
    seminar_id = make_seminar("mailall", day=future_day(), capacity=2)
    a, b, waiting, gone = (create_user("member") for _ in range(4))
    register_accounts(app, seminar_id, a, gone, b, waiting)
    cancel(app, seminar_id, gone)  # b is promoted, waiting stays waiting
    assert states(app, seminar_id)[waiting.id] is RegistrationState.WAITING
    me = secretariat(create_user, auth)
    written = {"subject": "【官民連携プラットフォーム】資料公開のお知らせ",
               "body": "資料を公開しました。\nご確認ください。"}

    # First a preview saying how many it mails; nothing is sent.
    preview = auth.post(f"/secretariat/seminars/{seminar_id}/mail", written)
    assert preview.status_code == 200
    preview_text = page_text(preview.get_data(as_text=True))
    assert "参加登録者 2 名に1通ずつメールが送られます" in preview_text and "資料を公開しました。" in preview_text
    assert outbox("seminar.announcement") == []
    # A test send goes to the secretariat's own address only, marked as a test.
    tested = auth.post(f"/secretariat/seminars/{seminar_id}/mail", {**written, "step": "test"})
    assert tested.status_code == 200
    (test_mail,) = outbox("seminar.announcement_test")
    assert test_mail.recipients == [me.email] and test_mail.subject.startswith("［テスト送信］")
    assert outbox("seminar.announcement") == []
    # The send button of the preview carries the text unchanged (line breaks too).
    sent = form_with(tested.get_data(as_text=True), "confirmed")
    assert (sent["subject"], sent["body"]) == (written["subject"], written["body"])
    response = auth.post(f"/secretariat/seminars/{seminar_id}/mail", {**sent, "step": "send"})
    assert response.status_code == 302
    mails = outbox("seminar.announcement")
    assert sorted(m.recipients[0] for m in mails) == sorted([a.email, b.email])
    assert all(len(m.recipients) == 1 for m in mails)
    assert all(m.subject == "【官民連携プラットフォーム】資料公開のお知らせ" for m in mails)
    assert all("資料を公開しました。" in m.body for m in mails)

    # Without a subject nothing is sent.
    auth.post(f"/secretariat/seminars/{seminar_id}/mail", {"subject": " ", "body": "本文"})
    assert len(outbox("seminar.announcement")) == 2


# ----------------------------------------------------------------------------- access


def test_back_office_seminar_routes_are_for_the_secretariat_only(app, client, create_user, make_seminar):
    seminar_id = make_seminar("access", day=future_day(), title="管理テスト access")
    with app.app_context():
        seminar = db.session.get(Seminar, seminar_id)
        series_id = seminar.series_id
        operations.save_program_item(seminar, None, start_time=time(15, 30), title="開会", points=[], notes=[],
                                   presenters=[])
        db.session.commit()
        item_id = seminar.program[0].id
    requests = [
        ("GET", "/secretariat/seminars", None),
        ("GET", "/secretariat/series/new", None),
        ("POST", "/secretariat/series/new", {"name": "侵入", "fiscal_year": "2030"}),
        ("GET", f"/secretariat/series/{series_id}/edit", None),
        ("POST", f"/secretariat/series/{series_id}/edit", {"name": "侵入", "fiscal_year": "2030"}),
        ("POST", f"/secretariat/series/{series_id}/generate", {"first_date": future_day().isoformat(), "count": "2"}),
        ("GET", "/secretariat/seminars/new", None),
        ("POST", "/secretariat/seminars/new", new_seminar_data(series_id, precision="undecided")),
        ("GET", f"/secretariat/seminars/{seminar_id}", None),
        ("GET", f"/secretariat/seminars/{seminar_id}/edit", None),
        ("POST", f"/secretariat/seminars/{seminar_id}/edit", new_seminar_data(
            series_id, precision="undecided", status="cancelled")),
        ("POST", f"/secretariat/seminars/{seminar_id}/program", {"title": "侵入"}),
        ("GET", f"/secretariat/program/{item_id}/edit", None),
        ("POST", f"/secretariat/program/{item_id}/edit", {"title": "侵入"}),
        ("POST", f"/secretariat/program/{item_id}/move", {"direction": "down"}),
        ("POST", f"/secretariat/program/{item_id}/delete", None),
        ("GET", f"/secretariat/seminars/{seminar_id}/registrants.csv", None),
        ("POST", f"/secretariat/seminars/{seminar_id}/mail", {"subject": "侵入", "body": "侵入"}),
        ("POST", f"/secretariat/seminars/{seminar_id}/qa/open", None),
        ("POST", f"/secretariat/seminars/{seminar_id}/qa/close", None),
    ]
    before = (count_rows(app, SeminarSeries), count_rows(app, Seminar), count_rows(app, OutboxMessage),
              program(app, seminar_id), get_seminar(app, seminar_id).qa_open)

    accounts = [None, create_user("member"), create_user("observer", org="オブザーバー株式会社")]
    for account in accounts:
        other = app.test_client()
        actions = AuthActions(other)
        if account is not None:
            actions.login(account)
        for method, path, data in requests:
            response = other.get(path) if method == "GET" else actions.post(path, data)
            if account is None:
                assert is_login_redirect(response), (method, path, response.status_code)
            else:
                assert response.status_code == 403, (account.role, method, path, response.status_code)
                assert "text/csv" not in response.headers.get("Content-Type", "")

    after = (count_rows(app, SeminarSeries), count_rows(app, Seminar), count_rows(app, OutboxMessage),
             program(app, seminar_id), get_seminar(app, seminar_id).qa_open)
    assert after == before
    seminar = get_seminar(app, seminar_id)
    assert (seminar.status, seminar.title) == (SeminarStatus.PUBLISHED, "管理テスト access")


def test_unknown_objects_are_404_for_the_secretariat(client, auth, create_user):
    secretariat(create_user, auth)
    for path in ("/secretariat/seminars/999999", "/secretariat/seminars/999999/edit",
                 "/secretariat/series/999999/edit", "/secretariat/program/999999/edit",
                 "/secretariat/seminars/999999/registrants.csv"):
        assert client.get(path).status_code == 404, path
    for path in ("/secretariat/seminars/999999/qa/open", "/secretariat/program/999999/move",
                 "/secretariat/series/999999/generate"):
        assert auth.post(path, {"direction": "up"}).status_code == 404, path
