"""Q&A forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.qa.models import BODY_MAX
from portal.web.forms import Form


class QuestionForm(Form):
    body = TextAreaField(_l("質問"), validators=[
        DataRequired(_l("質問を入力してください。")),
        Length(max=BODY_MAX, message=_l("質問は%(max)s文字以内で入力してください。", max=BODY_MAX)),
    ])
    program_item = SelectField(_l("対象のプログラム・発表者（任意）"), coerce=int, choices=[], validate_choice=False,
                               default=0)
    anonymous = BooleanField(_l("匿名で質問する（他の参加者には名前を表示しません。事務局には表示されます）"))


class AnswerForm(Form):
    answer = TextAreaField(_l("回答"), validators=[DataRequired(_l("回答を入力してください。")), Length(max=10000)])
    publish = BooleanField(_l("セミナーのページにFAQとして掲載する"))


class ApprovalForm(Form):
    """Approve-before-shown on (checked) or off, for the seminar's new questions."""

    required = BooleanField(_l("新しい質問を事務局の承認後に表示する"))
