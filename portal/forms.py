"""Form pieces shared by every domain."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import gettext as _
from wtforms import IntegerField, SelectChoice
from wtforms.validators import ValidationError

from portal.dates import Precision, fiscal_year

# Dates the portal accepts anywhere (forms and imports): keeps calendars and labels sane.
MIN_YEAR, MAX_YEAR = 2000, 2100


class BoundedIntegerField(IntegerField):
    """An integer field that refuses absurdly long input before any range check runs
    (WTForms' NumberRange would overflow converting a 400-digit number to float)."""

    def process_formdata(self, valuelist: list) -> None:
        if valuelist and isinstance(valuelist[0], str) and len(valuelist[0].strip()) > 9:
            self.data = None
            raise ValueError(_("数が大きすぎます。"))
        super().process_formdata(valuelist)


def choices(labels: dict) -> list[SelectChoice]:
    """SelectField choices from ``{value: label}``. The labels are lazy strings (translated when
    the form is shown), which WTForms' dict shorthand would take for option groups."""
    return [SelectChoice(value, label) for value, label in labels.items()]


def year_ok(year: int) -> bool:
    return MIN_YEAR <= year <= MAX_YEAR


def parse_dated(precision_value: str, text: str | None, expected_fy: int | None = None) -> date | None:
    """The date of a "when" field pair (precision + YYYY-MM-DD or YYYY-MM), for every form.

    Returns None when undecided (or when the precision itself is invalid: that field reports
    its own error); raises ValidationError with the message to show next to the date.
    """
    if precision_value not in {p.value for p in Precision}:
        return None
    precision = Precision(precision_value)
    text = (text or "").strip()
    if precision is Precision.UNDECIDED:
        if text:
            raise ValidationError(_("時期が未定のときは日付を空欄にしてください。"))
        return None
    if not text:
        raise ValidationError(_("日付または月を入力してください。"))
    example = "2021-08-03" if precision is Precision.DAY else "2021-10"
    pattern = r"\d{4}-\d{2}-\d{2}" if precision is Precision.DAY else r"\d{4}-\d{2}(-\d{2})?"
    try:
        if not re.fullmatch(pattern, text):
            raise ValueError
        day = date.fromisoformat(text) if precision is Precision.DAY else date(int(text[:4]), int(text[5:7]), 1)
    except ValueError:
        raise ValidationError(_("日付の形式が正しくありません（例: %(example)s）。", example=example)) from None
    if not year_ok(day.year):
        raise ValidationError(_("%(min)s年から%(max)s年の日付を入力してください。", min=MIN_YEAR, max=MAX_YEAR))
    if expected_fy is not None and fiscal_year(day) != expected_fy:
        raise ValidationError(_("%(fy)s年度（%(fy)s年4月〜%(next)s年3月）の日付を入力してください。", fy=expected_fy, next=expected_fy + 1))
    return day
