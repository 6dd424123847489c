"""Form pieces shared by every domain."""

from __future__ import annotations

from wtforms import IntegerField

# Dates the portal accepts anywhere (forms and imports): keeps calendars and labels sane.
MIN_YEAR, MAX_YEAR = 2000, 2100


class BoundedIntegerField(IntegerField):
    """An integer field that refuses absurdly long input before any range check runs
    (WTForms' NumberRange would overflow converting a 400-digit number to float)."""

    def process_formdata(self, valuelist: list) -> None:
        if valuelist and isinstance(valuelist[0], str) and len(valuelist[0].strip()) > 9:
            self.data = None
            raise ValueError("数が大きすぎます。")
        super().process_formdata(valuelist)


def year_ok(year: int) -> bool:
    return MIN_YEAR <= year <= MAX_YEAR
