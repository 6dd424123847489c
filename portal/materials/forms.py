"""Upload form for materials."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional


class MaterialForm(FlaskForm):
    title = StringField("資料名（空欄ならファイル名）", validators=[Optional(), Length(max=300)])
    file = FileField("ファイル（PDF・PPTX・XLSX・DOCX）", validators=[FileRequired("ファイルを選んでください。")])
    program_item_id = SelectField("プログラム項目（任意）", coerce=int, choices=[], validate_choice=False)
    public = BooleanField("一般公開する（チェックなしは会員・オブザーバーのみ）")
