from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.announcements.models import Segment
from portal.core.labels import labels_of
from portal.web.forms import DayField, Form, choices


class AnnouncementForm(Form):
    id_prefix = "announcement"
    segment = RadioField(_l("送信先"), choices=choices(labels_of(Segment)), default=Segment.ALL_MEMBERS.value)
    subcommittee = SelectField(_l("分科会（送信先が分科会のとき）"), coerce=str, validators=[Optional()])
    subject = StringField(_l("件名"), validators=[DataRequired(_l("入力してください。")), Length(max=300)])
    body = TextAreaField(_l("本文"), validators=[DataRequired(_l("入力してください。")), Length(max=20000)])
    send_day = DayField(_l("送信日（空欄なら今すぐ）"))
    send_time = StringField(_l("送信時刻（例 09:00）"), validators=[
        Optional(), Regexp(r"^([01]?\d|2[0-3]):[0-5]\d$", message=_l("時刻は 09:00 の形で入力してください。"))])
    expected = HiddenField()
