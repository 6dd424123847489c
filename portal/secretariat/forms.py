"""Back-office forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length

from portal.accounts.models import Role
from portal.web.forms import choices

ROLE_LABELS = {Role.MEMBER.value: _l("会員"), Role.OBSERVER.value: _l("オブザーバー"), Role.SECRETARIAT.value: _l("事務局")}


class ApproveForm(FlaskForm):
    role = SelectField(_l("ロール"), choices=choices(ROLE_LABELS))


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("理由（申請者へのメールに記載）"), validators=[Length(max=2000)])


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""
