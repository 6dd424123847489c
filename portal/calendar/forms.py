"""The personal feed's reminders form (/account)."""

from __future__ import annotations

from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from portal.calendar.reminders import CHOICES
from portal.web.forms import Form, choices


class RemindersForm(Form):
    alarms = SelectMultipleField(choices=choices(CHOICES), widget=ListWidget(prefix_label=False),
                                 option_widget=CheckboxInput(), validate_choice=True)
