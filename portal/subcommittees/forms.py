"""Subcommittee forms: the proposal (every section of the seed's form) and the lead's plan.

Dates are parsed by ``core.dates`` (through ``DayField``, ``parse_dated`` and ``parse_month``);
each form turns its input into the operation's values in one method (``values``) and is filled
from a stored record in one class method (``from_model``).
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import URL, DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.core.dates import Precision, local_datetime, parse_month, today_local, window
from portal.core.errors import DomainError
from portal.core.labels import label
from portal.seminars.forms import PRECISION_LABELS
from portal.subcommittees.models import (
    OTHER_FIELD,
    TARGET_FIELDS,
    Activity,
    ContactPerson,
    SessionStatus,
    Subcommittee,
    SubcommitteeSession,
)
from portal.subcommittees.timeline import quarter_bounds
from portal.web.forms import BoundedIntegerField, ClockField, DayField, Form, choices, parse_dated

REQUIRED = _l("入力してください。")
# The target fields are stored in Japanese (TARGET_FIELDS); only their labels on the form are translated.
FIELD_LABELS = {
    "交通・モビリティ": _l("交通・モビリティ"),
    "エネルギー": _l("エネルギー"),
    "防災": _l("防災"),
    "インフラ維持管理": _l("インフラ維持管理"),
    "観光・地域活性化": _l("観光・地域活性化"),
    "健康・医療": _l("健康・医療"),
    "環境": _l("環境"),
    "農林水産業": _l("農林水産業"),
    "都市計画・整備": _l("都市計画・整備"),
    "物流": _l("物流"),
    "セキュリティ・見守り": _l("セキュリティ・見守り"),
    "その他": _l("その他"),
}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _lines(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()]


def _parts(line: str) -> list[str]:
    return [p.strip() for p in line.replace("／", "/").split("/")]


def parse_activities(text: str | None) -> list[dict[str, Any]]:
    """"活動1 / 内容 / 開始月 / 終了月" per line; an activity runs to the end of its last month.
    ValidationError naming the line otherwise."""
    activities = []
    for n, line in enumerate(_lines(text), start=1):
        parts = _parts(line)
        label_text, title = [*parts, "", ""][:2]
        try:
            months = [parse_month(month) for month in parts[2:4]]
        except DomainError:
            raise ValidationError(_("%(line)s行目: 開始月・終了月は YYYY-MM で入力してください。", line=n)) from None
        if not title:
            raise ValidationError(_("%(line)s行目: 活動の内容を入力してください。", line=n))
        if len(label_text) > 50 or len(title) > 300:
            raise ValidationError(_("%(line)s行目: 見出しは50文字、内容は300文字以内で入力してください。", line=n))
        month_end = window(months[1], Precision.MONTH) if len(months) > 1 else None
        activities.append({"label": label_text or f"活動{n}", "title": title,
                           "starts_on": months[0] if months else None,
                           "ends_on": month_end[1] - timedelta(days=1) if month_end else None})
    return activities


def parse_contacts(text: str | None) -> list[dict[str, Any]]:
    """"氏名 / 所属 / 部署 / メール" per line; ValidationError naming the line otherwise."""
    contacts = []
    for n, line in enumerate(_lines(text), start=1):
        name, org, dept, email = ([p or None for p in _parts(line)] + [None] * 4)[:4]
        if not name:
            raise ValidationError(_("%(line)s行目: 氏名を入力してください。", line=n))
        if any(part and len(part) > 200 for part in (name, org, dept)) or (email and len(email) > 254):
            raise ValidationError(_("%(line)s行目: 長すぎる項目があります（各200文字、メールは254文字まで）。", line=n))
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise ValidationError(_("%(line)s行目: メールアドレスの形式が正しくありません。", line=n))
        contacts.append({"name": name, "organization": org, "department": dept, "email": email})
    return contacts


class ProposalForm(Form):
    name = StringField(_l("分科会名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    fiscal_year = BoundedIntegerField(_l("年度"), validators=[
        DataRequired(REQUIRED), NumberRange(2000, 2100, _l("年度を入力してください。"))])
    purpose = TextAreaField(_l("分科会の目的"), validators=[DataRequired(REQUIRED), Length(max=5000)])
    main_theme = TextAreaField(_l("活動のメインテーマ"), validators=[Optional(), Length(max=5000)])
    issues = TextAreaField(_l("解決したい課題（1行に1項目）"), validators=[DataRequired(REQUIRED), Length(max=5000)])
    # No Optional() on fields with validate_* methods: it would stop the chain before them.
    activities = TextAreaField(_l("活動内容（1行に1項目: 活動1 / 内容 / 開始月 YYYY-MM / 終了月 YYYY-MM）"),
                               validators=[Length(max=5000)])
    outcomes = TextAreaField(_l("期待される成果（1行に1項目）"), validators=[DataRequired(REQUIRED), Length(max=5000)])
    fields = MultiCheckboxField(_l("対象分野"), choices=choices({f: FIELD_LABELS.get(f, f) for f in TARGET_FIELDS}))
    fields_other = StringField(_l("その他の分野"), validators=[Length(max=200)])
    contacts = TextAreaField(_l("連絡窓口（1行に1名: 氏名 / 所属 / 部署 / メール）"), validators=[Length(max=3000)])

    def validate_fields(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError(_("対象分野を1つ以上選んでください。"))

    def validate_fields_other(self, field: StringField) -> None:
        if OTHER_FIELD in (self.fields.data or []) and not (field.data or "").strip():
            raise ValidationError(_("「その他」を選んだときは分野を入力してください。"))

    def validate_activities(self, field: TextAreaField) -> None:
        parse_activities(field.data)

    def validate_contacts(self, field: TextAreaField) -> None:
        parse_contacts(field.data)

    def values(self) -> dict[str, Any]:
        """The proposal as ``operations.propose`` and ``revise`` take it (after validation)."""
        return {
            "name": (self.name.data or "").strip(), "fiscal_year": self.fiscal_year.data,
            "purpose": (self.purpose.data or "").strip(), "main_theme": (self.main_theme.data or "").strip() or None,
            "issues": [x.strip() for x in _lines(self.issues.data)],
            "outcomes": [x.strip() for x in _lines(self.outcomes.data)],
            "fields": list(self.fields.data or []), "fields_other": (self.fields_other.data or "").strip() or None,
            "activities": [Activity(position=i, **a) for i, a in enumerate(parse_activities(self.activities.data))],
            "contacts": [ContactPerson(position=i, **c) for i, c in enumerate(parse_contacts(self.contacts.data))],
        }

    @classmethod
    def from_model(cls, sub: Subcommittee) -> ProposalForm:
        """The form as the proposer wrote it, to revise."""
        def months(a: Activity) -> list[str]:
            return [f"{day:%Y-%m}" for day in a.period] if a.period else []

        return cls(data={
            "name": sub.name, "fiscal_year": sub.fiscal_year, "purpose": sub.purpose, "main_theme": sub.main_theme,
            "issues": "\n".join(sub.issues), "outcomes": "\n".join(sub.outcomes),
            "fields": sub.fields, "fields_other": sub.fields_other,
            "activities": "\n".join(" / ".join([a.label, a.title, *months(a)]) for a in sub.activities),
            "contacts": "\n".join(" / ".join(x or "" for x in (c.name, c.organization, c.department, c.email))
                                  for c in sub.contacts),
        })


class ReviewForm(Form):
    decision = SelectField(_l("判断"), choices=choices(
        {"approve": _l("承認する"), "changes": _l("修正を依頼する"), "reject": _l("却下する")}))
    note = TextAreaField(_l("提案者へのコメント（修正依頼では必須）"), validators=[Optional(), Length(max=5000)])


class SessionForm(Form):
    id_prefix = "session"
    number = BoundedIntegerField(_l("回"), validators=[
        DataRequired(REQUIRED), NumberRange(1, 99, _l("1以上の数を入力してください。"))])
    title = StringField(_l("テーマ"), validators=[DataRequired(REQUIRED), Length(max=300)])
    precision = SelectField(_l("時期の精度"), choices=choices(PRECISION_LABELS), default=Precision.MONTH.value)
    date = StringField(_l("日付（例: 2027/3/9）または月（例: 2027/3）"), validators=[Length(max=20)])
    start = ClockField(_l("開始時刻"), validators=[Optional()])
    end = ClockField(_l("終了時刻"), validators=[Optional()])
    join_url = StringField(_l("オンライン会議URL（メンバーのみに表示）"), validators=[
        Optional(), URL(message=_l("URLの形式が正しくありません。")), Length(max=500)])
    status = SelectField(_l("状態"), default=SessionStatus.SCHEDULED.value)

    def __init__(self, *args: Any, fiscal_year: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fy = fiscal_year
        # 予定 as a meeting's state (scheduled), from the one label table.
        self.status.choices = choices({s.value: label(s) for s in SessionStatus})

    def validate_date(self, field: StringField) -> None:
        parse_dated(self.precision.data, field.data, self.fy)

    def validate_end(self, field: ClockField) -> None:
        if field.data and (not self.start.data or field.data <= self.start.data):
            raise ValidationError(_("終了時刻は開始時刻より後にしてください。"))

    def values(self) -> dict[str, Any]:
        """The session as ``operations.save_session`` takes it (after validation): a time only
        for an exact day."""
        precision = Precision(self.precision.data)
        day = parse_dated(self.precision.data, self.date.data, self.fy)
        start: time | None = self.start.data
        timed = precision is Precision.DAY and day is not None and start is not None
        return {
            "number": self.number.data, "title": (self.title.data or "").strip(), "precision": precision,
            "date_on": day,
            "starts_at": local_datetime(day, start) if timed and day and start else None,
            "ends_at": local_datetime(day, self.end.data) if timed and day and self.end.data else None,
            "join_url": (self.join_url.data or "").strip() or None, "status": SessionStatus(self.status.data),
        }

    @classmethod
    def from_model(cls, session: SubcommitteeSession) -> SessionForm:
        day = session.date_on
        return cls(fiscal_year=session.subcommittee.fiscal_year, data={
            "number": session.number, "title": session.title, "precision": session.precision.value,
            "date": "" if day is None else day.isoformat() if session.precision is Precision.DAY else f"{day:%Y-%m}",
            "start": session.start_time,
            "end": session.end_time,
            "join_url": session.join_url, "status": session.status.value,
        })


class MilestoneForm(Form):
    id_prefix = "milestone"
    title = StringField(_l("マイルストーン"), validators=[DataRequired(REQUIRED), Length(max=300)])
    due = DayField(_l("期日（例: 2027/3/9）"))
    quarter = SelectField(_l("または四半期の末日"), default="0", choices=choices({
        "0": _l("（期日で指定）"), "1": _l("4-6月"), "2": _l("7-9月"), "3": _l("10-12月"), "4": _l("1-3月")}))

    def __init__(self, *args: Any, fiscal_year: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fy = fiscal_year

    def validate_due(self, field: DayField) -> None:
        if field.data is None and not field.errors and self.quarter.data == "0":
            raise ValidationError(_("期日か四半期を指定してください。"))

    def values(self) -> dict[str, Any]:
        """Due on the day given, else on the last day of the chosen quarter of the fiscal year."""
        due_on: date | None = self.due.data
        if due_on is None:
            due_on = quarter_bounds(self.fy, int(self.quarter.data))[1]
        return {"title": (self.title.data or "").strip(), "due_on": due_on}


class DoneForm(Form):
    # Asked, never assumed: the field starts at today, and an empty one is refused.
    done_on = DayField(_l("完了日"), default=today_local,  # type: ignore[arg-type]  # a date: DayField.data
                       validators=[InputRequired(_l("完了日を入力してください（例: 2027/3/9）。"))])
