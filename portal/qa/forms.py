"""Q&A forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.qa.models import BODY_MAX


class QuestionForm(FlaskForm):
    body = TextAreaField("質問", validators=[
        DataRequired("質問を入力してください。"),
        Length(max=BODY_MAX, message=f"質問は{BODY_MAX}文字以内で入力してください。"),
    ])
    program_item = SelectField("対象のプログラム・発表者（任意）", coerce=int, choices=[], validate_choice=False, default=0)
    anonymous = BooleanField("匿名で質問する（他の参加者には名前を表示しません。事務局には表示されます）")


class AnswerForm(FlaskForm):
    answer = TextAreaField("回答", validators=[DataRequired("回答を入力してください。"), Length(max=10000)])
    publish = BooleanField("セミナーのページにFAQとして掲載する")
