"""Account forms (Flask-WTF: every one carries the CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from portal.accounts.models import Membership, OrganizationKind
from portal.accounts.services import MIN_PASSWORD_LENGTH

KIND_LABELS = {
    OrganizationKind.MUNICIPALITY.value: "自治体",
    OrganizationKind.MINISTRY.value: "府省庁",
    OrganizationKind.COMPANY.value: "企業",
    OrganizationKind.UNIVERSITY.value: "大学・研究機関",
    OrganizationKind.OTHER.value: "その他",
}
MEMBERSHIP_LABELS = {Membership.MEMBER.value: "会員", Membership.OBSERVER.value: "オブザーバー"}
REQUIRED = "入力してください。"


class LoginForm(FlaskForm):
    email = EmailField("メールアドレス", validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField("パスワード", validators=[DataRequired(REQUIRED), Length(max=200)])


class SignupForm(FlaskForm):
    name = StringField("氏名", validators=[DataRequired(REQUIRED), Length(max=200)])
    email = EmailField(
        "メールアドレス",
        validators=[DataRequired(REQUIRED), Email("メールアドレスの形式が正しくありません。", check_deliverability=False), Length(max=254)],
    )
    organization = StringField("所属団体名", validators=[DataRequired(REQUIRED), Length(max=200)])
    organization_kind = SelectField("団体の種別", choices=KIND_LABELS, validators=[DataRequired(REQUIRED)])
    membership = SelectField("会員区分", choices=MEMBERSHIP_LABELS, validators=[DataRequired(REQUIRED)])
    password = PasswordField(
        f"パスワード（{MIN_PASSWORD_LENGTH}文字以上）",
        validators=[DataRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, max=200, message=f"{MIN_PASSWORD_LENGTH}文字以上で入力してください。")],
    )
    password_confirm = PasswordField(
        "パスワード（確認）",
        validators=[DataRequired(REQUIRED), EqualTo("password", "パスワードが一致しません。")],
    )


class PasswordResetRequestForm(FlaskForm):
    email = EmailField("メールアドレス", validators=[DataRequired(REQUIRED), Length(max=254)])


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        f"新しいパスワード（{MIN_PASSWORD_LENGTH}文字以上）",
        validators=[DataRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, max=200, message=f"{MIN_PASSWORD_LENGTH}文字以上で入力してください。")],
    )
    password_confirm = PasswordField(
        "新しいパスワード（確認）",
        validators=[DataRequired(REQUIRED), EqualTo("password", "パスワードが一致しません。")],
    )


class CodeForm(FlaskForm):
    code = StringField("確認コード（認証アプリの6桁、またはリカバリーコード）",
                       validators=[DataRequired(REQUIRED), Length(max=20)])
