"""Subcommittee forms: the proposal (every section of the seed's form) and the lead's plan."""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.dates import Precision
from portal.forms import BoundedIntegerField, parse_dated, year_ok
from portal.seminars.forms import PRECISION_LABELS
from portal.subcommittees.models import TARGET_FIELDS

REQUIRED = "入力してください。"


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ProposalForm(FlaskForm):
    name = StringField("分科会名", validators=[DataRequired(REQUIRED), Length(max=200)])
    fiscal_year = BoundedIntegerField("年度", validators=[DataRequired(REQUIRED), NumberRange(2000, 2100, "年度を入力してください。")])
    purpose = TextAreaField("分科会の目的", validators=[DataRequired(REQUIRED), Length(max=5000)])
    main_theme = TextAreaField("活動のメインテーマ", validators=[Optional(), Length(max=5000)])
    issues = TextAreaField("解決したい課題（1行に1項目）", validators=[DataRequired(REQUIRED), Length(max=5000)])
    # No Optional() on fields with validate_* methods: it would stop the chain before them.
    activities = TextAreaField("活動内容（1行に1項目: 活動1 / 内容 / 開始月 YYYY-MM / 終了月 YYYY-MM）", validators=[Length(max=5000)])
    outcomes = TextAreaField("期待される成果（1行に1項目）", validators=[DataRequired(REQUIRED), Length(max=5000)])
    fields = MultiCheckboxField("対象分野", choices=list(TARGET_FIELDS))
    fields_other = StringField("その他の分野", validators=[Length(max=200)])
    contacts = TextAreaField("連絡窓口（1行に1名: 氏名 / 所属 / 部署 / メール）", validators=[Length(max=3000)])

    def validate_fields(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError("対象分野を1つ以上選んでください。")

    def validate_fields_other(self, field: StringField) -> None:
        if "その他" in (self.fields.data or []) and not (field.data or "").strip():
            raise ValidationError("「その他」を選んだときは分野を入力してください。")

    def validate_activities(self, field: TextAreaField) -> None:
        self.parsed_activities = []
        for n, line in enumerate(text for text in (field.data or "").splitlines() if text.strip()):
            parts = [p.strip() for p in line.replace("／", "/").split("/")]
            label, title = [*parts, "", ""][:2]
            months = []
            for month in parts[2:4]:
                if not re.fullmatch(r"\d{4}-\d{2}", month or "") or not year_ok(int(month[:4])) \
                        or not 1 <= int(month[5:7]) <= 12:
                    raise ValidationError(f"{n + 1}行目: 開始月・終了月は YYYY-MM で入力してください。")
                months.append(date(int(month[:4]), int(month[5:7]), 1))
            if len(months) > 1:  # an activity runs to the end of its last month
                last = months[1]
                months[1] = date(last.year + last.month // 12, last.month % 12 + 1, 1) - timedelta(days=1)
            if not title:
                raise ValidationError(f"{n + 1}行目: 活動の内容を入力してください。")
            if len(label) > 50 or len(title) > 300:
                raise ValidationError(f"{n + 1}行目: 見出しは50文字、内容は300文字以内で入力してください。")
            self.parsed_activities.append({"label": label or f"活動{n + 1}", "title": title,
                                           "starts_on": months[0] if months else None,
                                           "ends_on": months[1] if len(months) > 1 else None})

    def validate_contacts(self, field: TextAreaField) -> None:
        self.parsed_contacts = []
        for n, line in enumerate(text for text in (field.data or "").splitlines() if text.strip()):
            parts = [p.strip() or None for p in line.replace("／", "/").split("/")] + [None] * 4
            name, org, dept, email = parts[:4]
            if not name:
                raise ValidationError(f"{n + 1}行目: 氏名を入力してください。")
            if any(part and len(part) > 200 for part in (name, org, dept)) or (email and len(email) > 254):
                raise ValidationError(f"{n + 1}行目: 長すぎる項目があります（各200文字、メールは254文字まで）。")
            if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ValidationError(f"{n + 1}行目: メールアドレスの形式が正しくありません。")
            self.parsed_contacts.append({"name": name, "organization": org, "department": dept, "email": email})


class ReviewForm(FlaskForm):
    decision = SelectField("判断", choices={"approve": "承認する", "changes": "修正を依頼する", "reject": "却下する"})
    note = TextAreaField("提案者へのコメント（修正依頼では必須）", validators=[Optional(), Length(max=5000)])


class SessionForm(FlaskForm):
    number = BoundedIntegerField("回", validators=[DataRequired(REQUIRED), NumberRange(1, 99, "1以上の数を入力してください。")])
    title = StringField("テーマ", validators=[DataRequired(REQUIRED), Length(max=300)])
    precision = SelectField("時期の精度", choices=PRECISION_LABELS, default=Precision.MONTH.value)
    date = StringField("日付（YYYY-MM-DD）または月（YYYY-MM）", validators=[Length(max=10)])
    start = TimeField("開始時刻", validators=[Optional()])
    end = TimeField("終了時刻", validators=[Optional()])
    join_url = StringField("オンライン会議URL（メンバーのみに表示）", validators=[Optional(), URL(message="URLの形式が正しくありません。"), Length(max=500)])
    status = SelectField("状態", choices={"scheduled": "予定", "cancelled": "中止"}, default="scheduled")

    def __init__(self, *args, fiscal_year: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fy = fiscal_year
        self.parsed_date: date | None = None

    def validate_date(self, field: StringField) -> None:
        self.parsed_date = parse_dated(self.precision.data, field.data, self.fy)

    def validate_end(self, field: TimeField) -> None:
        if field.data and (not self.start.data or field.data <= self.start.data):
            raise ValidationError("終了時刻は開始時刻より後にしてください。")


class MilestoneForm(FlaskForm):
    title = StringField("マイルストーン", validators=[DataRequired(REQUIRED), Length(max=300)])
    due = StringField("期日（YYYY-MM-DD）", validators=[Length(max=10)])
    quarter = SelectField("または四半期の末日", choices={"0": "（期日で指定）", "1": "4-6月", "2": "7-9月", "3": "10-12月", "4": "1-3月"}, default="0")

    def validate_due(self, field: StringField) -> None:
        text = (field.data or "").strip()
        if not text and self.quarter.data == "0":
            raise ValidationError("期日か四半期を指定してください。")
        if text:
            try:
                self.parsed_due = date.fromisoformat(text)
                if not year_ok(self.parsed_due.year):
                    raise ValueError
            except ValueError:
                raise ValidationError("期日は YYYY-MM-DD で入力してください。") from None


class DoneForm(FlaskForm):
    done_on = StringField("完了日（空欄なら今日）", validators=[Length(max=10, message="完了日は YYYY-MM-DD で入力してください。")])

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
            raise ValidationError("完了日は YYYY-MM-DD で入力してください。") from None
