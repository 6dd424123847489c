"""Back-office forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length

from portal.accounts.models import Role

ROLE_LABELS = {Role.MEMBER.value: "会員", Role.OBSERVER.value: "オブザーバー", Role.SECRETARIAT.value: "事務局"}


class ApproveForm(FlaskForm):
    role = SelectField("ロール", choices=ROLE_LABELS)


class RejectForm(FlaskForm):
    reason = TextAreaField("理由（申請者へのメールに記載）", validators=[Length(max=2000)])


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""
