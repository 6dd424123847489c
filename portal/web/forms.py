"""Form pieces shared by every domain: fields that parse with the core's one parser."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar

from flask import abort
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, StringField, TextAreaField  # type: ignore[attr-defined]  # SelectChoice: WTForms 3.3, newer than its stubs
from wtforms.validators import ValidationError

from portal.core.dates import (
    Precision,
    format_day,
    format_moment,
    format_time,
    parse_clock,
    parse_day,
    parse_moment,
    parse_when,
)
from portal.core.errors import DomainError


class Form(FlaskForm):
    """The base of every form: a single-line field never takes a line break or another control
    character (a name with CR/LF would add lines to a mail's header or body)."""

    # Forms that share a page with others prefix their ids (material-title, session-title): a
    # repeated id leaves a control without its label (WCAG 1.3.1, 4.1.1). Names stay as they are.
    id_prefix: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.id_prefix:
            for name, field in self._fields.items():
                if name != "csrf_token":
                    field.id = f"{self.id_prefix}-{field.id}"
                    field.label.field_id = field.id
        # A page often carries several forms: their hidden CSRF inputs must not all be id="csrf_token".
        token = self._fields.get("csrf_token")
        if token is not None:
            token.render_kw = {"id": False}

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if (isinstance(field, StringField) and not isinstance(field, TextAreaField)
                    and isinstance(field.data, str) and any(ord(c) < 32 or ord(c) == 127 for c in field.data)):
                field.errors = [*field.errors, _("改行や制御文字は入力できません。")]
                valid = False
        return valid


class ActionForm(Form):
    """A button that only needs the CSRF token."""


F = TypeVar("F", bound=Form)


def submitted(form: F) -> F:
    """A back-office button's form, valid; otherwise the request was forged or tampered with
    (no CSRF token, a choice the page never offered): 400."""
    if not form.validate_on_submit():
        abort(400)
    return form


class BoundedIntegerField(IntegerField):
    """An integer field that refuses absurdly long input before any range check runs
    (WTForms' NumberRange would overflow converting a 400-digit number to float)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and isinstance(valuelist[0], str) and len(valuelist[0].strip()) > 9:
            self.data = None
            raise ValueError(_("数が大きすぎます。"))
        super().process_formdata(valuelist)


class _TypedField(StringField):
    """Text parsed by core.dates' one parser: ``data`` is the value (None when left empty); what
    was typed is shown again on a re-rendered form, with what it was understood as
    (``understood``); a bad value is this field's error."""

    understood: str = ""

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def show(self, value: Any) -> str:
        raise NotImplementedError

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if text:
            try:
                self.data = self.parse(text)
            except DomainError as exc:
                raise ValueError(str(exc)) from None
            self.understood = self.show(self.data)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return self.show(self.data) if self.data is not None else ""


class DayField(_TypedField):
    """A day typed as text (2027/3/9, ２０２７年３月９日, …); ``data`` is a ``date``. Shown again
    as typed, or as 2027-03-09."""

    data: date | None  # type: ignore[assignment]

    def parse(self, text: str) -> date:
        return parse_day(text)

    def show(self, value: date) -> str:
        return format_day(value)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return self.data.isoformat() if isinstance(self.data, date) else ""


class ClockField(_TypedField):
    """A wall-clock time typed as text (15:30, １５：３０, 15時30分); ``data`` is a ``time``. Shown as 15:30."""

    data: time | None  # type: ignore[assignment]

    def parse(self, text: str) -> time:
        return parse_clock(text)

    def show(self, value: time) -> str:
        return format_time(value)


class MomentField(_TypedField):
    """A day and a time typed as text (2027/3/9 10:00, ２０２７年３月９日 10時); ``data`` is an
    aware Asia/Tokyo ``datetime``. Shown as the portal writes it: 2027年3月9日（火） 10:00."""

    data: datetime | None  # type: ignore[assignment]

    def parse(self, text: str) -> datetime:
        return parse_moment(text)

    def show(self, value: datetime) -> str:
        return format_moment(value)


def choices(labels: Mapping[Any, Any]) -> list[SelectChoice]:
    """SelectField choices from ``{value: label}``. The labels are lazy strings (translated when
    the form is shown), which WTForms' dict shorthand would take for option groups."""
    return [SelectChoice(value, label) for value, label in labels.items()]


def parse_dated(precision_value: str, text: str | None, expected_fy: int | None = None) -> date | None:
    """The date of a form's "when" pair (precision select + text), through ``core.dates.parse_when``.

    None when undecided, or when the precision itself is invalid (that field reports its own
    error); ValidationError with the message to show next to the date otherwise.
    """
    if precision_value not in {p.value for p in Precision}:
        return None
    try:
        return parse_when(Precision(precision_value), text, expected_fy)
    except DomainError as exc:
        raise ValidationError(str(exc)) from None
