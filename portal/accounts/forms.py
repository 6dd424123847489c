"""Account forms (Flask-WTF: every one carries the CSRF token)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from portal.accounts.models import AccountState, Membership, OrganizationKind, Role
from portal.accounts.operations import MIN_PASSWORD_LENGTH
from portal.core.labels import labels_of
from portal.web.forms import Form, choices

# The one label table names them; the order is the order the select offers them.
KIND_LABELS = labels_of(OrganizationKind)
MEMBERSHIP_LABELS = labels_of(Membership)
ROLE_LABELS = labels_of([Role.MEMBER, Role.OBSERVER, Role.SECRETARIAT])
REQUIRED = _l("入力してください。")
TOO_SHORT = _l("%(min)s文字以上で入力してください。", min=MIN_PASSWORD_LENGTH)
MISMATCH = _l("パスワードが一致しません。")


def new_password(label: Any) -> PasswordField:
    """A password being chosen (sign-up, reset): the one length rule, its messages."""
    return PasswordField(label, validators=[
        DataRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, max=200, message=TOO_SHORT)])


def password_confirmation(label: Any) -> PasswordField:
    """The chosen password typed again, beside ``password``."""
    return PasswordField(label, validators=[DataRequired(REQUIRED), EqualTo("password", MISMATCH)])


class LoginForm(Form):
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("パスワード"), validators=[DataRequired(REQUIRED), Length(max=200)])


class SignupForm(Form):
    name = StringField(_l("氏名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    email = EmailField(
        _l("メールアドレス"),
        validators=[DataRequired(REQUIRED),
                    Email(_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
                    Length(max=254)],
    )
    organization = StringField(_l("所属団体名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    organization_kind = SelectField(_l("団体の種別"), choices=choices(KIND_LABELS), validators=[DataRequired(REQUIRED)])
    membership = SelectField(_l("会員区分"), choices=choices(MEMBERSHIP_LABELS), validators=[DataRequired(REQUIRED)])
    password = new_password(_l("パスワード（%(min)s文字以上）", min=MIN_PASSWORD_LENGTH))
    password_confirm = password_confirmation(_l("パスワード（確認）"))


class PasswordResetRequestForm(Form):
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(REQUIRED), Length(max=254)])


class PasswordResetForm(Form):
    password = new_password(_l("新しいパスワード（%(min)s文字以上）", min=MIN_PASSWORD_LENGTH))
    password_confirm = password_confirmation(_l("新しいパスワード（確認）"))


class PasswordChangeForm(Form):
    current_password = PasswordField(_l("現在のパスワード"), validators=[DataRequired(REQUIRED), Length(max=200)])
    password = new_password(_l("新しいパスワード（%(min)s文字以上）", min=MIN_PASSWORD_LENGTH))
    password_confirm = password_confirmation(_l("新しいパスワード（確認）"))


class CodeForm(Form):
    code = StringField(_l("確認コード（認証アプリの6桁、またはリカバリーコード）"),
                       validators=[DataRequired(REQUIRED), Length(max=20)])


# Back office ---------------------------------------------------------------------------------

class ApproveForm(Form):
    role = SelectField(_l("ロール"), choices=choices(ROLE_LABELS))


class RejectForm(Form):
    reason = TextAreaField(_l("理由（申請者へのメールに記載）"), validators=[Length(max=2000)])


class RoleForm(Form):
    role = SelectField(_l("ロール"), choices=choices(ROLE_LABELS))


class StateForm(Form):
    """Deactivate or reactivate (the other states are decisions on an application)."""

    state = SelectField(choices=choices(labels_of([AccountState.ACTIVE, AccountState.DEACTIVATED])))
