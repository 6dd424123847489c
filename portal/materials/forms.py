"""Upload form for materials."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional

from portal.web.forms import Form


class MaterialForm(Form):
    id_prefix = "material"
    title = StringField(_l("資料名（空欄ならファイル名）"), validators=[Optional(), Length(max=300)])
    file = FileField(_l("ファイル（PDF・PPTX・XLSX・DOCX）"),
                     validators=[FileRequired(_l("ファイルを選んでください。"))])
    program_item_id = SelectField(_l("プログラム項目（任意）"), coerce=int, choices=[], validate_choice=False)
    public = BooleanField(_l("一般公開する（チェックなしは会員・オブザーバーのみ）"))
