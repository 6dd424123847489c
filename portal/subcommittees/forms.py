"""Subcommittee forms: the proposal (every section of the seed's form) and the lead's plan."""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.core.dates import Precision, year_ok
from portal.seminars.forms import PRECISION_LABELS
from portal.subcommittees.models import TARGET_FIELDS
from portal.web.forms import BoundedIntegerField, choices, parse_dated

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


class ProposalForm(FlaskForm):
    name = StringField(_l("分科会名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    fiscal_year = BoundedIntegerField(_l("年度"), validators=[DataRequired(REQUIRED), NumberRange(2000, 2100, _l("年度を入力してください。"))])
    purpose = TextAreaField(_l("分科会の目的"), validators=[DataRequired(REQUIRED), Length(max=5000)])
    main_theme = TextAreaField(_l("活動のメインテーマ"), validators=[Optional(), Length(max=5000)])
    issues = TextAreaField(_l("解決したい課題（1行に1項目）"), validators=[DataRequired(REQUIRED), Length(max=5000)])
    # No Optional() on fields with validate_* methods: it would stop the chain before them.
    activities = TextAreaField(_l("活動内容（1行に1項目: 活動1 / 内容 / 開始月 YYYY-MM / 終了月 YYYY-MM）"), validators=[Length(max=5000)])
    outcomes = TextAreaField(_l("期待される成果（1行に1項目）"), validators=[DataRequired(REQUIRED), Length(max=5000)])
    fields = MultiCheckboxField(_l("対象分野"), choices=choices({f: FIELD_LABELS.get(f, f) for f in TARGET_FIELDS}))
    fields_other = StringField(_l("その他の分野"), validators=[Length(max=200)])
    contacts = TextAreaField(_l("連絡窓口（1行に1名: 氏名 / 所属 / 部署 / メール）"), validators=[Length(max=3000)])

    def validate_fields(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError(_("対象分野を1つ以上選んでください。"))

    def validate_fields_other(self, field: StringField) -> None:
        if "その他" in (self.fields.data or []) and not (field.data or "").strip():
            raise ValidationError(_("「その他」を選んだときは分野を入力してください。"))

    def validate_activities(self, field: TextAreaField) -> None:
        self.parsed_activities = []
        for n, line in enumerate(text for text in (field.data or "").splitlines() if text.strip()):
            parts = [p.strip() for p in line.replace("／", "/").split("/")]
            label, title = [*parts, "", ""][:2]
            months = []
            for month in parts[2:4]:
                if not re.fullmatch(r"\d{4}-\d{2}", month or "") or not year_ok(int(month[:4])) \
                        or not 1 <= int(month[5:7]) <= 12:
                    raise ValidationError(_("%(line)s行目: 開始月・終了月は YYYY-MM で入力してください。", line=n + 1))
                months.append(date(int(month[:4]), int(month[5:7]), 1))
            if len(months) > 1:  # an activity runs to the end of its last month
                last = months[1]
                months[1] = date(last.year + last.month // 12, last.month % 12 + 1, 1) - timedelta(days=1)
            if not title:
                raise ValidationError(_("%(line)s行目: 活動の内容を入力してください。", line=n + 1))
            if len(label) > 50 or len(title) > 300:
                raise ValidationError(_("%(line)s行目: 見出しは50文字、内容は300文字以内で入力してください。", line=n + 1))
            self.parsed_activities.append({"label": label or f"活動{n + 1}", "title": title,
                                           "starts_on": months[0] if months else None,
                                           "ends_on": months[1] if len(months) > 1 else None})

    def validate_contacts(self, field: TextAreaField) -> None:
        self.parsed_contacts = []
        for n, line in enumerate(text for text in (field.data or "").splitlines() if text.strip()):
            parts = [p.strip() or None for p in line.replace("／", "/").split("/")] + [None] * 4
            name, org, dept, email = parts[:4]
            if not name:
                raise ValidationError(_("%(line)s行目: 氏名を入力してください。", line=n + 1))
            if any(part and len(part) > 200 for part in (name, org, dept)) or (email and len(email) > 254):
                raise ValidationError(_("%(line)s行目: 長すぎる項目があります（各200文字、メールは254文字まで）。", line=n + 1))
            if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ValidationError(_("%(line)s行目: メールアドレスの形式が正しくありません。", line=n + 1))
            self.parsed_contacts.append({"name": name, "organization": org, "department": dept, "email": email})


class ReviewForm(FlaskForm):
    decision = SelectField(_l("判断"), choices=choices({"approve": _l("承認する"), "changes": _l("修正を依頼する"), "reject": _l("却下する")}))
    note = TextAreaField(_l("提案者へのコメント（修正依頼では必須）"), validators=[Optional(), Length(max=5000)])


class SessionForm(FlaskForm):
    number = BoundedIntegerField(_l("回"), validators=[DataRequired(REQUIRED), NumberRange(1, 99, _l("1以上の数を入力してください。"))])
    title = StringField(_l("テーマ"), validators=[DataRequired(REQUIRED), Length(max=300)])
    precision = SelectField(_l("時期の精度"), choices=choices(PRECISION_LABELS), default=Precision.MONTH.value)
    date = StringField(_l("日付（YYYY-MM-DD）または月（YYYY-MM）"), validators=[Length(max=10)])
    start = TimeField(_l("開始時刻"), validators=[Optional()])
    end = TimeField(_l("終了時刻"), validators=[Optional()])
    join_url = StringField(_l("オンライン会議URL（メンバーのみに表示）"), validators=[Optional(), URL(message=_l("URLの形式が正しくありません。")), Length(max=500)])
    status = SelectField(_l("状態"), choices=choices({"scheduled": "予定", "cancelled": "中止"}), default="scheduled")

    def __init__(self, *args, fiscal_year: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fy = fiscal_year
        self.parsed_date: date | None = None
        # 予定 as a meeting's state (scheduled), not a seminar's tentative date (same Japanese word).
        self.status.choices = choices({"scheduled": pgettext("meeting status", "予定"), "cancelled": _("中止")})

    def validate_date(self, field: StringField) -> None:
        self.parsed_date = parse_dated(self.precision.data, field.data, self.fy)

    def validate_end(self, field: TimeField) -> None:
        if field.data and (not self.start.data or field.data <= self.start.data):
            raise ValidationError(_("終了時刻は開始時刻より後にしてください。"))


class MilestoneForm(FlaskForm):
    title = StringField(_l("マイルストーン"), validators=[DataRequired(REQUIRED), Length(max=300)])
    due = StringField(_l("期日（YYYY-MM-DD）"), validators=[Length(max=10)])
    quarter = SelectField(_l("または四半期の末日"), choices=choices({"0": _l("（期日で指定）"), "1": _l("4-6月"), "2": _l("7-9月"), "3": _l("10-12月"), "4": _l("1-3月")}), default="0")

    def validate_due(self, field: StringField) -> None:
        text = (field.data or "").strip()
        if not text and self.quarter.data == "0":
            raise ValidationError(_("期日か四半期を指定してください。"))
        if text:
            try:
                self.parsed_due = date.fromisoformat(text)
                if not year_ok(self.parsed_due.year):
                    raise ValueError
            except ValueError:
                raise ValidationError(_("期日は YYYY-MM-DD で入力してください。")) from None


class DoneForm(FlaskForm):
    done_on = StringField(_l("完了日（空欄なら今日）"), validators=[Length(max=10, message=_l("完了日は YYYY-MM-DD で入力してください。"))])

    def validate_done_on(self, field: StringField) -> None:
        self.parsed_done_on: date | None = None
        text = (field.data or "").strip()
        if not text:
            return
        try:
            self.parsed_done_on = date.fromisoformat(text)
            if not year_ok(self.parsed_done_on.year):
                raise ValueError
        except ValueError:
            raise ValidationError(_("完了日は YYYY-MM-DD で入力してください。")) from None
