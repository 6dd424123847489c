"""Seminar forms: registration buttons and the secretariat's editors."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms import Form as WtfBaseForm
from wtforms.validators import URL, DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from portal.core.dates import (
    Precision,
    date_label,
    fiscal_year,
    local_datetime,
)
from portal.seminars.models import HONORIFIC, ProgramItem, Seminar, SeminarSeries, SeminarStatus
from portal.seminars.presenters import PresenterLine, lines
from portal.web.forms import BoundedIntegerField, ClockField, DayField, Form, MomentField, choices, parse_dated
from portal.web.lang import ja_choice

REQUIRED = _l("入力してください。")
PRECISION_LABELS = {
    Precision.DAY.value: _l("日付が確定（例: 8月3日）"),
    Precision.EARLY.value: _l("上旬"),
    Precision.MID.value: _l("中旬"),
    Precision.LATE.value: _l("下旬"),
    Precision.MONTH.value: _l("月のみ（例: 12月）"),
    Precision.UNDECIDED.value: _l("未定"),
}
STATUS_LABELS = {"draft": _l("下書き（非公開）"), "published": _l("公開"), "cancelled": _l("中止")}


class RegistrationForm(Form):
    """Register / cancel buttons: only the CSRF token."""


class SeriesForm(Form):
    name = StringField(_l("シリーズ名"), validators=[DataRequired(REQUIRED), Length(max=200)],
                       default="官民連携プラットフォーム オンラインセミナー")
    fiscal_year = BoundedIntegerField(_l("年度"), validators=[
        DataRequired(REQUIRED), NumberRange(2000, 2100, _l("2000〜2100 の年度を入力してください。"))])
    description = TextAreaField(_l("説明（1行に1項目）"), validators=[Optional(), Length(max=5000)])

    def values(self) -> dict[str, Any]:
        """What ``operations.create_series`` / ``update_series`` take."""
        return {"name": (self.name.data or "").strip(), "fiscal_year": self.fiscal_year.data,
                "description": _text(self.description.data)}


def _text(value: str | None) -> str | None:
    """A text input as stored: stripped, and None when blank."""
    return (value or "").strip() or None


class SeminarForm(Form):
    series_id = SelectField(_l("シリーズ・年度"), coerce=int)
    number = BoundedIntegerField(_l("回数"),
                                 validators=[Optional(), NumberRange(1, 999, _l("1以上の数を入力してください。"))])
    title = StringField(_l("テーマ（空欄なら「予定」）"), validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("説明"), validators=[Optional(), Length(max=5000)])
    precision = SelectField(_l("時期の精度"), choices=choices(PRECISION_LABELS), default=Precision.DAY.value)
    date = StringField(_l("日付（例: 2027/3/9）または月（例: 2027/3）"), validators=[Length(max=20)])
    start = ClockField(_l("開始時刻"), validators=[Optional()])
    end = ClockField(_l("終了時刻"), validators=[Optional()])
    status = SelectField(_l("状態"), choices=choices(STATUS_LABELS), default="draft")
    capacity = BoundedIntegerField(_l("定員（空欄なら制限なし）"), validators=[
        Optional(), NumberRange(1, 100000, _l("1以上の数を入力してください。"))])
    registration_open = BooleanField(_l("参加申込を受け付ける"))
    registration_opens_at = MomentField(_l("受付開始（任意・例: 2027/3/1 10:00）"), validators=[Optional()])
    registration_closes_at = MomentField(_l("受付締切（任意・例: 2027/3/8 17:00）"), validators=[Optional()])
    join_url = StringField(_l("参加用リンク（オンライン会議URL）"), validators=[
        Optional(), URL(message=_l("URLの形式が正しくありません。")), Length(max=500)])
    mailbox = StringField(_l("質問の送付先メール（空欄なら事務局アドレス）"), validators=[
        Optional(), Email(_l("メールアドレスの形式が正しくありません。"), check_deliverability=False), Length(max=254)])

    def __init__(self, *args: Any, series_years: dict[int, int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.series_years = series_years or {}

    @classmethod
    def from_seminar(cls, series: list[SeminarSeries], seminar: Seminar | None = None) -> SeminarForm:
        """The editor with the series to choose from; before it is submitted, showing ``seminar``
        (None: a new one). A submitted form shows what was sent."""
        form = cls(series_years={s.id: s.fiscal_year for s in series})
        form.series_id.choices = [ja_choice(s.id, _("%(year)s年度 %(name)s", year=s.fiscal_year, name=s.name))
                                  for s in series]
        if seminar is not None and not form.is_submitted():
            form.process(data={
                "series_id": seminar.series_id, "number": seminar.number, "title": seminar.title,
                "description": seminar.description, "precision": seminar.precision.value,
                "date": ("" if seminar.date_on is None else seminar.date_on.isoformat()
                         if seminar.precision is Precision.DAY else seminar.date_on.strftime("%Y-%m")),
                "start": seminar.start_time, "end": seminar.end_time, "status": seminar.status.value,
                "capacity": seminar.capacity, "registration_open": seminar.registration_open,
                "registration_opens_at": seminar.registration_opens_at,
                "registration_closes_at": seminar.registration_closes_at,
                "join_url": seminar.join_url, "mailbox": seminar.mailbox,
            })
        return form

    def copy_of(self, source: Seminar) -> None:
        """Start a new seminar from a past one: its theme and settings, no date (a draft)."""
        self.process(data={
            "series_id": self.series_id.data or source.series_id, "title": source.title,
            "description": source.description, "precision": Precision.DAY.value, "date": "",
            "status": SeminarStatus.DRAFT.value, "capacity": source.capacity, "mailbox": source.mailbox,
            "registration_open": source.registration_open,
        })

    def _day(self) -> Any:
        return parse_dated(self.precision.data, self.date.data, self.series_years.get(self.series_id.data))

    def values(self) -> dict[str, Any]:
        """The validated form as the seminar's attributes (``operations.create_seminar`` /
        ``update_seminar``): times only for an exact day, instants in UTC-aware Tokyo time."""
        precision = Precision(self.precision.data)
        day = self._day()
        start = self.start.data if precision is Precision.DAY else None
        end = self.end.data if start else None
        return {
            "series_id": self.series_id.data,
            "number": self.number.data,
            "title": _text(self.title.data),
            "description": _text(self.description.data),
            "precision": precision,
            "date_on": day,
            "starts_at": local_datetime(day, start) if day and start else None,
            "ends_at": local_datetime(day, end) if day and end else None,
            "status": SeminarStatus(self.status.data),
            "capacity": self.capacity.data,
            "registration_open": self.registration_open.data,
            "registration_opens_at": self.registration_opens_at.data,
            "registration_closes_at": self.registration_closes_at.data,
            "join_url": _text(self.join_url.data),
            "mailbox": _text(self.mailbox.data),
        }

    def validate_date(self, field: StringField) -> None:
        day = self._day()  # a ValidationError with the message for this field, or nothing
        if day is not None and self.precision.data in {p.value for p in Precision}:
            # what the text was read as, shown beside it (web.forms' fields do the same)
            field.understood = date_label(day, Precision(self.precision.data), with_year=True)  # type: ignore[attr-defined]

    def validate_start(self, field: ClockField) -> None:
        if field.data and self.precision.data != Precision.DAY.value:
            raise ValidationError(_("時刻は日付が確定しているときだけ指定できます。"))

    def validate_end(self, field: ClockField) -> None:
        if field.data and not self.start.data:
            raise ValidationError(_("終了時刻には開始時刻が必要です。"))
        if field.data and self.start.data and field.data <= self.start.data:
            raise ValidationError(_("終了時刻は開始時刻より後にしてください。"))

    def validate_registration_closes_at(self, field: MomentField) -> None:
        if field.data and self.registration_opens_at.data and field.data <= self.registration_opens_at.data:
            raise ValidationError(_("受付締切は受付開始より後にしてください。"))


class GenerateForm(Form):
    first_date = DayField(_l("初回の日付（例: 2027/3/9）"), validators=[InputRequired(REQUIRED)])
    count = BoundedIntegerField(_l("回数"), default=6, validators=[
        DataRequired(REQUIRED), NumberRange(1, 12, _l("1〜12回で指定してください。"))])
    start = ClockField(_l("開始時刻"), validators=[Optional()])
    end = ClockField(_l("終了時刻"), validators=[Optional()])

    def __init__(self, *args: Any, fiscal_year: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fiscal_year = fiscal_year
        # 回数 here is how many seminars to create, not a seminar's number (same Japanese word).
        self.count.label.text = pgettext("how many seminars to create", "回数")

    def validate_first_date(self, field: DayField) -> None:
        if field.data is not None and self.fiscal_year is not None and fiscal_year(field.data) != self.fiscal_year:
            raise ValidationError(_("初回の日付は%(fy)s年度（%(fy)s年4月〜%(next)s年3月）の日付にしてください。",
                                    fy=self.fiscal_year, next=self.fiscal_year + 1))

    def validate_count(self, field: BoundedIntegerField) -> None:
        # Every draft stays inside the series' fiscal year (the last one by 31 March).
        first = self.first_date.data
        if self.fiscal_year is None or field.data is None or first is None:
            return
        months_left = (self.fiscal_year + 1 - first.year) * 12 + 3 - first.month
        fits = months_left // 2 + 1
        if field.data > fits:
            raise ValidationError(_("年度内に収まるのは%(fits)s回までです。", fits=fits))

    def validate_end(self, field: ClockField) -> None:
        if field.data and (not self.start.data or field.data <= self.start.data):
            raise ValidationError(_("終了時刻は開始時刻より後にしてください。"))


class PresenterRow(WtfBaseForm):
    """One presenter as a row of the program item's editor (a sub-form: the item's form carries
    the CSRF token)."""

    organization = StringField(_l("組織"), validators=[Optional(), Length(max=200)])
    department = StringField(_l("部署"), validators=[Optional(), Length(max=200)])
    person = StringField(_l("氏名"), validators=[Optional(), Length(max=200)])
    honorific = StringField(_l("敬称"), default=HONORIFIC, validators=[Optional(), Length(max=20)])
    point = BoundedIntegerField(_l("内容の番号（任意）"), validators=[
        Optional(), NumberRange(1, 99, _l("1以上の数を入力してください。"))])


ROW_FIELDS = ("organization", "department", "person", "honorific", "point")
_ROW_KEY = re.compile(r"presenters-(\d+)-(\w+)")


def rearranged(formdata: MultiDict[str, str], action: str) -> MultiDict[str, str] | None:
    """The submitted editor with its presenter rows changed by a row button ("add",
    "remove-2", "up-2", "down-2"): what the page shows next, nothing saved. None for an
    unknown action."""
    rows: dict[int, dict[str, str]] = {}
    rest = MultiDict[str, str]()
    for key, value in formdata.items(multi=True):
        match = _ROW_KEY.fullmatch(key)
        if match:
            rows.setdefault(int(match[1]), {})[match[2]] = value
        elif key != "row":
            rest.add(key, value)
    ordered = [rows[i] for i in sorted(rows)]
    verb, _sep, number = action.partition("-")
    index = int(number) if number.isdigit() else -1
    if verb == "add":
        ordered.append({"honorific": HONORIFIC})
    elif verb == "remove" and 0 <= index < len(ordered):
        del ordered[index]
    elif verb in ("up", "down") and 0 <= index < len(ordered):
        target = index - 1 if verb == "up" else index + 1
        if 0 <= target < len(ordered):
            ordered[index], ordered[target] = ordered[target], ordered[index]
    else:
        return None
    for i, row in enumerate(ordered):
        for name in ROW_FIELDS:
            rest.add(f"presenters-{i}-{name}", row.get(name, ""))
    return rest


class ProgramItemForm(Form):
    id_prefix = "item"
    start_time = ClockField(_l("開始時刻（例: 15:30、15時30分）"), validators=[Optional()])
    title = StringField(_l("タイトル"), validators=[DataRequired(REQUIRED), Length(max=300)])
    points = TextAreaField(_l("内容（1行に1項目）"), validators=[Optional(), Length(max=5000)])
    notes = TextAreaField(_l("注記（※、1行に1項目）"), validators=[Optional(), Length(max=2000)])
    presenters = FieldList(FormField(PresenterRow), label=_l("発表者"), min_entries=1, max_entries=50)

    @classmethod
    def from_item(cls, item: ProgramItem) -> ProgramItemForm:
        """The editor of ``item``; a submitted form shows what was sent."""
        form = cls()
        if not form.is_submitted():
            form = cls(formdata=None, data={
                "start_time": item.start_time, "title": item.title, "points": "\n".join(item.points),
                "notes": "\n".join(item.notes), "presenters": presenter_rows(item)})
        return form

    def values(self) -> dict[str, Any]:
        """What ``operations.save_program_item`` takes; blank rows are left out."""
        return {
            "start_time": self.start_time.data,
            "title": (self.title.data or "").strip(),
            "points": lines(self.points.data),
            "notes": [n.lstrip("※") for n in lines(self.notes.data)],
            "presenters": [
                PresenterLine(_text(row["organization"]) or "", _text(row["department"]), _text(row["person"]),
                              row["point"] - 1 if row["point"] else None, (row["honorific"] or "").strip())
                for row in self.presenters.data if _text(row["organization"])
            ],
        }

    def validate_presenters(self, field: FieldList) -> None:
        points = len(lines(self.points.data))
        for n, row in enumerate(field.data):
            if not _text(row["organization"]) and (_text(row["department"]) or _text(row["person"])):
                raise ValidationError(_("%(line)s行目: 組織を入力してください。", line=n + 1))
            if _text(row["organization"]) and row["point"] and row["point"] > points:
                raise ValidationError(_("%(line)s行目: 項目番号は内容の行数（%(points)s行）以内で指定してください。",
                                        line=n + 1, points=points))


def presenter_rows(item: ProgramItem) -> list[dict[str, Any]]:
    """The presenters of ``item`` as the editor's rows."""
    return [{"organization": p.organization, "department": p.department or "", "person": p.person or "",
             "honorific": p.honorific, "point": None if p.point_index is None else p.point_index + 1}
            for p in item.presenters]


class MailRegistrantsForm(Form):
    subject = StringField(_l("件名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    body = TextAreaField(_l("本文"), validators=[DataRequired(REQUIRED), Length(max=20000)])


class AttendanceImportForm(Form):
    id_prefix = "attendance"
    file = FileField(_l("出席レポート（CSV）"), validators=[FileRequired(_l("ファイルを選んでください。"))])
