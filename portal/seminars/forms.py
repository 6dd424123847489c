"""Seminar forms: registration buttons and the secretariat's editors."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import URL, DataRequired, Email, Length, NumberRange, Optional, ValidationError

from portal.core.dates import MAX_YEAR, MIN_YEAR, Precision, fiscal_year, year_ok
from portal.seminars import services
from portal.web.forms import BoundedIntegerField, choices, parse_dated

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


class RegistrationForm(FlaskForm):
    """Register / cancel buttons: only the CSRF token."""


class SeriesForm(FlaskForm):
    name = StringField(_l("シリーズ名"), validators=[DataRequired(REQUIRED), Length(max=200)],
                       default="官民連携プラットフォーム オンラインセミナー")
    fiscal_year = BoundedIntegerField(_l("年度"), validators=[DataRequired(REQUIRED), NumberRange(2000, 2100, _l("2000〜2100 の年度を入力してください。"))])
    description = TextAreaField(_l("説明（1行に1項目）"), validators=[Optional(), Length(max=5000)])


class SeminarForm(FlaskForm):
    series_id = SelectField(_l("シリーズ・年度"), coerce=int)
    number = BoundedIntegerField(_l("回数"), validators=[Optional(), NumberRange(1, 999, _l("1以上の数を入力してください。"))])
    title = StringField(_l("テーマ（空欄なら「予定」）"), validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("説明"), validators=[Optional(), Length(max=5000)])
    precision = SelectField(_l("時期の精度"), choices=choices(PRECISION_LABELS), default=Precision.DAY.value)
    date = StringField(_l("日付（YYYY-MM-DD）または月（YYYY-MM）"), validators=[Length(max=10)])
    start = TimeField(_l("開始時刻"), validators=[Optional()])
    end = TimeField(_l("終了時刻"), validators=[Optional()])
    status = SelectField(_l("状態"), choices=choices(STATUS_LABELS), default="draft")
    capacity = BoundedIntegerField(_l("定員（空欄なら制限なし）"), validators=[Optional(), NumberRange(1, 100000, _l("1以上の数を入力してください。"))])
    registration_open = BooleanField(_l("参加申込を受け付ける"))
    registration_opens_at = DateTimeLocalField(_l("受付開始（任意）"), validators=[Optional()])
    registration_closes_at = DateTimeLocalField(_l("受付締切（任意）"), validators=[Optional()])
    join_url = StringField(_l("参加用リンク（オンライン会議URL）"), validators=[Optional(), URL(message=_l("URLの形式が正しくありません。")), Length(max=500)])
    mailbox = StringField(_l("質問の送付先メール（空欄なら事務局アドレス）"), validators=[Optional(), Email(_l("メールアドレスの形式が正しくありません。"), check_deliverability=False), Length(max=254)])

    def __init__(self, *args, series_years: dict[int, int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.series_years = series_years or {}
        self.parsed_date: date | None = None

    def validate_date(self, field: StringField) -> None:
        self.parsed_date = parse_dated(self.precision.data, field.data, self.series_years.get(self.series_id.data))

    def validate_start(self, field: TimeField) -> None:
        if field.data and self.precision.data != Precision.DAY.value:
            raise ValidationError(_("時刻は日付が確定しているときだけ指定できます。"))

    def validate_end(self, field: TimeField) -> None:
        if field.data and not self.start.data:
            raise ValidationError(_("終了時刻には開始時刻が必要です。"))
        if field.data and self.start.data and field.data <= self.start.data:
            raise ValidationError(_("終了時刻は開始時刻より後にしてください。"))

    def validate_registration_opens_at(self, field: DateTimeLocalField) -> None:
        if field.data and not year_ok(field.data.year):
            raise ValidationError(_("%(min)s年から%(max)s年の日時を入力してください。", min=MIN_YEAR, max=MAX_YEAR))

    def validate_registration_closes_at(self, field: DateTimeLocalField) -> None:
        if field.data and not year_ok(field.data.year):
            raise ValidationError(_("%(min)s年から%(max)s年の日時を入力してください。", min=MIN_YEAR, max=MAX_YEAR))
        if field.data and self.registration_opens_at.data and field.data <= self.registration_opens_at.data:
            raise ValidationError(_("受付締切は受付開始より後にしてください。"))


class GenerateForm(FlaskForm):
    first_date = StringField(_l("初回の日付（YYYY-MM-DD）"), validators=[DataRequired(REQUIRED)])
    count = BoundedIntegerField(_l("回数"), default=6, validators=[DataRequired(REQUIRED), NumberRange(1, 12, _l("1〜12回で指定してください。"))])
    start = TimeField(_l("開始時刻"), validators=[Optional()])
    end = TimeField(_l("終了時刻"), validators=[Optional()])

    def __init__(self, *args, fiscal_year: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fiscal_year = fiscal_year
        # 回数 here is how many seminars to create, not a seminar's number (same Japanese word).
        self.count.label.text = pgettext("how many seminars to create", "回数")

    def validate_first_date(self, field: StringField) -> None:
        try:
            self.parsed = date.fromisoformat((field.data or "").strip())
            if not year_ok(self.parsed.year):
                raise ValueError
        except ValueError:
            raise ValidationError(_("日付の形式が正しくありません（例: %(example)s）。", example="2021-08-03")) from None
        if self.fiscal_year is not None and fiscal_year(self.parsed) != self.fiscal_year:
            raise ValidationError(_("初回の日付は%(fy)s年度（%(fy)s年4月〜%(next)s年3月）の日付にしてください。",
                                    fy=self.fiscal_year, next=self.fiscal_year + 1))

    def validate_count(self, field: BoundedIntegerField) -> None:
        # Every draft stays inside the series' fiscal year (the last one by 31 March).
        if self.fiscal_year is None or field.data is None or not hasattr(self, "parsed"):
            return
        months_left = (self.fiscal_year + 1 - self.parsed.year) * 12 + 3 - self.parsed.month
        fits = months_left // 2 + 1
        if field.data > fits:
            raise ValidationError(_("年度内に収まるのは%(fits)s回までです。", fits=fits))

    def validate_end(self, field: TimeField) -> None:
        if field.data and (not self.start.data or field.data <= self.start.data):
            raise ValidationError(_("終了時刻は開始時刻より後にしてください。"))


class ProgramItemForm(FlaskForm):
    start_time = TimeField(_l("開始時刻"), validators=[Optional()])
    title = StringField(_l("タイトル"), validators=[DataRequired(REQUIRED), Length(max=300)])
    points = TextAreaField(_l("内容（1行に1項目）"), validators=[Optional(), Length(max=5000)])
    notes = TextAreaField(_l("注記（※、1行に1項目）"), validators=[Optional(), Length(max=2000)])
    presenters = TextAreaField(
        _l("発表者（1行に1件: 組織 / 部署 / 氏名。内容の項目ごとの発表者は先頭に項目番号: 「1: 総務省 / サイバーセキュリティ統括官室」）"),
        validators=[Optional(), Length(max=5000)],
    )

    def validate_presenters(self, field: TextAreaField) -> None:
        points = len(services.lines(self.points.data))
        for n, line in enumerate((field.data or "").splitlines()):
            if any(len(part.strip()) > 200 for part in line.replace("／", "/").split("/")):
                raise ValidationError(_("%(line)s行目: 組織・部署・氏名はそれぞれ200文字以内で入力してください。", line=n + 1))
            if any(p.point is not None and not 0 <= p.point < points for p in services.parse_presenters(line)):
                raise ValidationError(_("%(line)s行目: 項目番号は内容の行数（%(points)s行）以内で指定してください。",
                                        line=n + 1, points=points))


class MailRegistrantsForm(FlaskForm):
    subject = StringField(_l("件名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    body = TextAreaField(_l("本文"), validators=[DataRequired(REQUIRED), Length(max=20000)])
