"""Account forms (Flask-WTF: every one carries the CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from portal.accounts.models import Membership, OrganizationKind
from portal.accounts.services import MIN_PASSWORD_LENGTH
from portal.web.forms import choices

KIND_LABELS = {
    OrganizationKind.MUNICIPALITY.value: _l("自治体"),
    OrganizationKind.MINISTRY.value: _l("府省庁"),
    OrganizationKind.COMPANY.value: _l("企業"),
    OrganizationKind.UNIVERSITY.value: _l("大学・研究機関"),
    OrganizationKind.OTHER.value: _l("その他"),
}
MEMBERSHIP_LABELS = {Membership.MEMBER.value: _l("会員"), Membership.OBSERVER.value: _l("オブザーバー")}
REQUIRED = _l("入力してください。")
TOO_SHORT = _l("%(min)s文字以上で入力してください。", min=MIN_PASSWORD_LENGTH)
MISMATCH = _l("パスワードが一致しません。")


class LoginForm(FlaskForm):
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("パスワード"), validators=[DataRequired(REQUIRED), Length(max=200)])


class SignupForm(FlaskForm):
    name = StringField(_l("氏名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    email = EmailField(
        _l("メールアドレス"),
        validators=[DataRequired(REQUIRED), Email(_l("メールアドレスの形式が正しくありません。"), check_deliverability=False), Length(max=254)],
    )
    organization = StringField(_l("所属団体名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    organization_kind = SelectField(_l("団体の種別"), choices=choices(KIND_LABELS), validators=[DataRequired(REQUIRED)])
    membership = SelectField(_l("会員区分"), choices=choices(MEMBERSHIP_LABELS), validators=[DataRequired(REQUIRED)])
    password = PasswordField(
        _l("パスワード（%(min)s文字以上）", min=MIN_PASSWORD_LENGTH),
        validators=[DataRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, max=200, message=TOO_SHORT)],
    )
    password_confirm = PasswordField(
        _l("パスワード（確認）"),
        validators=[DataRequired(REQUIRED), EqualTo("password", MISMATCH)],
    )


class PasswordResetRequestForm(FlaskForm):
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(REQUIRED), Length(max=254)])


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("新しいパスワード（%(min)s文字以上）", min=MIN_PASSWORD_LENGTH),
        validators=[DataRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, max=200, message=TOO_SHORT)],
    )
    password_confirm = PasswordField(
        _l("新しいパスワード（確認）"),
        validators=[DataRequired(REQUIRED), EqualTo("password", MISMATCH)],
    )


class CodeForm(FlaskForm):
    code = StringField(_l("確認コード（認証アプリの6桁、またはリカバリーコード）"),
                       validators=[DataRequired(REQUIRED), Length(max=20)])
